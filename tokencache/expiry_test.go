package tokencache

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func jwtToken(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("sig"))
}

func TestJWTExpiry(t *testing.T) {
	exp := now.Add(time.Hour).Unix()
	tests := []struct {
		name  string
		token string
		want  time.Time
		ok    bool
	}{
		{"an integer exp", jwtToken(`{"exp":` + strconv.FormatInt(exp, 10) + `}`), time.Unix(exp, 0), true},
		{"a fractional exp", jwtToken(`{"exp":1767322800.5}`), time.Unix(1767322800, 5e8), true},
		{"padding on the segments is tolerated", strings.Replace(jwtToken(`{"exp":1767322800,"a":1}`), ".", "==.", 2), time.Unix(1767322800, 0), true},
		{"a payload with padding kept", "e30." + base64.URLEncoding.EncodeToString([]byte(`{"exp":1767322800}`)) + ".sig", time.Unix(1767322800, 0), true},
		{"an opaque token", "2YotnFZFEjr1zCsicMWpAA", time.Time{}, false},
		{"two segments", "a.b", time.Time{}, false},
		{"four segments", jwtToken(`{"exp":1767322800}`) + ".x", time.Time{}, false},
		{"no exp", jwtToken(`{"sub":"client"}`), time.Time{}, false},
		{"a string exp", jwtToken(`{"exp":"1767322800"}`), time.Time{}, false},
		{"a negative exp", jwtToken(`{"exp":-5}`), time.Time{}, false},
		{"an absurd exp", jwtToken(`{"exp":1e300}`), time.Time{}, false},
		{"a payload that is not JSON", jwtToken(`not json`), time.Time{}, false},
		{"a payload that is not base64url", "e30.!!!.sig", time.Time{}, false},
		{"an empty header", "." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1767322800}`)) + ".sig", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := jwtExpiry(tt.token)
			assert.Equal(t, tt.ok, ok)
			assert.True(t, tt.want.Equal(got), "want %v, got %v", tt.want, got)
		})
	}
}

func TestNewEntryTimes(t *testing.T) {
	hour := now.Add(time.Hour)
	jwt := func(exp time.Time) string { return jwtToken(`{"exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`) }
	cfg := func(opts ...Option) config {
		c := defaultConfig()
		c.randFloat64 = func() float64 { return 0 }
		for _, o := range opts {
			o(&c)
		}
		return c
	}
	tests := []struct {
		name                         string
		cfg                          config
		tok                          *oauth2.Token
		expiry, validTill, refreshAt time.Time
	}{
		{"Expiry less the default skew", cfg(), &oauth2.Token{AccessToken: "opaque", Expiry: hour},
			hour, hour.Add(-10 * time.Second), now.Add(time.Duration(0.8 * float64(time.Hour-10*time.Second)))},
		{"a JWT exp earlier than Expiry wins", cfg(ClockSkew(0), RefreshAt(0.5)), &oauth2.Token{AccessToken: jwt(now.Add(10 * time.Minute)), Expiry: hour},
			now.Add(10 * time.Minute), now.Add(10 * time.Minute), now.Add(5 * time.Minute)},
		{"a JWT exp later than Expiry does not", cfg(ClockSkew(0), RefreshAt(0.5)), &oauth2.Token{AccessToken: jwt(now.Add(2 * time.Hour)), Expiry: hour},
			hour, hour, now.Add(30 * time.Minute)},
		{"a JWT exp alone is used", cfg(ClockSkew(0), RefreshAt(0.5)), &oauth2.Token{AccessToken: jwt(hour)},
			hour, hour, now.Add(30 * time.Minute)},
		{"a configured skew", cfg(ClockSkew(time.Minute), RefreshAt(0.5)), &oauth2.Token{AccessToken: "opaque", Expiry: hour},
			hour, hour.Add(-time.Minute), now.Add(29*time.Minute + 30*time.Second)},
		{"the skew takes at most a tenth of a short lifetime", cfg(RefreshAt(0.5)), &oauth2.Token{AccessToken: "opaque", Expiry: now.Add(2 * time.Second)},
			now.Add(2 * time.Second), now.Add(1800 * time.Millisecond), now.Add(900 * time.Millisecond)},
		{"no expiry at all: kept until invalidated", cfg(), &oauth2.Token{AccessToken: "opaque"},
			time.Time{}, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.cfg.newEntry(tt.tok, now)
			require.NoError(t, err)
			assert.Same(t, tt.tok, e.tok)
			assert.True(t, tt.expiry.Equal(e.expiry), "expiry: want %v, got %v", tt.expiry, e.expiry)
			assert.True(t, tt.validTill.Equal(e.validTill), "validTill: want %v, got %v", tt.validTill, e.validTill)
			assert.True(t, tt.refreshAt.Equal(e.refreshAt), "refreshAt: want %v, got %v", tt.refreshAt, e.refreshAt)
		})
	}
}

func TestNewEntryRejects(t *testing.T) {
	tests := []struct {
		name string
		tok  *oauth2.Token
		want string
	}{
		{"no token", nil, "token source returned no access token"},
		{"an empty access token", &oauth2.Token{Expiry: now.Add(time.Hour)}, "token source returned no access token"},
		{"an expired token", &oauth2.Token{AccessToken: "x", Expiry: now.Add(-time.Second)}, "already expired"},
		{"a JWT whose exp has passed", &oauth2.Token{AccessToken: jwtToken(`{"exp":1000}`), Expiry: now.Add(time.Hour)}, "already expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			_, err := cfg.newEntry(tt.tok, now)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// FuzzJWTExpiry checks that any string is handled without panic, and that whatever exp a JWT
// carries comes back to the second.
func FuzzJWTExpiry(f *testing.F) {
	f.Add("", int64(1767322800))
	f.Add(jwtToken(`{"exp":1767322800}`), int64(1))
	f.Add("a.b.c", int64(-1))
	f.Add("e30.e30.", int64(1<<41))
	f.Add("..", int64(0))
	f.Fuzz(func(t *testing.T, token string, exp int64) {
		if got, ok := jwtExpiry(token); ok {
			assert.Equal(t, 2, strings.Count(token, "."), "accepted %q", token)
			assert.True(t, got.After(time.Unix(0, 0)), "exp %v accepted", got)
		}
		claims, err := json.Marshal(map[string]any{"exp": exp, "sub": token})
		require.NoError(t, err)
		got, ok := jwtExpiry(jwtToken(string(claims)))
		if exp <= 0 || exp > 1<<40 {
			assert.False(t, ok, "exp %d accepted", exp)
			return
		}
		require.True(t, ok, "exp %d rejected", exp)
		assert.Equal(t, exp, got.Unix())
	})
}
