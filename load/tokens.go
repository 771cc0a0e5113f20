package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"strconv"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/jwtexp"
)

// maxExactTokens caps the set of token hashes kept to count distinct tokens (8-byte hash and a
// 16-byte first answer each, about 48 bytes a token in a Go map: about 3 MB at the cap). Beyond it
// the count is a lower bound.
const maxExactTokens = 65536

// tokenStats analyses token responses one at a time, keeping bounded state.
type tokenStats struct {
	seed     maphash.Seed
	seen     map[uint64]firstSeen // token hash -> its first answer
	f        evidence.TokenFigures
	last     uint64
	driftSum float64
	driftN   int64
	// the last body and what it held: a server that caches sends the same answer again and
	// again (until expires_in ticks down), so each distinct answer is parsed once
	lastBody   []byte
	lastAnswer answer
	// the exp of the last token decoded (a cached token repeats: decode it once)
	lastExpHash uint64
	lastExp     time.Time
	lastExpOK   bool
	haveExp     bool
}

func newTokenStats() *tokenStats {
	return &tokenStats{seed: maphash.MakeSeed(), seen: map[uint64]firstSeen{}, f: evidence.TokenFigures{DistinctExact: true}}
}

// firstSeen is a token's first answer: its expires_in and when it was received (Unix ns).
type firstSeen struct {
	expiresIn int64
	at        int64
}

type tokenBody struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// answer is what a token answer held: its token (and the token's hash) and expires_in.
type answer struct {
	ok    bool // an access_token was found
	tok   []byte
	h     uint64
	ei    int64
	eiErr error
}

// parse reads a token answer, or recalls it when the body is the same as the last one.
func (t *tokenStats) parse(body []byte) answer {
	if t.lastBody != nil && bytes.Equal(body, t.lastBody) {
		return t.lastAnswer
	}
	var a answer
	tok, eiRaw, ok := scanTokenBody(body)
	if !ok {
		var tb tokenBody
		if err := json.Unmarshal(body, &tb); err == nil && tb.AccessToken != "" {
			tok, eiRaw, ok = []byte(tb.AccessToken), bytes.Trim(tb.ExpiresIn, `"`), true
		}
	}
	if ok {
		a = answer{ok: true, tok: tok, h: maphash.Bytes(t.seed, tok)}
		a.ei, a.eiErr = strconv.ParseInt(string(eiRaw), 10, 64)
	}
	t.lastBody, t.lastAnswer = body, a
	return a
}

// add analyses one 200 response body received at recv. It keeps body until the next call.
func (t *tokenStats) add(body []byte, recv time.Time) {
	a := t.parse(body)
	if !a.ok {
		t.f.Unparsable++
		return
	}
	tok, h, ei, eiErr := a.tok, a.h, a.ei, a.eiErr
	t.f.Responses++
	if t.f.Responses > 1 && h != t.last {
		t.f.Changes++
	}
	t.last = h
	if first, ok := t.seen[h]; ok {
		// expires_in is whole seconds: only a repeat 1.5 s or more later must show it smaller.
		if eiErr == nil {
			if ei < first.expiresIn {
				t.f.CountingDown++
			} else if recv.UnixNano()-first.at >= int64(1500*time.Millisecond) {
				t.f.NotCountingDown++
			}
		}
	} else if len(t.seen) < maxExactTokens {
		t.seen[h] = firstSeen{expiresIn: ei, at: recv.UnixNano()}
		t.f.Distinct++
	} else {
		t.f.DistinctExact = false
	}
	if eiErr == nil {
		if t.f.Responses == 1 || ei < t.f.ExpiresInMin {
			t.f.ExpiresInMin = ei
		}
		if ei > t.f.ExpiresInMax {
			t.f.ExpiresInMax = ei
		}
	}
	// A cached token repeats: decode its exp once.
	exp, ok := t.lastExp, t.lastExpOK
	if h != t.lastExpHash || !t.haveExp {
		exp, ok = jwtexp.Exp(tok)
		t.lastExpHash, t.lastExp, t.lastExpOK, t.haveExp = h, exp, ok, true
	}
	if !ok {
		t.f.NotJWT++
		return
	}
	if eiErr != nil {
		return
	}
	drift := msOf(recv.Add(time.Duration(ei) * time.Second).Sub(exp))
	if t.driftN == 0 || drift < t.f.DriftMinMS {
		t.f.DriftMinMS = drift
	}
	if t.driftN == 0 || drift > t.f.DriftMaxMS {
		t.f.DriftMaxMS = drift
	}
	if drift > 2000 || drift < -2000 {
		t.f.DriftOver2s++
	}
	t.driftSum += drift
	t.driftN++
}

