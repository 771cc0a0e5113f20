package steps

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// TestTOK06ReadsACachedTokensLifetime: a server that answers a cached token with the seconds it
// has left (expires_in 28700, 100 s after it was issued for 28800) passes TOK-06, judged by the
// token's exp - iat; a token issued for an hour fails it whatever its age.
func TestTOK06ReadsACachedTokensLifetime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []mock.Option
		status evidence.Status
		says   string
	}{
		// 28700 s left, or 28699 when a second's boundary passes between issue and answer.
		{"a cached token with 28700 s left passes", []mock.Option{mock.WithQuirks("shared-token")}, evidence.StatusPassed, " s left: issued for exp - iat = 28800 s"},
		{"a fresh token for an hour fails", []mock.Option{mock.WithTokenTTL(time.Hour)}, evidence.StatusFailed, "expected expires_in 28800, got 3600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cfg := startMock(t, catalog.ProfileDerbySoft, false, tc.opts...)
			// A token issued before the run, 100 s ago by the mock's clock.
			req, err := http.NewRequest(http.MethodPost, cfg.TokenURL, strings.NewReader("grant_type=client_credentials"))
			require.NoError(t, err)
			req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, s.Control().Advance(context.Background(), 100*time.Second))

			cfg.Tags = "@TOK-06"
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			c := statusOf(sum, "TOK-06")
			assert.Equal(t, tc.status, c.Status, c.Reason)
			assert.Contains(t, c.Reason+strings.Join(c.Notes, "\n"), tc.says)
		})
	}
}
