package mock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/mock"
)

func TestControlAPI(t *testing.T) {
	ctx := context.Background()
	t.Run("refuses a missing or wrong control token", func(t *testing.T) {
		h := newHarness(t)
		for _, tok := range []string{"", "wrong"} {
			err := mock.NewControlClient(h.srv.URL(), tok, h.hc).Reset(ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "401")
		}
	})
	t.Run("a chosen control token works", func(t *testing.T) {
		h := newHarness(t, mock.WithControlToken("let-me-in"))
		assert.Equal(t, "let-me-in", h.srv.ControlToken())
		assert.NoError(t, mock.NewControlClient(h.srv.URL(), "let-me-in", h.hc).Reset(ctx))
	})
	t.Run("counters show token requests, issues, API calls and rejections per client", func(t *testing.T) {
		h := newHarness(t)
		tok, _ := h.token("")
		h.token("")
		h.do(form(basic(mock.DefaultClientID, "wrong"), gtCC))
		h.api(http.MethodGet, "/products", bearer(tok))
		h.api(http.MethodPost, "/shopping", bearer(tok))
		h.api(http.MethodGet, "/products", bearer(tok+"x"))
		c, err := h.srv.Control().Counters(ctx)
		require.NoError(t, err)
		assert.Equal(t, mock.ClientCounters{TokenRequests: 3, TokensIssued: 2, APICalls: 2, Rejections: 1}, c[mock.DefaultClientID])
		assert.Equal(t, mock.ClientCounters{}, c[mock.DefaultClient2ID])
	})
	t.Run("a refused request counts against the client it names", func(t *testing.T) {
		h := newHarness(t)
		// client_secret_post naming DEMO2, and Basic DEMO2 with a different client_id in the body
		h.do(form("", gtCC+"&client_id="+mock.DefaultClient2ID+"&client_secret=x"))
		h.do(form(basic(mock.DefaultClient2ID, mock.DefaultClient2Secret), gtCC+"&client_id=OTHER"))
		h.do(form(basic("NOBODY", "x"), gtCC))
		c, err := h.srv.Control().Counters(ctx)
		require.NoError(t, err)
		assert.Equal(t, mock.ClientCounters{TokenRequests: 2, Rejections: 2}, c[mock.DefaultClient2ID])
		assert.Equal(t, mock.ClientCounters{}, c[mock.DefaultClientID])
	})
	t.Run("a quirk that authenticates without credentials counts for the first client", func(t *testing.T) {
		h := newHarness(t, mock.WithQuirks("accept-no-credentials"))
		e := h.do(form("", gtCC))
		require.Equal(t, http.StatusOK, e.status, "%s", e.body)
		c, err := h.srv.Control().Counters(ctx)
		require.NoError(t, err)
		assert.Equal(t, mock.ClientCounters{TokenRequests: 1, TokensIssued: 1}, c[mock.DefaultClientID])
	})
	t.Run("issued tokens are listed, and cleared by Reset", func(t *testing.T) {
		h := newHarness(t)
		t1, _ := h.token("")
		t2, _ := h.token("")
		toks, err := h.srv.Control().IssuedTokens(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{t1, t2}, toks)
		require.NoError(t, h.srv.Control().Reset(ctx))
		toks, err = h.srv.Control().IssuedTokens(ctx)
		require.NoError(t, err)
		assert.Empty(t, toks)
	})
	t.Run("Advance expires tokens at the API", func(t *testing.T) {
		h := newHarness(t, mock.WithTokenTTL(60*time.Second))
		tok, _ := h.token("")
		// exp is in whole seconds (iat truncated), so stop up to a second short of the lifetime.
		require.NoError(t, h.srv.Control().Advance(ctx, 58*time.Second))
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(tok)).status)
		require.NoError(t, h.srv.Control().Advance(ctx, 3*time.Second))
		e := h.api(http.MethodGet, "/products", bearer(tok))
		assert.Equal(t, 401, e.status)
		assert.Contains(t, e.header.Get("WWW-Authenticate"), "expired")
	})
	t.Run("Advance moves the clock of new tokens", func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.srv.Control().Advance(ctx, 24*time.Hour))
		tok, _ := h.token("")
		_, c := jwtParts(t, tok)
		assert.InDelta(t, time.Now().Add(24*time.Hour).Unix(), c["iat"], 2)
	})
	t.Run("SetConfig changes lifetime and policy", func(t *testing.T) {
		h := newHarness(t)
		ttl, pol := 2*time.Second, mock.PolicyCached
		require.NoError(t, h.srv.Control().SetConfig(ctx, mock.ConfigPatch{TokenTTL: &ttl, Policy: &pol}))
		t1, m := h.token("")
		t2, _ := h.token("")
		assert.Equal(t, float64(2), m["expires_in"])
		assert.Equal(t, t1, t2)
		bad := 1500 * time.Millisecond
		assert.Error(t, h.srv.Control().SetConfig(ctx, mock.ConfigPatch{TokenTTL: &bad}))
		wrong := mock.Policy("sometimes")
		assert.Error(t, h.srv.Control().SetConfig(ctx, mock.ConfigPatch{Policy: &wrong}))
	})
	t.Run("SetConfig takes the same Config: quirks and faults change, server fields are refused by name", func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.srv.Control().SetConfig(ctx, mock.Config{Quirks: []string{"no-pragma"}, Faults: &mock.Faults{ErrorRate: 1}}))
		active, err := h.srv.Control().ActiveQuirks(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"no-pragma"}, active)
		assert.Equal(t, 500, h.do(tokenReq("")).status/100*100, "the error fault is on")
		require.NoError(t, h.srv.Control().SetConfig(ctx, mock.Config{Faults: &mock.Faults{}}))
		_, m := h.token("")
		assert.Equal(t, float64(28800), m["expires_in"])
		for field, p := range map[string]mock.Config{
			"addr": {Addr: "127.0.0.1:1"}, "tls": {TLS: true}, "clients": {Clients: []mock.Client{{ID: "X", Secret: "long-enough"}}},
			"key_file": {KeyFile: "k.pem"},
		} {
			err := h.srv.Control().SetConfig(ctx, p)
			if assert.Error(t, err, field) {
				assert.Contains(t, err.Error(), field)
			}
		}
	})
	t.Run("AddClient makes a new client usable; Reset removes it", func(t *testing.T) {
		h := newHarness(t)
		cl := mock.Client{ID: "ACME", Secret: "acme+secret", Scopes: []string{"product.all"}, Distributor: "ACME-DIS"}
		require.NoError(t, h.srv.Control().AddClient(ctx, cl))
		e := h.do(form(basic("ACME", "acme+secret"), gtCC))
		require.Equal(t, 200, e.status)
		_, c := jwtParts(t, e.json(t)["access_token"].(string))
		assert.Equal(t, "ACME-DIS", c["dis"])
		assert.Equal(t, []any{"product.all"}, c["scope"])
		assert.Error(t, h.srv.Control().AddClient(ctx, mock.Client{ID: "a:b", Secret: "x"}))
		require.NoError(t, h.srv.Control().Reset(ctx))
		assert.Equal(t, 401, h.do(form(basic("ACME", "acme+secret"), gtCC)).status)
	})
	t.Run("RotateKey signs with a new key; the old stays in the JWKS and valid", func(t *testing.T) {
		h := newHarness(t)
		old, _ := h.token("")
		oldHdr, _ := jwtParts(t, old)
		require.NoError(t, h.srv.Control().RotateKey(ctx))
		fresh, _ := h.token("")
		newHdr, _ := jwtParts(t, fresh)
		assert.NotEqual(t, oldHdr["kid"], newHdr["kid"])
		var set jose.JSONWebKeySet
		require.NoError(t, json.Unmarshal(h.do(request{method: http.MethodGet, path: mock.JWKSPath}).body, &set))
		assert.Len(t, set.Keys, 2)
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(old)).status)
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(fresh)).status)
	})
	t.Run("Mint refuses an unknown client", func(t *testing.T) {
		h := newHarness(t)
		_, err := h.srv.Control().Mint(ctx, mock.MintRequest{ClientID: "NOBODY"})
		assert.Error(t, err)
	})
	t.Run("Mint makes valid, expired and foreign tokens with the asked scopes", func(t *testing.T) {
		h := newHarness(t)
		tok, err := h.srv.Control().Mint(ctx, mock.MintRequest{ClientID: mock.DefaultClientID, Scopes: []string{"shop.all"}, TTL: time.Minute})
		require.NoError(t, err)
		_, c := jwtParts(t, tok)
		assert.Equal(t, float64(60), c["exp"].(float64)-c["iat"].(float64))
		assert.Equal(t, 200, h.api(http.MethodPost, "/shopping", bearer(tok)).status)
		assert.Equal(t, 403, h.api(http.MethodGet, "/products", bearer(tok)).status)
		exp, err := h.srv.Control().Mint(ctx, mock.MintRequest{ClientID: mock.DefaultClientID, Expired: true})
		require.NoError(t, err)
		_, c = jwtParts(t, exp)
		assert.Less(t, c["exp"].(float64), float64(time.Now().Unix()))
	})
	t.Run("faults are validated", func(t *testing.T) {
		h := newHarness(t)
		assert.Error(t, h.srv.Control().SetFaults(ctx, mock.Faults{ErrorRate: 1.5}))
		assert.Error(t, h.srv.Control().SetFaults(ctx, mock.Faults{Latency: -time.Second}))
	})
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrorRate 1 answers 500 or 503 with a JSON error", func(t *testing.T) {
		h := newHarness(t, mock.WithFaults(mock.Faults{ErrorRate: 1}))
		for range 5 {
			e := h.do(tokenReq(""))
			assert.Contains(t, []int{500, 503}, e.status)
			assert.NotContains(t, e.json(t), "access_token")
		}
	})
	t.Run("RateLimitRate 1 answers 429 with Retry-After in whole seconds", func(t *testing.T) {
		h := newHarness(t, mock.WithFaults(mock.Faults{RateLimitRate: 1, RetryAfter: 1500 * time.Millisecond}))
		e := h.do(tokenReq(""))
		assert.Equal(t, 429, e.status)
		assert.Equal(t, "2", e.header.Get("Retry-After"))
	})
	t.Run("ResetRate 1 resets the connection", func(t *testing.T) {
		h := newHarness(t, mock.WithFaults(mock.Faults{ResetRate: 1}))
		req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader(gtCC))
		req.Header.Set("Authorization", demoBasic())
		req.Header.Set("Content-Type", formCT)
		_, err := h.hc.Do(req)
		require.Error(t, err)
	})
	t.Run("TruncateRate 1 cuts the JSON short under a 200", func(t *testing.T) {
		h := newHarness(t, mock.WithFaults(mock.Faults{TruncateRate: 1}))
		req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader(gtCC))
		req.Header.Set("Authorization", demoBasic())
		req.Header.Set("Content-Type", formCT)
		resp, err := h.hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "read error %v", err)
		assert.False(t, json.Valid(b))
	})
	t.Run("Latency delays every answer by at least its value", func(t *testing.T) {
		h := newHarness(t, mock.WithFaults(mock.Faults{Latency: 80 * time.Millisecond}))
		start := time.Now()
		h.token("")
		assert.GreaterOrEqual(t, time.Since(start), 80*time.Millisecond)
	})
	for _, dropOld := range []bool{false, true} {
		name := "KeyRotateEvery rotates the key once the interval has passed, keeping the old key"
		if dropOld {
			name = "KeyRotateEvery with KeyRotateDropOld rotates without overlap: old tokens fail"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, mock.WithFaults(mock.Faults{KeyRotateEvery: time.Hour, KeyRotateDropOld: dropOld}))
			old, _ := h.token("")
			oldHdr, _ := jwtParts(t, old)
			h.token("") // within the hour: no rotation
			assert.Len(t, jwksKeys(t, h), 1)
			require.NoError(t, h.srv.Control().Advance(ctx, time.Hour))
			h.token("") // starts the rotation in the background
			want := 2
			if dropOld {
				want = 1
			}
			require.Eventually(t, func() bool {
				keys := jwksKeys(t, h)
				return len(keys) == want && keys[0].KeyID != oldHdr["kid"]
			}, 20*time.Second, 10*time.Millisecond)
			fresh, _ := h.token("")
			freshHdr, _ := jwtParts(t, fresh)
			assert.NotEqual(t, oldHdr["kid"], freshHdr["kid"])
			assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(fresh)).status)
			wantOld := 200
			if dropOld {
				wantOld = 401
			}
			assert.Equal(t, wantOld, h.api(http.MethodGet, "/products", bearer(old)).status)
		})
	}
	t.Run("SetFaults turns faults on and off at run time", func(t *testing.T) {
		h := newHarness(t)
		require.NoError(t, h.srv.Control().SetFaults(ctx, mock.Faults{ErrorRate: 1}))
		assert.GreaterOrEqual(t, h.do(tokenReq("")).status, 500)
		require.NoError(t, h.srv.Control().SetFaults(ctx, mock.Faults{}))
		assert.Equal(t, 200, h.do(tokenReq("")).status)
	})
}

