package steps

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/catalog"
)

// TestEveryRequestSaysWhoCalled: every request of a whole run (token endpoint, API, JWKS),
// seen by a loopback proxy in front of the mock, carries User-Agent authzcheck/<version>.
func TestEveryRequestSaysWhoCalled(t *testing.T) {
	s, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	target, err := url.Parse(s.URL())
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		agents = map[string]int{}
		paths  = map[string]bool{}
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.Header.Get("User-Agent")]++
		paths[r.URL.Path] = true
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	via := func(u string) string { return strings.Replace(u, s.URL(), srv.URL, 1) }
	cfg.TokenURL, cfg.APIURL, cfg.OtherScopeURL, cfg.JWKSURL = via(cfg.TokenURL), via(cfg.APIURL), via(cfg.OtherScopeURL), via(cfg.JWKSURL)

	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "passed", sum.Result)
	mu.Lock()
	defer mu.Unlock()
	want := buildinfo.UserAgent()
	require.True(t, strings.HasPrefix(want, "authzcheck/"), want)
	assert.Len(t, agents, 1, "one User-Agent for every request: %v", agents)
	assert.Greater(t, agents[want], 100, "every request of the run carries %q: %v", want, agents)
	assert.Greater(t, len(paths), 2, "token endpoint, API and JWKS: %v", paths)
}
