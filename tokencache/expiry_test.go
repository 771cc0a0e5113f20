package tokencache

import (
	"encoding/base64"
	"strconv"
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
