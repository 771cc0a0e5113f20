package mock_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

// observe starts a harness whose observer sends every Exchange on the returned channel.
func observe(t *testing.T, opts ...mock.Option) (*harness, <-chan mock.Exchange) {
	t.Helper()
	ch := make(chan mock.Exchange, 256)
	h := newHarness(t, append(opts, mock.WithObserver(func(e mock.Exchange) { ch <- e }))...)
	return h, ch
}

// next is the next Exchange reported; the observer runs after the answer is written, so it may
// arrive just after the client has read the answer.
func next(t *testing.T, ch <-chan mock.Exchange) mock.Exchange {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the observer was not called")
		return mock.Exchange{}
	}
}

func claimExp(t *testing.T, tok string) time.Time {
	t.Helper()
	_, claims := jwtParts(t, tok)
	exp, ok := claims["exp"].(float64)
	require.True(t, ok, "exp claim: %v", claims["exp"])
	return time.Unix(int64(exp), 0)
}

func TestObserverReportsTokenAnswer(t *testing.T) {
	h, ch := observe(t)
	before := time.Now()
	tok, _ := h.token("scope=product.all")
	e := next(t, ch)

	assert.Equal(t, "token", e.Endpoint)
	assert.Equal(t, http.MethodPost, e.Method)
	assert.Equal(t, mock.TokenPath, e.Path)
	assert.Equal(t, http.StatusOK, e.Status)
	assert.Equal(t, mock.DefaultClientID, e.ClientID)
	assert.Equal(t, tok, e.IssuedToken)
	assert.Equal(t, int64(28800), e.ExpiresIn)
	assert.Equal(t, claimExp(t, tok), e.TokenExpiry)
	assert.Empty(t, e.Error)
	assert.Empty(t, e.BearerToken)
	assert.Equal(t, "grant_type=client_credentials&scope=product.all", string(e.Body))
	assert.False(t, e.BodyTruncated)
	assert.Equal(t, demoBasic(), e.Header.Get("Authorization"), "the observer gets raw headers")
	assert.Equal(t, "application/json", e.ResponseHeader.Get("Content-Type"))
	assert.Equal(t, "no-store", e.ResponseHeader.Get("Cache-Control"))
	assert.Zero(t, e.TLSVersion)
	assert.NotEmpty(t, e.Remote)
	assert.False(t, e.Start.Before(before.Truncate(time.Second)))
	assert.False(t, e.End.Before(e.Start))
	assert.Empty(t, ch, "one request, one Exchange")
}

func TestObserverReportsAPICall(t *testing.T) {
	h, ch := observe(t)
	tok, _ := h.token("")
	next(t, ch)

	e := h.api(http.MethodGet, "/products?page=2", bearer(tok))
	require.Equal(t, http.StatusOK, e.status)
	x := next(t, ch)
	assert.Equal(t, "api", x.Endpoint)
	assert.Equal(t, "/products", x.Path)
	assert.Equal(t, "page=2", x.RawQuery)
	assert.Equal(t, http.StatusOK, x.Status)
	assert.Equal(t, mock.DefaultClientID, x.ClientID)
	assert.Equal(t, tok, x.BearerToken)
	assert.Equal(t, claimExp(t, tok), x.TokenExpiry)
	assert.Empty(t, x.IssuedToken)
	assert.Empty(t, x.Error)
}

