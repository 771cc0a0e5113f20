package load

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/loopback"
)

// validConfig is a Config Validate accepts, for mode, against a loopback target.
func validConfig(mode Mode) Config {
	return Config{Mode: mode, TokenURL: "http://127.0.0.1:1/token", APIURL: "http://127.0.0.1:1/products",
		Rate: vegeta.Rate{Freq: 50, Per: time.Second}, Duration: time.Second, From: 10, To: 100, Steps: 5, Dir: "out"}
}

func TestValidateRefusesNamingTheField(t *testing.T) {
	p99, err := ParseThreshold("p99<1s")
	require.NoError(t, err)
	fetches, err := ParseThreshold("fetches_per_call<1")
	require.NoError(t, err)
	cases := []struct {
		name  string
		mode  Mode
		edit  func(*Config)
		field string
		msg   string
	}{
		{"no mode", "", func(*Config) {}, "Mode", `unknown load mode ""`},
		{"unknown mode", "flood", func(*Config) {}, "Mode", `unknown load mode "flood"`},
		{"zero duration", ModeIssuance, func(c *Config) { c.Duration = 0 }, "Duration", "Duration 0s: must be positive"},
		{"ramp that does not rise", ModeRamp, func(c *Config) { c.To = c.From }, "From", "ramp needs 0 < From < To"},
		{"ramp without steps", ModeRamp, func(c *Config) { c.Steps = 0 }, "From", "Steps > 0"},
		{"negative rate", ModeIssuance, func(c *Config) { c.Rate.Freq = -1 }, "Rate", "must not be negative"},
		{"as fast as possible without a worker cap", ModeCached, func(c *Config) { c.Rate = vegeta.Rate{} }, "Rate", "needs MaxWorkers"},
		{"abort share above 1", ModeIssuance, func(c *Config) { c.AbortErrorRate = 1.5 }, "AbortErrorRate", "between 0 (off) and 1"},
		{"negative instances", ModeCached, func(c *Config) { c.Instances = -1 }, "Instances", "at least 1"},
		{"refresh point of no cache", ModeIssuance, func(c *Config) { c.RefreshAt = 0.9 }, "RefreshAt", "only to 'load cached'"},
		{"refresh point inside the jitter", ModeCached, func(c *Config) { c.RefreshAt = 0.05 }, "RefreshAt", "RefreshAt 0.05: want a share"},
		{"refresh point past the lifetime", ModeCached, func(c *Config) { c.RefreshAt = 1.5 }, "RefreshAt", "at most 1"},
		{"threshold of another mode", ModeIssuance, func(c *Config) { c.Thresholds = []Threshold{fetches} }, "Thresholds", "only by 'load cached'"},
		{"no output directory", ModeIssuance, func(c *Config) { c.Dir = "" }, "Dir", "no output directory"},
		{"no token URL", ModeIssuance, func(c *Config) { c.TokenURL = "" }, "TokenURL", "no token URL"},
		{"cached without an API", ModeCached, func(c *Config) { c.APIURL = "" }, "APIURL", "needs an API URL"},
		{"plain HTTP token URL to a remote host", ModeIssuance, func(c *Config) { c.TokenURL, c.AllowRemote = "http://192.0.2.1/token", true },
			"TokenURL", "http://192.0.2.1/token: it is plain HTTP to a host that is not loopback; use https"},
		{"plain HTTP API URL to a remote host", ModeCached, func(c *Config) { c.APIURL, c.AllowRemote = "http://192.0.2.1/products", true },
			"APIURL", "use https"},
		{"remote without AllowRemote", ModeIssuance, func(c *Config) { c.TokenURL = "https://192.0.2.1/token" }, "AllowRemote", "set AllowRemote"},
		{"remote API without AllowRemote", ModeCached, func(c *Config) { c.APIURL = "https://192.0.2.1/products" }, "AllowRemote", "https://192.0.2.1/products"},
		{"remote above the default cap", ModeIssuance, func(c *Config) {
			c.TokenURL, c.AllowRemote, c.Rate = "https://192.0.2.1/token", true, vegeta.Rate{Freq: 21, Per: time.Second}
		}, "MaxRate", "the rate 21/s is above MaxRate 20/s"},
		{"remote ramp above a raised cap", ModeRamp, func(c *Config) {
			c.TokenURL, c.AllowRemote, c.MaxRate, c.To = "https://192.0.2.1/token", true, 50, 60
		}, "MaxRate", "the rate 60/s is above MaxRate 50/s"},
		{"remote as fast as possible", ModeIssuance, func(c *Config) {
			c.TokenURL, c.AllowRemote, c.Rate, c.MaxWorkers = "https://192.0.2.1/token", true, vegeta.Rate{}, 4
		}, "Rate", "Rate 0 (as fast as possible) is refused under MaxRate 20"},
		{"loopback above an explicit cap", ModeIssuance, func(c *Config) { c.MaxRate = 10 }, "MaxRate", "above MaxRate 10/s"},
		{"negative cap", ModeIssuance, func(c *Config) { c.MaxRate = -1 }, "MaxRate", "must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig(c.mode)
			c.edit(&cfg)
			err := cfg.Validate()
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, c.field, ce.Field)
			assert.Contains(t, err.Error(), c.msg)
			assert.NotContains(t, err.Error(), "{", "every placeholder is rendered")
		})
	}
	for _, m := range Modes {
		cfg := validConfig(m)
		cfg.Thresholds = []Threshold{p99}
		assert.NoError(t, cfg.Validate(), "a sound %s run", m)
	}
	remote := validConfig(ModeIssuance)
	remote.TokenURL, remote.AllowRemote, remote.Rate = "https://192.0.2.1/token", true, vegeta.Rate{Freq: 20, Per: time.Second}
	assert.NoError(t, remote.Validate(), "https to a remote host at 20/s with AllowRemote")
}

