package steps

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// runChecks runs the checks tags selects against a fresh mock with opts.
func runChecks(t *testing.T, tags string, opts ...mock.Option) *evidence.Summary {
	t.Helper()
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false, opts...)
	cfg.Tags = tags
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	return sum
}

// TestCache01ClassifiesHonestly: tokens that repeat within a second are a cache only when the
// same token comes back a second later; a server deriving tokens from the second is a reissuer.
func TestCache01ClassifiesHonestly(t *testing.T) {
	tests := []struct {
		name  string
		opts  []mock.Option
		class string // the note's first words
		later string // what the note says of the request a second later; "" when none is sent
	}{
		{"a new token per request", nil, "reissue:", ""},
		{"tokens derived from the second they are issued in", []mock.Option{mock.WithQuirks("deterministic-per-second")},
			"reissue, deterministic per second:", "a second later a new token with iat and exp"},
		{"a cache", []mock.Option{mock.WithPolicy(mock.PolicyCached)}, "cached:", "the same token again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := statusOf(runChecks(t, "@CACHE-01", tt.opts...), "CACHE-01")
			require.Equal(t, evidence.StatusPassed, c.Status, c.Reason)
			require.Len(t, c.Notes, 1)
			assert.True(t, strings.HasPrefix(c.Notes[0], tt.class), "note %q", c.Notes[0])
			if tt.later == "" {
				assert.NotContains(t, c.Notes[0], "second later")
			} else {
				assert.Contains(t, c.Notes[0], tt.later)
			}
		})
	}
}

// TestEveryTokenOfTheRunIsJudged: a defect that shows only in another check's token (a scoped
// answer, the second client's token) fails the check that judges every token, and the reason
// names where it was seen.
func TestEveryTokenOfTheRunIsJudged(t *testing.T) {
	tests := []struct {
		quirk, id, reason string
	}{
		{"scoped-answer-cacheable", "TOK-08", "expected Cache-Control: no-store"},
		{"scoped-answer-sloppy", "TOK-02", `expected Content-Type: application/json, got "text/plain`},
		{"scoped-answer-sloppy", "TOK-04", `expected token_type "Bearer" (any case), got "JWT"`},
		{"scoped-answer-sloppy", "TOK-10", "expected no field refresh_token, got one"},
		{"scoped-claim-all-scopes", "JWT-07", `to equal the answer's scope "product.all"`},
		{"jti-counter-per-client", "JWT-08", `jti "1" in the tokens of`},
	}
	for _, tt := range tests {
		t.Run(tt.quirk+"/"+tt.id, func(t *testing.T) {
			// The defect shows in the tokens other checks obtain: TOK-13 asks for a narrower
			// scope, CACHE-05 gets the second client's tokens.
			sum := runChecks(t, "@"+tt.id+",@TOK-13,@CACHE-05", mock.WithQuirks(tt.quirk))
			c := statusOf(sum, tt.id)
			require.Equal(t, evidence.StatusFailed, c.Status, "%s: %s", tt.id, c.Reason)
			assert.Contains(t, c.Reason, tt.reason)
			clean := statusOf(runChecks(t, "@"+tt.id+",@TOK-13,@CACHE-05"), tt.id)
			assert.Equal(t, evidence.StatusPassed, clean.Status, "%s on the clean mock: %s", tt.id, clean.Reason)
		})
	}
}

// TestCache03LooksAgainLater: a revocation that lands after the first call is seen by the call a
// second later (the mock's clock moves instead of the test waiting).
func TestCache03LooksAgainLater(t *testing.T) {
	c := statusOf(runChecks(t, "@CACHE-03", mock.WithQuirks("late-revoke-previous")), "CACHE-03")
	require.Equal(t, evidence.StatusFailed, c.Status)
	assert.Contains(t, c.Reason, "status 401")
	assert.Contains(t, strings.Join(c.Notes, "\n"), "presented again 1 s after")
}

