package steps

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/reports"
)

// testKey is one signing key for every mock of the tests: generating RSA keys is slow.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// mockConfig is the Config the command builds for the embedded mock, behind a TLS front.
func mockConfig(t testing.TB, s *mock.Server, front *TLSFront, profile string) Config {
	t.Helper()
	ctl := s.Control()
	return Config{
		TokenURL:      front.Rewrite(s.TokenURL()),
		APIURL:        front.Rewrite(s.APIURL()),
		OtherScopeURL: front.Rewrite(s.URL() + "/shopping"),
		ClientID:      mock.DefaultClientID, ClientSecret: mock.DefaultClientSecret,
		Client2ID: mock.DefaultClient2ID, Client2Secret: mock.DefaultClient2Secret,
		Profile:   profile,
		JWKSURL:   front.Rewrite(s.JWKSURL()),
		RootCAs:   front.RootCAs(),
		Control: ControlFunc(func(ctx context.Context, id string) (string, error) {
			return ctl.Mint(ctx, mock.MintRequest{ClientID: id, Expired: true})
		}),
		Timeout: 5 * time.Second,
		OutDir:  t.TempDir(),
	}
}

// runAgainstMock runs the suite against a fresh mock with opts and returns the summary.
func runAgainstMock(t testing.TB, profile string, opts ...mock.Option) *reports.Summary {
	t.Helper()
	s, err := mock.New(append([]mock.Option{mock.WithKey(testKey())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	front, err := NewTLSFront(s.URL())
	require.NoError(t, err)
	t.Cleanup(front.Close)
	sum, err := Run(context.Background(), mockConfig(t, s, front, profile))
	require.NoError(t, err)
	return sum
}

// failing returns the IDs of failed checks.
func failing(sum *reports.Summary) []string {
	var ids []string
	for _, c := range sum.Checks {
		if c.Status == reports.StatusFailed {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
