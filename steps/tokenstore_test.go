package steps

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/mock"
)

// testClock is a clock the test moves; the mock and the harness share it.
type testClock struct{ off atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// checkResult is the summary's row of a check.
func checkResult(t *testing.T, sum *evidence.Summary, id string) evidence.CheckResult {
	t.Helper()
	for _, c := range sum.Checks {
		if c.ID == id {
			return c
		}
	}
	require.Failf(t, "no such check", "%s is not in the summary", id)
	return evidence.CheckResult{}
}

// treeHolds reports whether any file under dir holds s.
func treeHolds(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		found = found || strings.Contains(string(b), s)
		return err
	}))
	return found
}

// TestTokenStoreRunsBearer11AgainstAnyServer runs BEARER-01 once with a token store and no
// control API (as against UAT), moves the mock's clock past the token's lifetime, and runs
// BEARER-11 with the same store: the stored token, expired by now, is presented, and the verdict
// is the server's. The store holds the token with mode 0600 and no secret; the evidence of both
// runs names it by fingerprint only.
func TestTokenStoreRunsBearer11AgainstAnyServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quirks []string
		want   evidence.Status
	}{
		{"a server refusing expired tokens passes", nil, evidence.StatusPassed},
		{"a server accepting expired tokens fails", []string{"api-ignore-expiry"}, evidence.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &testClock{}
			opts := []mock.Option{mock.WithNow(clock.now), mock.WithTokenTTL(time.Hour)}
			if tc.quirks != nil {
				opts = append(opts, mock.WithQuirks(tc.quirks...))
			}
			_, cfg := startMock(t, catalog.ProfileDerbySoft, false, opts...)
			store := filepath.Join(t.TempDir(), "tokens")
			cfg.Control, cfg.TokenStore, cfg.Now = nil, store, clock.now

			first := cfg
			first.Tags = "@BEARER-01,@BEARER-11"
			sum, err := Run(context.Background(), first)
			require.NoError(t, err)
			b11 := checkResult(t, sum, "BEARER-11")
			assert.Equal(t, evidence.StatusSkipped, b11.Status)
			assert.Contains(t, b11.Reason, "--token-store "+store, "the reason names the flag and its directory")

			files, err := filepath.Glob(filepath.Join(store, "*.json"))
			require.NoError(t, err)
			require.Len(t, files, 1, "one token kept a run")
			fi, err := os.Stat(files[0])
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the stored token's mode")
			di, err := os.Stat(store)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), di.Mode().Perm(), "the store's mode")
			var kept storedToken
			b, err := os.ReadFile(files[0])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &kept))
			for _, form := range redact.Forms(cfg.ClientID, cfg.ClientSecret) {
				assert.NotContains(t, string(b), form, "the token store holds a form of the client secret")
			}
			assert.False(t, treeHolds(t, first.OutDir, kept.Token), "the evidence holds the stored token")

			clock.advance(time.Hour + storeGrace + time.Minute)
			second := cfg
			second.Tags, second.OutDir = "@BEARER-11", t.TempDir()
			sum, err = Run(context.Background(), second)
			require.NoError(t, err)
			b11 = checkResult(t, sum, "BEARER-11")
			assert.Equal(t, tc.want, b11.Status, "BEARER-11: %s", b11.Reason)
			assert.False(t, treeHolds(t, second.OutDir, kept.Token), "the evidence holds the stored token")
			assert.True(t, treeHolds(t, second.OutDir, redact.Fingerprint(kept.Token)), "the evidence names the stored token by its fingerprint")
		})
	}
}

func TestTokenStoreWaitsUntilTheTokenExpired(t *testing.T) {
	clock := &testClock{}
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false, mock.WithNow(clock.now), mock.WithTokenTTL(time.Hour))
	cfg.Control, cfg.TokenStore, cfg.Now = nil, filepath.Join(t.TempDir(), "tokens"), clock.now
	cfg.Tags = "@BEARER-01"
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)

	cfg.Tags, cfg.OutDir = "@BEARER-11", t.TempDir()
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	b11 := checkResult(t, sum, "BEARER-11")
	assert.Equal(t, evidence.StatusSkipped, b11.Status)
	assert.Contains(t, b11.Reason, "run again with the same --token-store after")
}

