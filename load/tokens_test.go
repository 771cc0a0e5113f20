package load

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/authzcheck/authzcheck/internal/jwtexp"
)

func FuzzScanTokenBody(f *testing.F) {
	for _, s := range []string{`{"access_token":"a.b.c","token_type":"Bearer","expires_in":28800}`,
		`{"expires_in":"60", "access_token" : "x"}`, `{"access_token":"a\"b"}`, `{"access_token":1}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, ei, ok := scanTokenBody(b)
		if !ok {
			return
		}
		var tb tokenBody
		if json.Unmarshal(b, &tb) != nil {
			return // not JSON: the scan is only trusted on real answers, and they are JSON
		}
		// On a well-formed answer with one access_token, the scan agrees with the decoder.
		if bytes.Count(b, []byte(`"access_token"`)) == 1 && bytes.Count(b, []byte(`"expires_in"`)) <= 1 && tb.AccessToken != string(tok) {
			t.Fatalf("scan %q, decoder %q", tok, tb.AccessToken)
		}
		_ = ei
	})
}

func TestTokenStatsClassifiesPolicies(t *testing.T) {
	jwt := func(exp int64) string {
		return "eyJhbGciOiJSUzI1NiJ9." + b64(`{"exp":`+itoa(exp)+`}`) + ".sig"
	}
	now := time.Unix(1_800_000_000, 0)
	body := func(tok string, ei int64) []byte {
		return []byte(`{"access_token":"` + tok + `","token_type":"Bearer","expires_in":` + itoa(ei) + `}`)
	}
	t.Run("a new token every answer is reissue", func(t *testing.T) {
		s := newTokenStats()
		for i := int64(0); i < 50; i++ {
			s.add(body(jwt(now.Unix()+60+i), 60), now.Add(time.Duration(i)*time.Second))
		}
		f := s.figures()
		assert.Equal(t, "reissue", f.Policy)
		assert.Equal(t, int64(50), f.Distinct)
		assert.Equal(t, int64(49), f.Changes)
	})
	t.Run("one token with expires_in counting down is cached", func(t *testing.T) {
		s := newTokenStats()
		exp := now.Unix() + 60
		for i := int64(0); i < 5; i++ {
			s.add(body(jwt(exp), 60-i), now.Add(time.Duration(i)*time.Second))
		}
		f := s.figures()
		assert.Equal(t, "cached", f.Policy)
		assert.Equal(t, int64(4), f.CountingDown)
		assert.Less(t, f.DriftMaxMS, 1.0)
	})
	t.Run("one token with a fixed expires_in is flagged", func(t *testing.T) {
		s := newTokenStats()
		exp := now.Unix() + 60
		for i := int64(0); i < 5; i++ {
			s.add(body(jwt(exp), 60), now.Add(time.Duration(i)*time.Second))
		}
		f := s.figures()
		assert.Equal(t, "cached-static-expires-in", f.Policy)
		assert.Equal(t, int64(2), f.DriftOver2s, "expires_in drifts past exp by 3 s and 4 s")
		assert.InDelta(t, 4000, f.DriftMaxMS, 1)
	})
}

func b64(s string) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []byte
	b := []byte(s)
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			n <<= 8
			if j < k {
				n |= uint32(b[i+j])
			}
		}
		for j := 0; j < k+1; j++ {
			out = append(out, enc[(n>>(18-6*j))&63])
		}
	}
	return string(out)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func FuzzJWTExp(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9." + b64(`{"exp":1800000000}`) + ".sig")
	f.Add("a.b")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		exp, ok := jwtexp.Exp([]byte(tok))
		if !ok && !exp.IsZero() {
			t.Fatalf("%q: no exp but %v", tok, exp)
		}
	})
}

func TestErrorKindFoldsNumbers(t *testing.T) {
	a := errorKind("read tcp 127.0.0.1:53412->127.0.0.1:8080: read: connection reset by peer")
	b := errorKind("read tcp 127.0.0.1:40001->127.0.0.1:8080: read: connection reset by peer")
	assert.Equal(t, a, b)
	assert.Equal(t, "429 Too Many Requests", errorKind("429 Too Many Requests"), "a status stays as it is")
	assert.Len(t, errorKind(string(make([]byte, 1000))), 300)
}

// Every answer is counted once, as a response or as unparsable, whatever the bodies and however
// they repeat (the repeat path recalls the last answer instead of parsing it again).
func FuzzTokenStatsAdd(f *testing.F) {
	good := `{"access_token":"eyJhbGciOiJSUzI1NiJ9.` + b64(`{"exp":1800000000}`) + `.sig","expires_in":60}`
	f.Add([]byte(good), []byte(`{"access_token":"x","expires_in":"59"}`))
	f.Add([]byte(`{}`), []byte(good))
	f.Add([]byte(`not json`), []byte(`{"access_token":"a\"b"}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ts := newTokenStats()
		now := time.Unix(1_700_000_000, 0)
		for i, body := range [][]byte{a, a, b, b, a} {
			ts.add(body, now.Add(time.Duration(i)*time.Second))
		}
		f := ts.figures()
		if got := f.Responses + f.Unparsable; got != 5 {
			t.Fatalf("5 answers counted as %d responses and %d unparsable", f.Responses, f.Unparsable)
		}
		if f.Distinct > f.Responses {
			t.Fatalf("%d distinct tokens in %d responses", f.Distinct, f.Responses)
		}
	})
}
