package mock

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Faults make the token endpoint slow or unreliable. Each rate is a probability in [0, 1],
// rolled independently per request in this order: latency, 500/503 error, 429 rate limit,
// connection reset, truncated JSON. The zero value injects nothing.
type Faults struct {
	Latency       time.Duration // added to every token response
	LatencyJitter time.Duration // plus a uniform random extra in [0, LatencyJitter)
	ErrorRate     float64       // answer 500 or 503 (even odds) with a JSON error body
	RateLimitRate float64       // answer 429 with Retry-After
	RetryAfter    time.Duration // the Retry-After of a 429, rounded up to whole seconds (default 1s)
	ResetRate     float64       // reset the TCP connection without answering
	TruncateRate  float64       // send a success answer cut off halfway through its JSON
	// KeyRotateEvery rotates the signing key when a token request comes at least this long
	// (by the mock's clock, so Advance counts) after the last rotation; the new key is made in
	// the background while the old one keeps signing.
	KeyRotateEvery time.Duration
	// KeyRotateDropOld drops the previous keys at each rotation: the JWKS then holds only the
	// new key and earlier tokens fail at the sample API (a rotation without overlap).
	KeyRotateDropOld bool
}

// Validate reports the first field out of range.
func (f Faults) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", f.Latency}, {"latency-jitter", f.LatencyJitter}, {"retry-after", f.RetryAfter}, {"rotate-key-every", f.KeyRotateEvery}} {
		if d.v < 0 {
			return fmt.Errorf("fault %s %s: must not be negative", d.name, d.v)
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"error-rate", f.ErrorRate}, {"rate-limit-rate", f.RateLimitRate}, {"reset-rate", f.ResetRate}, {"truncate-rate", f.TruncateRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("fault %s %v: must be between 0 and 1", r.name, r.v)
		}
	}
	return nil
}

// active reports whether any per-request fault is on (key rotation is handled apart).
func (f Faults) active() bool {
	f.KeyRotateEvery, f.KeyRotateDropOld = 0, false
	return f != Faults{}
}

// maybeRotate starts a background key rotation when KeyRotateEvery has passed since the last.
func (s *Server) maybeRotate(f Faults) {
	now := s.clock.now().UnixNano()
	if now-s.lastRotate.Load() < int64(f.KeyRotateEvery) || !s.rotating.CompareAndSwap(false, true) {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.rotating.Store(false)
		if err := s.rotateKeyWith(!f.KeyRotateDropOld); err != nil {
			s.log.Error("key rotation failed", "err", err)
			return
		}
		s.lastRotate.Store(s.clock.now().UnixNano())
	}()
}

// faultsJSON is Faults on the wire and in config files: durations as Go duration strings.
type faultsJSON struct {
	Latency          string  `json:"latency,omitempty"`
	LatencyJitter    string  `json:"latency_jitter,omitempty"`
	ErrorRate        float64 `json:"error_rate,omitempty"`
	RateLimitRate    float64 `json:"rate_limit_rate,omitempty"`
	RetryAfter       string  `json:"retry_after,omitempty"`
	ResetRate        float64 `json:"reset_rate,omitempty"`
	TruncateRate     float64 `json:"truncate_rate,omitempty"`
	KeyRotateEvery   string  `json:"key_rotate_every,omitempty"`
	KeyRotateDropOld bool    `json:"key_rotate_drop_old,omitempty"`
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func parseDur(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like 150ms or 2s", field, s)
	}
	return d, nil
}

// MarshalJSON writes durations as strings ("150ms").
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{Latency: durString(f.Latency), LatencyJitter: durString(f.LatencyJitter),
		ErrorRate: f.ErrorRate, RateLimitRate: f.RateLimitRate, RetryAfter: durString(f.RetryAfter),
		ResetRate: f.ResetRate, TruncateRate: f.TruncateRate, KeyRotateEvery: durString(f.KeyRotateEvery),
		KeyRotateDropOld: f.KeyRotateDropOld})
}

// UnmarshalJSON reads durations as strings ("150ms") and rejects unknown fields.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	if err := decodeStrict(b, &j); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	var n Faults
	var err error
	if n.Latency, err = parseDur("latency", j.Latency); err != nil {
		return err
	}
	if n.LatencyJitter, err = parseDur("latency_jitter", j.LatencyJitter); err != nil {
		return err
	}
	if n.RetryAfter, err = parseDur("retry_after", j.RetryAfter); err != nil {
		return err
	}
	if n.KeyRotateEvery, err = parseDur("key_rotate_every", j.KeyRotateEvery); err != nil {
		return err
	}
	n.ErrorRate, n.RateLimitRate, n.ResetRate, n.TruncateRate = j.ErrorRate, j.RateLimitRate, j.ResetRate, j.TruncateRate
	n.KeyRotateDropOld = j.KeyRotateDropOld
	*f = n
	return nil
}

// faultOutcome is what the fault roll decided for one request.
type faultOutcome int

const (
	faultNone faultOutcome = iota
	faultAnswered
	faultTruncate
)

// applyFaults runs the faults before the token handler. It returns faultAnswered when it
// answered (or reset) the request itself, faultTruncate when the success answer must be cut.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, f Faults) faultOutcome {
	if d := f.Latency; d > 0 || f.LatencyJitter > 0 {
		if f.LatencyJitter > 0 {
			d += rand.N(f.LatencyJitter)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return faultAnswered
		}
	}
	if roll(f.ErrorRate) {
		status := http.StatusInternalServerError
		if rand.IntN(2) == 1 {
			status = http.StatusServiceUnavailable
		}
		s.metrics.rejection("token", "fault_error")
		writeJSONError(w, status, "server_error", "injected fault: the server failed")
		return faultAnswered
	}
	if roll(f.RateLimitRate) {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		secs := int64((ra + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		s.metrics.rejection("token", "fault_rate_limit")
		writeJSONError(w, http.StatusTooManyRequests, "temporarily_unavailable", "injected fault: rate limit exceeded")
		return faultAnswered
	}
	if roll(f.ResetRate) {
		s.metrics.rejection("token", "fault_reset")
		resetConnection(w)
		return faultAnswered
	}
	if roll(f.TruncateRate) {
		return faultTruncate
	}
	return faultNone
}

func roll(p float64) bool { return p > 0 && (p >= 1 || rand.Float64() < p) }

// resetConnection closes the client connection with a TCP RST and no answer.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn() // WithTLS: reset the TCP connection under it
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// writeTruncated sends half of body under a Content-Length for all of it, then aborts the
// connection, so the client sees a success status and a JSON document cut short.
func writeTruncated(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}