func TestObserverReportsRejections(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		opts       []mock.Option
		endpoint   string
		status     int
		errCode    string
		bearer     string
		wantClient string
	}{
		{name: "wrong secret is invalid_client with no client", endpoint: "token", status: http.StatusUnauthorized, errCode: "invalid_client",
			req: request{header: [][2]string{{"Authorization", basic(mock.DefaultClientID, "wrong")}, {"Content-Type", formCT}}, body: "grant_type=client_credentials"}},
		{name: "unknown scope after authentication names the client", endpoint: "token", status: http.StatusBadRequest, errCode: "invalid_scope",
			req: tokenReq("scope=nope.all"), wantClient: mock.DefaultClientID},
		{name: "malformed Basic under html-errors still reports the OAuth code", endpoint: "token", status: http.StatusUnauthorized, errCode: "invalid_client",
			opts: []mock.Option{mock.WithQuirks("html-errors")},
			req:  request{header: [][2]string{{"Authorization", "Basic !!!"}, {"Content-Type", formCT}}, body: "grant_type=client_credentials"}},
		{name: "injected server error", endpoint: "token", status: http.StatusTooManyRequests, errCode: "temporarily_unavailable",
			opts: []mock.Option{mock.WithFaults(mock.Faults{RateLimitRate: 1})}, req: tokenReq("")},
		{name: "garbage bearer token", endpoint: "api", status: http.StatusUnauthorized, errCode: "Unauthorized", bearer: "not-a-jwt",
			req: request{method: http.MethodGet, path: "/products", header: [][2]string{{"Authorization", "Bearer not-a-jwt"}}}},
		{name: "no token", endpoint: "api", status: http.StatusUnauthorized, errCode: "Unauthorized",
			req: request{method: http.MethodGet, path: "/products"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ch := observe(t, tc.opts...)
			e := h.do(tc.req)
			require.Equal(t, tc.status, e.status, "%s", e.body)
			x := next(t, ch)
			assert.Equal(t, tc.endpoint, x.Endpoint)
			assert.Equal(t, tc.status, x.Status)
			assert.Equal(t, tc.errCode, x.Error)
			assert.Equal(t, tc.wantClient, x.ClientID)
			assert.Equal(t, tc.bearer, x.BearerToken)
			assert.Empty(t, x.IssuedToken)
			assert.Zero(t, x.ExpiresIn)
			assert.True(t, x.TokenExpiry.IsZero())
		})
	}
}

func TestObserverExpiresInSentAsString(t *testing.T) {
	h, ch := observe(t, mock.WithQuirks("expires-in-string"))
	_, m := h.token("")
	require.Equal(t, "28800", m["expires_in"])
	assert.Equal(t, int64(28800), next(t, ch).ExpiresIn)
}

func TestObserverExpiredTokenNamesItsClient(t *testing.T) {
	h, ch := observe(t, mock.WithTokenTTL(time.Second))
	tok, _ := h.token("")
	next(t, ch)
	require.NoError(t, h.srv.Control().Advance(context.Background(), time.Hour))
	next(t, ch) // the control call

	e := h.api(http.MethodGet, "/products", bearer(tok))
	require.Equal(t, http.StatusUnauthorized, e.status)
	x := next(t, ch)
	assert.Equal(t, mock.DefaultClientID, x.ClientID)
	assert.Equal(t, claimExp(t, tok), x.TokenExpiry)
	assert.Equal(t, "Unauthorized", x.Error)
}

func TestObserverOtherEndpoints(t *testing.T) {
	tests := []struct{ path, endpoint string }{
		{"/healthz", "healthz"}, {"/metrics", "metrics"}, {mock.JWKSPath, "jwks"},
		{"/_control/counters", "control"}, {"/nope", "other"},
	}
	h, ch := observe(t)
	for _, tc := range tests {
		h.do(request{method: http.MethodGet, path: tc.path})
		assert.Equal(t, tc.endpoint, next(t, ch).Endpoint, tc.path)
	}
}

func TestObserverBodyBounded(t *testing.T) {
	h, ch := observe(t)
	body := "grant_type=client_credentials&x=" + strings.Repeat("a", 70<<10)
	e := h.do(request{header: [][2]string{{"Authorization", demoBasic()}, {"Content-Type", formCT}}, body: body})
	require.Equal(t, http.StatusRequestEntityTooLarge, e.status)
	x := next(t, ch)
	assert.True(t, x.BodyTruncated)
	assert.Len(t, x.Body, 64<<10)
	assert.Equal(t, body[:64<<10], string(x.Body))
}

