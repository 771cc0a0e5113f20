package jwtexp

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jwtToken(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("sig"))
}

func TestExp(t *testing.T) {
	exp := time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC).Unix()
	big := `{"pad":"` + strings.Repeat("x", 2048) + `","exp":1767322800}`
	tests := []struct {
		name  string
		token string
		want  time.Time
		ok    bool
	}{
		{"an integer exp", jwtToken(`{"exp":` + strconv.FormatInt(exp, 10) + `}`), time.Unix(exp, 0), true},
		{"a fractional exp", jwtToken(`{"exp":1767322800.5}`), time.Unix(1767322800, 5e8), true},
		{"an exponent", jwtToken(`{"exp":1.7673228e9}`), time.Unix(1767322800, 0), true},
		{"padding on the segments is tolerated", strings.Replace(jwtToken(`{"exp":1767322800,"a":1}`), ".", "==.", 2), time.Unix(1767322800, 0), true},
		{"a payload with padding kept", "e30." + base64.URLEncoding.EncodeToString([]byte(`{"exp":1767322800}`)) + ".sig", time.Unix(1767322800, 0), true},
		{"no signature (unsecured)", "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1767322800}`)) + ".", time.Unix(1767322800, 0), true},
		{"other claims around it, nested exp ignored", jwtToken(` { "sub" : "a\"b" , "x":{"exp":1,"y":[{"exp":2}]}, "exp" : 1767322800 , "z":[1,"]"]} `), time.Unix(1767322800, 0), true},
		{"the last of repeated exps", jwtToken(`{"exp":1,"exp":1767322800}`), time.Unix(1767322800, 0), true},
		{"an escaped member name", jwtToken(`{"\u0065xp":1767322800}`), time.Unix(1767322800, 0), true},
		{"a payload larger than the stack buffer", jwtToken(big), time.Unix(1767322800, 0), true},
		{"an opaque token", "2YotnFZFEjr1zCsicMWpAA", time.Time{}, false},
		{"two segments", "a.b", time.Time{}, false},
		{"four segments", jwtToken(`{"exp":1767322800}`) + ".x", time.Time{}, false},
		{"no exp", jwtToken(`{"sub":"client"}`), time.Time{}, false},
		{"exp in another case", jwtToken(`{"EXP":1767322800}`), time.Time{}, false},
		{"a string exp", jwtToken(`{"exp":"1767322800"}`), time.Time{}, false},
		{"a repeated exp ending as a string", jwtToken(`{"exp":1767322800,"exp":"1"}`), time.Time{}, false},
		{"a negative exp", jwtToken(`{"exp":-5}`), time.Time{}, false},
		{"a zero exp", jwtToken(`{"exp":0}`), time.Time{}, false},
		{"an absurd exp", jwtToken(`{"exp":1e300}`), time.Time{}, false},
		{"an exp beyond float64", jwtToken(`{"exp":1e400}`), time.Time{}, false},
		{"a payload that is not JSON", jwtToken(`not json`), time.Time{}, false},
		{"JSON that is not an object", jwtToken(`[1767322800]`), time.Time{}, false},
		{"trailing data after the object", jwtToken(`{"exp":1767322800} {}`), time.Time{}, false},
		{"a payload that is not base64url", "e30.!!!.sig", time.Time{}, false},
		{"an empty header", "." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1767322800}`)) + ".sig", time.Time{}, false},
		{"an empty payload", "e30..sig", time.Time{}, false},
		{"a payload over the cap", jwtToken(`{"exp":1767322800,"pad":"` + strings.Repeat("x", MaxPayload) + `"}`), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ExpString(tt.token)
			assert.Equal(t, tt.ok, ok)
			assert.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
			got2, ok2 := Exp([]byte(tt.token))
			assert.Equal(t, ok, ok2)
			assert.True(t, got.Equal(got2))
		})
	}
}

// reference is Exp's rules by a plain decode: what the walk over the payload must agree with.
func reference(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || len(parts[1]) > MaxPayload {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(raw, &claims) != nil {
		return time.Time{}, false
	}
	v, ok := claims["exp"]
	if !ok || len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxExp {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// FuzzExp checks that any token is handled without panic, that only three segments with a
// positive exp are accepted, that whatever exp a JWT carries comes back to the second, and that
// the walk over the payload agrees with a full decode.
func FuzzExp(f *testing.F) {
	f.Add("", int64(1767322800), `{"exp":1}`)
	f.Add(jwtToken(`{"exp":1767322800}`), int64(1), `{"a":{"exp":2},"exp":3}`)
	f.Add("a.b.c", int64(-1), `{"exp":"1"}`)
	f.Add("e30.e30.", int64(1<<41), `{"\u0065xp":5,"b":[1,"}"]}`)
	f.Add("..", int64(0), `{"exp":1,"exp":1e300}`)
	f.Fuzz(func(t *testing.T, token string, exp int64, payload string) {
		got, ok := ExpString(token)
		if ok {
			assert.Equal(t, 2, strings.Count(token, "."), "accepted %q", token)
			assert.True(t, got.After(time.Unix(0, 0)), "exp %v accepted", got)
		} else {
			assert.True(t, got.IsZero())
		}
		want, wok := reference(token)
		assert.Equal(t, wok, ok, "%q", token)
		assert.True(t, want.Equal(got), "%q: want %v, got %v", token, want, got)

		tok := jwtToken(payload)
		got, ok = ExpString(tok)
		want, wok = reference(tok)
		assert.Equal(t, wok, ok, "%q", payload)
		assert.True(t, want.Equal(got), "%q: want %v, got %v", payload, want, got)

		claims, err := json.Marshal(map[string]any{"exp": exp, "sub": token})
		require.NoError(t, err)
		got, ok = ExpString(jwtToken(string(claims)))
		if exp <= 0 || exp > maxExp {
			assert.False(t, ok, "exp %d accepted", exp)
			return
		}
		require.True(t, ok, "exp %d rejected", exp)
		assert.Equal(t, exp, got.Unix())
	})
}

var sink time.Time

// BenchmarkExp is the cost of reading exp from a typical access token (a few hundred bytes of
// claims), as tokencache does on every fetch and load on every new token.
func BenchmarkExp(b *testing.B) {
	tok := []byte(jwtToken(`{"iss":"https://issuer.example/","sub":"client-1234","aud":["https://api.example/"],` +
		`"scope":"read:products write:orders","client_id":"client-1234","iat":1767319200,"nbf":1767319200,"exp":1767322800,` +
		`"jti":"4b6e9a1c-5a9d-4f4e-9a8e-1f6f0a3c2b7d","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`))
	b.Run("bytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = Exp(tok)
		}
	})
	s := string(tok)
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = ExpString(s)
		}
	})
}
