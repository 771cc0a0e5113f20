package steps

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// Endpoints an exchange can go to.
const (
	toToken = "token"
	toAPI   = "api"
)

// breakerLimit is how many transport errors in a row mark the target down: after that no
// request is sent any more, so a target that never answers costs a few timeouts, not one per
// check.
const breakerLimit = 5

// storedBodyLimit is the most of a body kept in a transcript.
const storedBodyLimit = 64 << 10

// queuedBodyLimit is the largest answer whose transcript is written off the request's path: a
// larger one is written at once, so that the queue of transcripts never holds more than
// cap(jobs) small bodies (an answer may be as large as MaxBody).
const queuedBodyLimit = 16 << 10

// maxHeaderBytes bounds the header of an answer (Go's default is 10 MB).
const maxHeaderBytes = 1 << 20

var (
	// errTargetDown is the error of every request after the target stopped answering.
	errTargetDown = errors.New("not sent: the target stopped answering earlier requests")
	// errPlainHTTP refuses a request over plain HTTP to a host that is not loopback.
	errPlainHTTP = errors.New("refused by the harness: plain HTTP to a host that is not loopback would expose credentials (SEC-01)")
)

// request is what a step asks the recorder to send.
type request struct {
	to        string // toToken or toAPI
	method    string
	url       string
	header    http.Header // may hold a name twice (AUTH-16)
	body      []byte
	malformed bool // deliberately not a valid request (HTTP-07 judges these)
	client    string
}

// exchange is one request and what came back, kept in memory for the verdicts (raw, never
// written) and written to its transcript redacted.
type exchange struct {
	seq       int
	file      string
	check     string
	to        string
	method    string
	url       string
	malformed bool
	client    string
	started   time.Time
	dur       time.Duration

	status    int // 0 when no answer came
	header    http.Header
	body      []byte
	truncated bool
	err       error
	tls       *tls.ConnectionState

	obj    map[string]any // the body as a JSON object, numbers as json.Number; nil if not one
	objErr error
	tokens []string // the tokens the answer carries (tokensIn)

	// What the checks over the whole run judge, computed while the body is at hand: the run
	// keeps only kept() of each exchange.
	echoesSecret bool    // an error answer whose body holds a form of a client's secret
	skew         float64 // now + expires_in - exp, for a JWT access token that states both
	hasSkew      bool
	tok          *tokenFacts // a 2xx answer's access token (tokenfacts.go); nil when none

	red *redact.Redactor // the run's: what describe quotes is redacted before it is cut
}

// answered reports whether a response came back.
func (e *exchange) answered() bool { return e != nil && e.err == nil && e.status != 0 }

// accessToken returns the access_token field when it is a string.
func (e *exchange) accessToken() (string, bool) {
	if e == nil || e.obj == nil {
		return "", false
	}
	s, ok := e.obj["access_token"].(string)
	return s, ok
}

// describe says in a few words what came back, for "expected X, got Y".
func (e *exchange) describe() string {
	switch {
	case e == nil:
		return "no request was made"
	case e.err != nil:
		return "no answer (" + e.errText() + ")"
	}
	s := fmt.Sprintf("status %d", e.status)
	if code, ok := e.obj["error"].(string); ok {
		s += " error " + clip(e.red, code, 60)
	}
	return s
}