// TestClientCredentialsLibraryWorksUnmodified: golang.org/x/oauth2/clientcredentials, header
// auth style (which form-encodes ID and secret, RFC 6749 §2.3.1), then the sample API.
func TestClientCredentialsLibraryWorksUnmodified(t *testing.T) {
	h := newHarness(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, h.hc)
	cfg := clientcredentials.Config{ClientID: mock.DefaultClientID, ClientSecret: mock.DefaultClientSecret,
		TokenURL: h.srv.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.WithinDuration(t, time.Now().Add(8*time.Hour), tok.Expiry, 5*time.Second)
	assert.Equal(t, "shop.all reservation.all product.all livecheck.all", tok.Extra("scope"))
	resp, err := cfg.Client(ctx).Get(h.srv.APIURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	t.Run("with scopes", func(t *testing.T) {
		cfg := cfg
		cfg.Scopes = []string{"product.all"}
		tok, err := cfg.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, "product.all", tok.Extra("scope"))
	})
	t.Run("a wrong secret is an oauth2.RetrieveError invalid_client", func(t *testing.T) {
		cfg := cfg
		cfg.ClientSecret = "wrong"
		_, err := cfg.Token(ctx)
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, "invalid_client", re.ErrorCode)
		assert.Equal(t, 401, re.Response.StatusCode)
	})
}