func TestObserverConcurrentRequests(t *testing.T) {
	const n = 32
	var mu sync.Mutex
	got := map[string]mock.Exchange{}
	h := newHarness(t, mock.WithObserver(func(e mock.Exchange) {
		mu.Lock()
		got[e.IssuedToken] = e
		mu.Unlock()
	}))
	toks := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			tok, _ := h.token("")
			toks <- tok
		})
	}
	wg.Wait()
	close(toks)
	// Every answer was read; close the server so every observer call has returned.
	h.srv.Close()
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, got, n)
	for tok := range toks {
		assert.Equal(t, mock.DefaultClientID, got[tok].ClientID)
	}
}

func TestTLSServesTrustingClients(t *testing.T) {
	h, ch := observe(t, mock.WithTLS())
	require.True(t, strings.HasPrefix(h.srv.URL(), "https://127.0.0.1:"), h.srv.URL())
	require.True(t, strings.HasPrefix(h.srv.TokenURL(), "https://"))
	require.True(t, strings.HasPrefix(h.srv.APIURL(), "https://"))

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.srv.RootCAs()}}
	t.Cleanup(tr.CloseIdleConnections)
	h.hc = &http.Client{Transport: tr}
	tok, _ := h.token("")
	assert.NotEmpty(t, tok)
	x := next(t, ch)
	assert.GreaterOrEqual(t, x.TLSVersion, uint16(tls.VersionTLS12))

	e := h.api(http.MethodGet, "/products", bearer(tok))
	assert.Equal(t, http.StatusOK, e.status)

	// The control client of a TLS mock trusts it.
	_, err := h.srv.Control().Counters(context.Background())
	assert.NoError(t, err)
}

func TestTLSRefusesUntrustingClients(t *testing.T) {
	h := newHarness(t, mock.WithTLS())
	_, err := h.hc.Post(h.srv.TokenURL(), formCT, strings.NewReader("grant_type=client_credentials"))
	var uae x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &uae, "a client that does not trust the mock's CA fails the handshake")

	// Plain HTTP to the TLS port is no way around it.
	plain := strings.Replace(h.srv.TokenURL(), "https://", "http://", 1)
	resp, err := h.hc.Post(plain, formCT, strings.NewReader("grant_type=client_credentials"))
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	}
}

func TestTLSCertificate(t *testing.T) {
	h := newHarness(t, mock.WithTLS())
	block, rest := pem.Decode(h.srv.CACertPEM())
	require.NotNil(t, block)
	assert.Empty(t, rest)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.True(t, ca.IsCA)
	assert.True(t, h.srv.RootCAs().Equal(func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(ca); return p }()))

	for _, host := range []string{"127.0.0.1", "localhost"} {
		conn, err := tls.Dial("tcp", h.srv.Addr().String(), &tls.Config{RootCAs: h.srv.RootCAs(), ServerName: host})
		require.NoError(t, err, host)
		leaf := conn.ConnectionState().PeerCertificates[0]
		assert.NoError(t, leaf.VerifyHostname("::1"), "the certificate covers ::1 too")
		assert.Equal(t, uint16(tls.VersionTLS13), conn.ConnectionState().Version)
		require.NoError(t, conn.Close())
	}
	_, err = tls.Dial("tcp", h.srv.Addr().String(), &tls.Config{RootCAs: h.srv.RootCAs(), MaxVersion: tls.VersionTLS11})
	assert.Error(t, err, "TLS 1.1 is refused")
}

func TestWithoutTLSNoCA(t *testing.T) {
	h := newHarness(t)
	assert.Nil(t, h.srv.CACertPEM())
	assert.Nil(t, h.srv.RootCAs())
}

func TestTLSResetFault(t *testing.T) {
	h, ch := observe(t, mock.WithTLS(), mock.WithFaults(mock.Faults{ResetRate: 1}))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: h.srv.RootCAs()}}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	_, err := hc.Post(h.srv.TokenURL(), formCT, strings.NewReader("grant_type=client_credentials"))
	assert.Error(t, err, "the connection is reset with no answer")
	x := next(t, ch)
	assert.Zero(t, x.Status, "no answer was written")
}