func TestBearer11SkipNamesTheTokenStoreFlag(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.Control, cfg.Tags = nil, "@BEARER-11"
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	b11 := checkResult(t, sum, "BEARER-11")
	assert.Equal(t, evidence.StatusSkipped, b11.Status)
	assert.Contains(t, b11.Reason, "--token-store DIR")
}

func TestTokenStoreRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, cfg *Config)
		want  string
	}{
		{"inside the evidence directory", func(t *testing.T, cfg *Config) {
			cfg.TokenStore = filepath.Join(cfg.OutDir, "tokens")
		}, "overlaps the evidence directory"},
		{"holding the evidence directory", func(t *testing.T, cfg *Config) {
			cfg.TokenStore = filepath.Dir(cfg.OutDir)
		}, "overlaps the evidence directory"},
		{"open to other users", func(t *testing.T, cfg *Config) {
			cfg.TokenStore = filepath.Join(t.TempDir(), "open")
			require.NoError(t, os.Mkdir(cfg.TokenStore, 0o755))
			require.NoError(t, os.Chmod(cfg.TokenStore, 0o755))
		}, "chmod 700"},
		{"a file", func(t *testing.T, cfg *Config) {
			cfg.TokenStore = filepath.Join(t.TempDir(), "file")
			require.NoError(t, os.WriteFile(cfg.TokenStore, nil, 0o600))
		}, "token store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cfg := startMock(t, catalog.ProfileDerbySoft, false)
			tc.setup(t, &cfg)
			_, err := Run(context.Background(), cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, s.MaxInFlight(), "a request was sent")
		})
	}
}

// TestAPIURLForRunsBearer13 gives the other-scope API only through APIURLFor (--api-url-for),
// by the derbysoft name of the API or by its scope.
func TestAPIURLForRunsBearer13(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    string
		quirks []string
		want   evidence.Status
	}{
		{"the API's name stands for its scope", "shopping", nil, evidence.StatusPassed},
		{"the scope itself", "shop.all", nil, evidence.StatusPassed},
		{"an API without a scope check fails", "shopping", []string{"api-no-scope-check"}, evidence.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []mock.Option
			if tc.quirks != nil {
				opts = append(opts, mock.WithQuirks(tc.quirks...))
			}
			s, cfg := startMock(t, catalog.ProfileDerbySoft, false, opts...)
			cfg.OtherScopeURL, cfg.Tags = "", "@BEARER-13"
			cfg.APIURLFor = map[string]string{"products": s.APIURL(), tc.key: s.URL() + "/shopping"}
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			b13 := checkResult(t, sum, "BEARER-13")
			assert.Equal(t, tc.want, b13.Status, "BEARER-13: %s", b13.Reason)
		})
	}
}

func TestBearer13SkipNamesTheAPIURLForFlag(t *testing.T) {
	s, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.OtherScopeURL, cfg.Tags = "", "@BEARER-13"
	cfg.APIURLFor = map[string]string{"product.all": s.APIURL()} // no API of another scope
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	b13 := checkResult(t, sum, "BEARER-13")
	assert.Equal(t, evidence.StatusSkipped, b13.Status)
	assert.Contains(t, b13.Reason, "--api-url-for SCOPE=URL")
}

func TestAPIScope(t *testing.T) {
	for _, tc := range []struct{ profile, key, want string }{
		{catalog.ProfileDerbySoft, "products", "product.all"},
		{catalog.ProfileDerbySoft, "Shopping", "shop.all"},
		{catalog.ProfileDerbySoft, "livecheck", "livecheck.all"},
		{catalog.ProfileDerbySoft, "reservation.all", "reservation.all"},
		{catalog.ProfileRFC6749, "shopping", "shopping"},
	} {
		assert.Equal(t, tc.want, APIScope(tc.profile, tc.key), "%s %s", tc.profile, tc.key)
	}
}