func TestServerLifecycle(t *testing.T) {
	t.Run("refuses a non-loopback address unless allowed", func(t *testing.T) {
		_, err := mock.New(mock.WithKey(testKey()), mock.WithAddr("0.0.0.0:0"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not loopback")
		assert.ErrorIs(t, err, mock.ErrNotLoopback)
	})
	t.Run("a taken address is a *net.OpError", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		_, err = mock.New(mock.WithKey(testKey()), mock.WithAddr(ln.Addr().String()))
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr)
		assert.NotErrorIs(t, err, mock.ErrNotLoopback)
	})
	t.Run("ValidateTTL wants whole seconds, at least 1s", func(t *testing.T) {
		assert.NoError(t, mock.ValidateTTL(time.Second))
		assert.NoError(t, mock.ValidateTTL(8*time.Hour))
		for _, d := range []time.Duration{0, -time.Second, 500 * time.Millisecond, 1500 * time.Millisecond} {
			assert.Error(t, mock.ValidateTTL(d), d)
		}
	})
	t.Run("refuses bad configuration with a clear error", func(t *testing.T) {
		for name, opt := range map[string]mock.Option{
			"sub-second lifetime": mock.WithTokenTTL(500 * time.Millisecond),
			"unknown policy":      mock.WithPolicy("sometimes"),
			"client without ID":   mock.WithClients(mock.Client{Secret: "x"}),
			"no clients":          mock.WithClients(),
			"bad fault rate":      mock.WithFaults(mock.Faults{ResetRate: -1}),
		} {
			_, err := mock.New(mock.WithKey(testKey()), opt)
			assert.Error(t, err, name)
		}
	})
	t.Run("URLs, health and metrics", func(t *testing.T) {
		h := newHarness(t)
		assert.True(t, strings.HasPrefix(h.srv.URL(), "http://127.0.0.1:"))
		assert.Equal(t, h.srv.URL()+"/ticket-distributor-authorizer/token", h.srv.TokenURL())
		assert.Equal(t, h.srv.URL()+"/products", h.srv.APIURL())
		assert.Equal(t, h.srv.URL()+"/.well-known/jwks.json", h.srv.JWKSURL())
		assert.Equal(t, 200, h.do(request{method: http.MethodGet, path: "/healthz"}).status)
		h.token("")
		h.do(form(basic(mock.DefaultClientID, "wrong"), gtCC))
		h.api(http.MethodGet, "/products", "")
		m := string(h.do(request{method: http.MethodGet, path: "/metrics"}).body)
		assert.Contains(t, m, "authzmock_tokens_issued_total 1")
		assert.Contains(t, m, `authzmock_rejections_total{endpoint="token",reason="invalid_client"} 1`)
		assert.Contains(t, m, `authzmock_rejections_total{endpoint="api",reason="missing_token"} 1`)
		assert.Contains(t, m, `authzmock_request_duration_seconds_count{handler="token"} 2`)
	})
	t.Run("Shutdown waits for an in-flight request", func(t *testing.T) {
		srv, err := mock.New(mock.WithKey(testKey()), mock.WithFaults(mock.Faults{Latency: 300 * time.Millisecond}))
		require.NoError(t, err)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		done := make(chan int, 1)
		started := make(chan struct{})
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader(gtCC))
			req.Header.Set("Authorization", demoBasic())
			req.Header.Set("Content-Type", formCT)
			close(started)
			resp, err := hc.Do(req)
			if err != nil {
				done <- -1
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		<-started
		// Wait until the server has the request in flight: the token endpoint is sleeping.
		require.Eventually(t, func() bool { return srv.InFlight() > 0 }, 5*time.Second, 5*time.Millisecond)
		require.NoError(t, srv.Shutdown(context.Background()))
		assert.Equal(t, 200, <-done)
	})
}

func jwksKeys(t *testing.T, h *harness) []jose.JSONWebKey {
	var set jose.JSONWebKeySet
	require.NoError(t, json.Unmarshal(h.do(request{method: http.MethodGet, path: mock.JWKSPath}).body, &set))
	return set.Keys
}
