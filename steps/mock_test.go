package steps

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// testKey is one signing key for every mock of the tests: generating RSA keys is slow.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// mockConfig is the Config the command builds for the embedded mock s (trusting its CA when it
// serves HTTPS).
func mockConfig(t testing.TB, s *mock.Server, profile string) Config {
	t.Helper()
	ctl := s.Control()
	cfg := Config{RootCAs: s.RootCAs()}
	cfg.TokenURL, cfg.APIURL = s.TokenURL(), s.APIURL()
	cfg.OtherScopeURL, cfg.JWKSURL = s.URL()+"/shopping", s.JWKSURL()
	cfg.ClientID, cfg.ClientSecret = mock.DefaultClientID, mock.DefaultClientSecret
	cfg.Client2ID, cfg.Client2Secret = mock.DefaultClient2ID, mock.DefaultClient2Secret
	cfg.Profile = profile
	cfg.Control = ControlFunc(func(ctx context.Context, id string) (string, error) {
		return ctl.Mint(ctx, mock.MintRequest{ClientID: id, Expired: true})
	})
	cfg.Timeout = 5 * time.Second
	cfg.OutDir = t.TempDir()
	// A check that looks again later (CACHE-01, CACHE-03) moves the mock's clock: no test waits.
	cfg.wait = func(ctx context.Context, d time.Duration) error { return ctl.Advance(ctx, d) }
	return cfg
}

// startMock starts a mock with the tests' key and opts, serving HTTPS when tls (as the command
// starts the embedded mock).
func startMock(t testing.TB, profile string, tls bool, opts ...mock.Option) (*mock.Server, Config) {
	t.Helper()
	if tls {
		opts = append(opts, mock.WithTLS())
	}
	s, err := mock.New(append([]mock.Option{mock.WithKey(testKey())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		// The run is over: do not wait for the mock to finish reading HTTP-04's refused body.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, mockConfig(t, s, profile)
}

// runAgainstMock runs the suite against a fresh mock and returns the summary.
func runAgainstMock(t testing.TB, profile string, tlsFront bool, opts ...mock.Option) *evidence.Summary {
	t.Helper()
	_, cfg := startMock(t, profile, tlsFront, opts...)
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	return sum
}

// failing returns the IDs of failed checks.
func failing(sum *evidence.Summary) []string {
	var ids []string
	for _, c := range sum.Checks {
		if c.Status == evidence.StatusFailed {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
