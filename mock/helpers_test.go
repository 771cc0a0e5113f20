package mock_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

// testKey is one RSA key shared by the tests, so each server need not generate its own.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

const formCT = "application/x-www-form-urlencoded"

// harness is a mock under test and an HTTP client of its own (closed at cleanup, so goleak sees
// no idle connections).
type harness struct {
	t   *testing.T
	srv *mock.Server
	hc  *http.Client
}

func newHarness(t *testing.T, opts ...mock.Option) *harness {
	t.Helper()
	srv, err := mock.New(append([]mock.Option{mock.WithKey(testKey())}, opts...)...)
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return &harness{t: t, srv: srv, hc: &http.Client{Transport: tr}}
}

// request is one HTTP request to the mock; header entries are added in order (so a name can
// repeat).
type request struct {
	method string
	path   string // with query; "" means the token endpoint
	header [][2]string
	body   string
}

// exchange is an answer with its body read.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

func (e exchange) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.body, &m), "body is not a JSON object: %s", e.body)
	return m
}

func (h *harness) do(r request) exchange {
	h.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = mock.TokenPath
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), r.method, h.srv.URL()+r.path, body)
	require.NoError(h.t, err)
	for _, kv := range r.header {
		req.Header.Add(kv[0], kv[1])
	}
	resp, err := h.hc.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// tokenReq is a valid token request (TOK-01) with extra form parameters appended.
func tokenReq(extra string) request {
	body := "grant_type=client_credentials"
	if extra != "" {
		body += "&" + extra
	}
	return request{header: [][2]string{{"Authorization", demoBasic()}, {"Content-Type", formCT}}, body: body}
}

func demoBasic() string { return basic(mock.DefaultClientID, mock.DefaultClientSecret) }

// token fetches a token for the demo client and returns the access token and the whole answer.
func (h *harness) token(extra string) (string, map[string]any) {
	h.t.Helper()
	e := h.do(tokenReq(extra))
	require.Equal(h.t, http.StatusOK, e.status, "token request failed: %s", e.body)
	m := e.json(h.t)
	tok, _ := m["access_token"].(string)
	require.NotEmpty(h.t, tok)
	return tok, m
}

// api calls a sample API path with an Authorization header value ("" for none).
func (h *harness) api(method, path, authz string) exchange {
	h.t.Helper()
	r := request{method: method, path: path}
	if authz != "" {
		r.header = [][2]string{{"Authorization", authz}}
	}
	if method == http.MethodPost {
		r.body = `{}`
		r.header = append(r.header, [2]string{"Content-Type", "application/json"})
	}
	return h.do(r)
}

// jwtParts decodes a compact JWS's header and claims.
func jwtParts(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[i], "="))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return header, claims
}

// oauthErrorCodes is RFC 6749 §5.2's set.
var oauthErrorCodes = map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true}

// assertOAuthError checks an error answer of the token endpoint: status, code, and what every
// error must hold (HTTP-05 JSON from §5.2's set, HTTP-06 no-store, HTTP-08 no secret, no token).
func assertOAuthError(t *testing.T, e exchange, status int, code string) {
	t.Helper()
	assert.Equal(t, status, e.status, "body: %s", e.body)
	assert.Contains(t, e.header.Get("Content-Type"), "application/json")
	assert.Equal(t, "no-store", e.header.Get("Cache-Control"))
	assert.NotContains(t, string(e.body), mock.DefaultClientSecret)
	m := e.json(t)
	assert.NotContains(t, m, "access_token")
	assert.True(t, oauthErrorCodes[m["error"].(string)], "error %q is not in RFC 6749 §5.2's set", m["error"])
	if code != "" {
		assert.Equal(t, code, m["error"])
	}
	assert.IsType(t, "", m["error_description"])
}

// assertBasicChallenge checks a 401's WWW-Authenticate names the Basic scheme (AUTH-03).
func assertBasicChallenge(t *testing.T, e exchange) {
	t.Helper()
	assert.True(t, strings.HasPrefix(strings.ToLower(e.header.Get("WWW-Authenticate")), "basic "),
		"WWW-Authenticate %q", e.header.Get("WWW-Authenticate"))
}

func bearer(tok string) string { return "Bearer " + tok }