// errText is the transport error, short and free of secrets (URLs carry no secret but the
// query of AUTH-12; the recorder's redactor is applied by the caller when writing).
func (e *exchange) errText() string {
	if e.err == nil {
		return ""
	}
	var ue *url.Error
	err := e.err
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// recorder sends requests, records exchanges and writes their transcripts.
type recorder struct {
	client  *http.Client
	red     *redact.Redactor
	dir     string // transcripts/
	maxBody int64
	secrets []string // every form of both clients' secrets (HTTP-08)
	ua      string   // buildinfo.UserAgent(), read once per run
	// slots holds a token per request in flight: never more than Config.Concurrency at once,
	// whatever runs them (scenarios run at once, a batch sent "at once", the control API).
	slots chan struct{}
	store *tokenStore // --token-store: the run's first token of the client is kept there; nil: none

	jobs    chan transcriptJob // written by one goroutine, off the requests' path
	large   sync.Mutex         // held while a large answer's transcript is written
	written sync.WaitGroup

	mu          sync.Mutex
	seq         int
	all         []*exchange
	consecutive int
	down        error // why the target is considered down; nil while it answers
	writeErr    error
}

// transcriptJob is an exchange waiting to be written.
type transcriptJob struct {
	ex  *exchange
	req request
}

func newRecorder(cfg *Config, red *redact.Redactor, dir string) *recorder {
	tr := &http.Transport{
		Proxy:       nil, // never through a proxy: credentials go to the target only
		DialContext: (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		// Every request carries a credential or a token: never below TLS 1.2 (RFC 8996, SEC-03).
		TLSClientConfig:        &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	r := &recorder{
		client: &http.Client{
			Transport: guard{tr},
			Timeout:   cfg.Timeout,
			// Never follow a redirect: it could carry credentials to another host. The 3xx
			// answer is recorded as it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		red:     red,
		dir:     dir,
		maxBody: cfg.MaxBody,
		secrets: append(redact.Forms(cfg.ClientID, cfg.ClientSecret), redact.Forms(cfg.Client2ID, cfg.Client2Secret)...),
		ua:      buildinfo.UserAgent(),
		jobs:    make(chan transcriptJob, 256),
		slots:   make(chan struct{}, max(cfg.Concurrency, 1)),
	}
	r.written.Add(1)
	go func() {
		defer r.written.Done()
		for j := range r.jobs {
			r.write(j.ex, j.req)
		}
	}()
	return r
}

// close waits until every transcript is written; the recorder takes no requests afterwards.
func (r *recorder) close() error {
	close(r.jobs)
	r.written.Wait()
	r.client.CloseIdleConnections()
	return r.writeErr
}

// guard is a RoundTripper that refuses plain HTTP to a host that is not loopback before
// anything is dialled.
type guard struct{ next http.RoundTripper }

func (g guard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !loopback.Host(r.URL.Hostname()) {
		return nil, errPlainHTTP
	}
	return g.next.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the transport underneath.
func (g guard) CloseIdleConnections() {
	if c, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// do sends req for the check and records the exchange. It never returns nil.
func (r *recorder) do(ctx context.Context, check string, req request) *exchange {
	ex := &exchange{check: check, to: req.to, method: req.method, url: req.url, malformed: req.malformed,
		client: req.client, started: time.Now(), red: r.red}
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down != nil {
		ex.err = errTargetDown
		r.finish(ex, req)
		return ex
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, bytes.NewReader(req.body))
	if err != nil {
		ex.err = err
		r.finish(ex, req)
		return ex
	}
	if req.body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	for k, vs := range req.header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	if _, set := hr.Header["User-Agent"]; !set {
		// Who called, for the endpoint's operators; a check that means to send another
		// User-Agent (or none: an empty value) says so in its request.
		hr.Header.Set("User-Agent", r.ua)
	}
	req.header = hr.Header // the transcript shows what was sent
	if err := r.acquire(ctx); err != nil {
		ex.err = err
		r.finish(ex, req)
		return ex
	}
	ex.started = time.Now() // the wait for a slot is not the target's time
	resp, err := r.client.Do(hr)
	if err != nil {
		r.release()
		ex.err = err
	} else {
		ex.status, ex.header, ex.tls = resp.StatusCode, resp.Header, resp.TLS
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, r.maxBody+1))
		_ = resp.Body.Close()
		r.release()
		if int64(len(body)) > r.maxBody {
			body, ex.truncated = body[:r.maxBody], true
		}
		ex.body = body
		if rerr != nil && !ex.truncated {
			ex.err = fmt.Errorf("reading the answer: %w", rerr)
		}
	}
	ex.dur = time.Since(ex.started)
	if ex.status != 0 {
		if ex.truncated {
			// Not read whole: no JSON to judge (decoding the part read would only cost memory).
			ex.objErr = fmt.Errorf("the body is larger than the harness reads (%d bytes), so not judged as JSON", r.maxBody)
		} else {
			ex.obj, ex.objErr = parseObject(r.red, ex.body)
		}
		ex.tokens = tokensIn(ex.obj, ex.body)
		r.red.AddToken(ex.tokens...)
		if ex.status >= 400 {
			ex.echoesSecret = containsAnyOf(ex.body, r.secrets)
		}
		if r.store != nil && req.to == toToken && req.client == r.store.clientID && req.url == r.store.tokenURL && ex.status == http.StatusOK {
			if err := r.store.keep(ex, ex.started); err != nil {
				r.mu.Lock()
				if r.writeErr == nil {
					r.writeErr = err
				}
				r.mu.Unlock()
			}
		}
		if tok, ok := ex.accessToken(); ok && ex.status/100 == 2 {
			p, err := parseJWT(tok, false)
			if err != nil {
				p = nil // not a JWT
			} else {
				ex.skew, err = lifetimeSkew(ex, p)
				ex.hasSkew = err == nil
			}
			ex.tok = tokenFactsOf(r.red, req, ex, tok, p)
		}
	}
	r.finish(ex, req)
	return ex
}

// acquire takes a slot for one request in flight, waiting for one to be free; it fails only
// when ctx ends first.
func (r *recorder) acquire(ctx context.Context) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release frees the slot acquire took.
func (r *recorder) release() { <-r.slots }

func containsAnyOf(b []byte, forms []string) bool {
	for _, f := range forms {
		if f != "" && bytes.Contains(b, []byte(f)) {
			return true
		}
	}
	return false
}

// keptHeaders are the answer headers the checks over the whole run read.
var keptHeaders = []string{"Content-Type", "Cache-Control"}

// keptFields are the fields of an answer's JSON object the checks over the whole run read.
var keptFields = []string{"error"}

// keptFieldBytes bounds a kept field: no error code of RFC 6749 comes near it.
const keptFieldBytes = 256

// kept is what the run keeps of an exchange after its scenario: what the checks over the whole
// run judge, without the body. Hundreds of answers of up to MaxBody each would otherwise stay
// in memory until the run ends.
func (e *exchange) kept() *exchange {
	k := *e
	k.body, k.tls, k.tokens = nil, nil, nil
	if e.header != nil {
		k.header = http.Header{}
		for _, h := range keptHeaders {
			if vs := e.header.Values(h); len(vs) > 0 {
				k.header[h] = vs
			}
		}
	}
	if e.obj != nil {
		k.obj = map[string]any{}
		for _, f := range keptFields {
			v, has := e.obj[f]
			if str, ok := v.(string); ok && len(str) > keptFieldBytes {
				v = clip(e.red, str, keptFieldBytes) // redacted before it is cut
			}
			if has {
				k.obj[f] = v
			}
		}
	}
	return &k
}

// finish numbers the exchange, updates the breaker and writes the transcript.
func (r *recorder) finish(ex *exchange, req request) {
	r.mu.Lock()
	r.seq++
	ex.seq = r.seq
	ex.file = fmt.Sprintf("%04d.json", ex.seq)
	r.all = append(r.all, ex.kept())
	switch {
	case errors.Is(ex.err, errTargetDown), errors.Is(ex.err, errPlainHTTP):
	case ex.err != nil && ex.status == 0 && !errors.Is(ex.err, context.Canceled):
		r.consecutive++
		if r.consecutive >= breakerLimit && r.down == nil {
			r.down = fmt.Errorf("%d requests in a row got no answer, the last: %s", r.consecutive, r.red.String(ex.errText()))
		}
	default:
		r.consecutive = 0
	}
	r.mu.Unlock()
	if len(ex.body) > queuedBodyLimit {
		// One at a time: redacting a large body takes a few copies of it.
		r.large.Lock()
		defer r.large.Unlock()
		r.write(ex, req)
		return
	}
	r.jobs <- transcriptJob{ex, req}
}

// write writes an exchange's transcript.
func (r *recorder) write(ex *exchange, req request) {
	b, err := json.MarshalIndent(r.transcript(ex, req), "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(r.dir, ex.file), b, 0o644)
	}
	if err != nil {
		r.mu.Lock()
		if r.writeErr == nil {
			r.writeErr = fmt.Errorf("writing transcript %s: %w", ex.file, err)
		}
		r.mu.Unlock()
	}
}

// transcript is the exchange redacted at the source: Authorization reduced to its scheme,
// secrets masked in every encoding, tokens replaced by fingerprints with decoded claims.
func (r *recorder) transcript(ex *exchange, req request) evidence.Transcript {
	reqBody, _ := r.storedBody(req.body)
	t := evidence.Transcript{
		Seq:        ex.seq,
		Checks:     []string{ex.check},
		Started:    ex.started.UTC(),
		DurationMS: float64(ex.dur.Microseconds()) / 1000,
		Request: evidence.TranscriptRequest{
			Method: ex.method,
			URL:    r.red.String(ex.url),
			Header: r.headers(req.header),
			Body:   reqBody,
		},
	}
	if ex.err != nil {
		t.Error = r.red.String(ex.errText())
	}
	if ex.status != 0 {
		body, cut := r.storedBody(ex.body)
		resp := &evidence.TranscriptResponse{
			Status:    ex.status,
			Header:    r.headers(ex.header),
			Body:      body,
			Truncated: ex.truncated || cut,
		}
		for _, tok := range ex.tokens {
			resp.Tokens = append(resp.Tokens, redact.Token(tok))
		}
		if ex.tls != nil {
			resp.TLS = &evidence.TLSInfo{Version: tls.VersionName(ex.tls.Version), CipherSuite: tls.CipherSuiteName(ex.tls.CipherSuite)}
		}
		t.Response = resp
	}
	return t
}

func (r *recorder) headers(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		for _, v := range vs {
			out[k] = append(out[k], r.red.Header(k, v))
		}
	}
	return out
}

// storedBody is a body as a transcript keeps it: redacted whole, then cut, so that a secret or
// token across the cut leaves nothing readable. cut reports whether it was cut.
func (r *recorder) storedBody(b []byte) (text string, cut bool) {
	s := r.red.String(string(b))
	if len(s) > storedBodyLimit {
		return cutAt(s, storedBodyLimit) + fmt.Sprintf("… (%d bytes in all)", len(b)), true
	}
	return s, false
}

// exchanges returns every exchange so far, in order.
func (r *recorder) exchanges() []*exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*exchange(nil), r.all...)
}

// downReason is why the target is considered down, or nil.
func (r *recorder) downReason() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// tokenFields are the fields of a token answer that carry a replayable token.
var tokenFields = []string{"access_token", "refresh_token", "id_token"}

// tokensIn returns the non-empty tokens an answer carries in its token fields: those of obj, the
// body as a JSON object, or, when the body is not one, those of the body read as a form
// (application/x-www-form-urlencoded, as some servers answer): the redactor must know them
// either way.
func tokensIn(obj map[string]any, body []byte) []string {
	var toks []string
	if obj != nil {
		for _, f := range tokenFields {
			if t, ok := obj[f].(string); ok && t != "" {
				toks = append(toks, t)
			}
		}
		return toks
	}
	form, _ := url.ParseQuery(string(body)) // a malformed pair is left out, the others kept
	for _, f := range tokenFields {
		for _, t := range form[f] {
			if t != "" {
				toks = append(toks, t)
			}
		}
	}
	return toks
}

// parseObject decodes a JSON object keeping numbers as json.Number, so that 28800, 28800.0
// and "28800" stay distinguishable.
func parseObject(red *redact.Redactor, b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the body is not JSON: %v", shortErr(red, err))
	}
	if dec.More() {
		return nil, errors.New("the body holds more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the body is JSON but not an object")
	}
	return m, nil
}

// shortErr is an error's text redacted and cut to 120 bytes.
func shortErr(red *redact.Redactor, err error) string {
	return clip(red, err.Error(), 120)
}

// clip redacts s whole, then cuts it to at most n bytes, marking the cut with "…". Redacting
// first matters: a secret or token across the cut would otherwise leave a readable prefix that
// no redactor recognises. A nil red redacts nothing.
func clip(red *redact.Redactor, s string, n int) string {
	if red != nil {
		s = red.String(s)
	}
	if len(s) > n {
		s = cutAt(s, n) + "…"
	}
	return s
}

// cutAt returns the first n bytes of s at most, never splitting a UTF-8 sequence.
func cutAt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