// perBurstServer is a token endpoint that hands every client the token of the current "second",
// and whose second moves on between any two requests that do not overlap: a boundary between
// seconds falls between every two requests sent one after the other. Only requests sent at the
// same moment share a second, and so a token. A request waits (boundedly) for a partner, so two
// requests sent at once always overlap.
type perBurstServer struct {
	mu      sync.Mutex
	sec     int
	open    int           // requests of the current second not answered yet
	partner chan struct{} // closed when the current second has a second request
	arrived int
}

func (p *perBurstServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, _, ok := r.BasicAuth()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	if p.open == 0 {
		p.sec++
		p.arrived = 0
		p.partner = make(chan struct{})
	}
	p.open++
	p.arrived++
	if p.arrived == 2 {
		close(p.partner)
	}
	sec, partner := p.sec, p.partner
	p.mu.Unlock()
	select {
	case <-partner:
	case <-time.After(time.Second): // alone: the bounded wait of a request sent by itself
	case <-r.Context().Done():
	}
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprintf(w, `{"access_token":"second-%d-token","token_type":"Bearer","expires_in":3600,"client":%q}`, sec, id)
}

// TestCache05SendsPairsAtOnce: a server that gives every client the token of the second is
// caught even when a second boundary falls between any two requests sent one after the other.
func TestCache05SendsPairsAtOnce(t *testing.T) {
	srv := httptest.NewServer(&perBurstServer{})
	t.Cleanup(srv.Close)
	cfg := hostileConfig(t, srv.URL+"/token")
	cfg.Client2ID, cfg.Client2Secret = "client2", hostileSecret+"2"
	cfg.Profile, cfg.Tags, cfg.Timeout = catalog.ProfileRFC6749, "@CACHE-05", 5*time.Second
	cfg.wait = func(context.Context, time.Duration) error { return nil }
	sum, err := runBounded(t, cfg)
	require.NoError(t, err)
	c := statusOf(sum, "CACHE-05")
	require.Equal(t, evidence.StatusFailed, c.Status, c.Reason)
	assert.Equal(t, "must", c.Level)
	assert.Contains(t, c.Reason, "got the same token 3 times in 3 and 3 answers")
}

// TestJudgeScopeClaim: the granted scope is the answer's, or the requested one when the answer
// states none (RFC 6749 §5.1); with neither there is nothing to compare.
func TestJudgeScopeClaim(t *testing.T) {
	all := []any{"shop.all", "product.all"}
	tests := []struct {
		name     string
		claims   map[string]any
		answer   map[string]any
		body     string
		judged   bool
		whyHolds string // "" when the claim agrees
	}{
		{"claim equals the answer's scope", map[string]any{"scope": all}, map[string]any{"scope": "product.all shop.all"}, "", true, ""},
		{"claim wider than the answer's scope", map[string]any{"scope": all}, map[string]any{"scope": "product.all"}, "", true, `the answer's scope "product.all"`},
		{"claim wider than the requested scope, none stated", map[string]any{"scp": "shop.all product.all"}, map[string]any{}, "grant_type=client_credentials&scope=product.all", true, `the requested scope (the answer states none) "product.all"`},
		{"claim equals the requested scope, none stated", map[string]any{"scope": []any{"product.all"}}, map[string]any{}, "scope=product.all", true, ""},
		{"nothing requested, nothing stated", map[string]any{"scope": all}, map[string]any{}, "grant_type=client_credentials", false, ""},
		{"no claim", map[string]any{}, map[string]any{"scope": "product.all"}, "", false, ""},
		{"claim of the wrong type", map[string]any{"scope": 7.0}, map[string]any{"scope": "product.all"}, "", true, "an array or a space-delimited string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requested, asked := requestedScope(request{body: []byte(tt.body), url: "http://127.0.0.1/token"})
			judged, why := judgeScopeClaim(tt.claims, tt.answer, requested, asked)
			assert.Equal(t, tt.judged, judged)
			if tt.whyHolds == "" {
				assert.Empty(t, why)
			} else {
				assert.Contains(t, why, tt.whyHolds)
			}
		})
	}
}