// figures classifies the server's policy and returns the figures.
func (t *tokenStats) figures() *evidence.TokenFigures {
	f := t.f
	if t.driftN > 0 {
		f.DriftMeanMS = t.driftSum / float64(t.driftN)
	}
	n := f.Responses
	switch {
	case n < 2:
		f.Policy, f.PolicyReason = "unknown", "fewer than two tokens received"
	case f.DistinctExact && float64(f.Distinct) >= 0.99*float64(n):
		f.Policy, f.PolicyReason = "reissue", fmt.Sprintf("%d answers carried %d distinct tokens", n, f.Distinct)
	case !f.DistinctExact:
		f.Policy, f.PolicyReason = "reissue", fmt.Sprintf("more than %d distinct tokens in %d answers", maxExactTokens, n)
	case float64(f.Distinct) <= 0.5*float64(n) && f.NotCountingDown > 0 && f.CountingDown == 0:
		f.Policy, f.PolicyReason = "cached-static-expires-in", fmt.Sprintf("%d answers carried %d distinct tokens, but expires_in did not count down on repeats", n, f.Distinct)
	case float64(f.Distinct) <= 0.5*float64(n) && f.CountingDown == 0:
		f.Policy, f.PolicyReason = "cached", fmt.Sprintf("%d answers carried %d distinct tokens (too soon to see expires_in count down)", n, f.Distinct)
	case float64(f.Distinct) <= 0.5*float64(n):
		f.Policy, f.PolicyReason = "cached", fmt.Sprintf("%d answers carried %d distinct tokens; expires_in counted down on %d repeats", n, f.Distinct, f.CountingDown)
	default:
		f.Policy, f.PolicyReason = "mixed", fmt.Sprintf("%d answers carried %d distinct tokens", n, f.Distinct)
	}
	return &f
}

// scanTokenBody picks access_token and expires_in out of a token answer without a full JSON
// decode (the hot path at thousands of answers a second). It gives up (false) on anything
// unusual, escapes included, and the caller then decodes the JSON properly. The token it returns
// is a slice of b, not a copy.
func scanTokenBody(b []byte) ([]byte, []byte, bool) {
	v, ok := scanValue(b, `"access_token"`)
	if !ok || len(v) < 2 || v[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(v[1:], '"')
	if end <= 0 || bytes.IndexByte(v[1:1+end], '\\') >= 0 {
		return nil, nil, false
	}
	for _, c := range v[1 : 1+end] {
		if c < 0x20 || c > 0x7e { // tokens are printable ASCII; anything else: decode properly
			return nil, nil, false
		}
	}
	tok := v[1 : 1+end]
	ev, ok := scanValue(b, `"expires_in"`)
	if !ok {
		return tok, nil, true
	}
	if len(ev) > 0 && ev[0] == '"' {
		ev = ev[1:]
	}
	n := 0
	for n < len(ev) && ev[n] >= '0' && ev[n] <= '9' {
		n++
	}
	return tok, ev[:n], true
}

// scanValue returns what follows key and its colon, with whitespace skipped.
func scanValue(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := bytes.TrimLeft(b[i+len(key):], " \t\r\n")
	if len(v) == 0 || v[0] != ':' {
		return nil, false
	}
	return bytes.TrimLeft(v[1:], " \t\r\n"), true
}