func TestConfigErrorRendersFieldsInTheCallersTerms(t *testing.T) {
	cfg := validConfig(ModeRamp)
	cfg.To = 5
	var ce *ConfigError
	require.ErrorAs(t, cfg.Validate(), &ce)
	flags := map[string]string{"From": "--from", "To": "--to", "Steps": "--steps"}
	assert.Equal(t, "ramp needs 0 < --from < --to and --steps > 0 (got --from 10 --to 5 --steps 5)",
		ce.Render(func(f string) string { return flags[f] }))
	assert.Equal(t, "ramp needs 0 < From < To and Steps > 0 (got From 10 To 5 Steps 5)", ce.Error())
	assert.Equal(t, "a { b", refuse("X", "a { b").Error(), "an unclosed brace is text")
	assert.Equal(t, "X http://h/{id}: no", refuse("X", "{X} %s: no", "http://h/{id}").Error(), "values are never read for placeholders")
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		got, err := ParseMode(string(m))
		require.NoError(t, err)
		assert.Equal(t, m, got)
		assert.True(t, got.Valid())
	}
	_, err := ParseMode("Issuance")
	assert.ErrorContains(t, err, `unknown load mode "Issuance"`)
	assert.False(t, Mode("").Valid())
	assert.True(t, ModeCached.CallsAPI())
	assert.False(t, ModeRamp.CallsAPI())
	assert.True(t, ModeRamp.Ramps())
	assert.False(t, ModeIssuance.Ramps())
}

// countingDialer counts every dial of a run and dials only loopback addresses: a test never
// reaches another host, even when the rule under test fails.
func countingDialer(n *atomic.Int64) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !loopback.Host(host) {
			return nil, errors.New("the test dials loopback only")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// Run refuses plain HTTP to a remote host before it dials anything, in every mode, whatever
// AllowRemote and MaxRate say; the same dialer is dialled for a loopback target, so the count
// would see an attempt.
func TestRunRefusesPlainHTTPToARemoteHostBeforeDialling(t *testing.T) {
	cases := []struct {
		name string
		mode Mode
		edit func(*Config)
	}{
		{"issuance", ModeIssuance, func(c *Config) { c.TokenURL = "http://192.0.2.1/token" }},
		{"ramp", ModeRamp, func(c *Config) { c.TokenURL = "http://192.0.2.1/token" }},
		{"cached, its token URL", ModeCached, func(c *Config) { c.TokenURL = "http://192.0.2.1/token" }},
		{"cached, its API URL", ModeCached, func(c *Config) { c.APIURL = "http://192.0.2.1/products" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dials atomic.Int64
			cfg := validConfig(c.mode)
			cfg.AllowRemote, cfg.MaxRate, cfg.DialContext = true, 1000, countingDialer(&dials)
			cfg.Dir = filepath.Join(t.TempDir(), "load")
			c.edit(&cfg)
			sum, err := Run(context.Background(), cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.ErrorIs(t, err, loopback.ErrCleartext)
			assert.Nil(t, sum)
			assert.Zero(t, dials.Load(), "nothing was dialled")
			assert.NoDirExists(t, cfg.Dir, "nothing was written")
		})
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"access_token":"opaque","expires_in":60}`))
	}))
	defer srv.Close()
	var dials atomic.Int64
	cfg := validConfig(ModeIssuance)
	cfg.TokenURL, cfg.Duration, cfg.DialContext = srv.URL, 100*time.Millisecond, countingDialer(&dials)
	cfg.Dir = filepath.Join(t.TempDir(), "load")
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Positive(t, dials.Load(), "the run dials through DialContext")
}
