package mock_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

// TestTokenEndpointIsStrict is one case per CHECKS.md row the token endpoint owns (TOK, AUTH,
// GRANT, HTTP), against the mock with no quirks.
func TestTokenEndpointIsStrict(t *testing.T) {
	h := newHarness(t)
	valid := demoBasic()
	withAuth := func(authz, ct, body string) request {
		r := request{body: body}
		if authz != "" {
			r.header = append(r.header, [2]string{"Authorization", authz})
		}
		if ct != "" {
			r.header = append(r.header, [2]string{"Content-Type", ct})
		}
		return r
	}
	gt := "grant_type=client_credentials"
	okToken := func(t *testing.T, e exchange) {
		require.Equal(t, http.StatusOK, e.status, "body: %s", e.body)
		assert.NotEmpty(t, e.json(t)["access_token"])
	}
	tests := []struct {
		name string
		req  request
		want func(t *testing.T, e exchange)
	}{
		{"TOK-01..10 a valid request gets a Bearer JWT with the seed's fields and no-store headers", tokenReq(""), func(t *testing.T, e exchange) {
			require.Equal(t, http.StatusOK, e.status)
			assert.Equal(t, "application/json", e.header.Get("Content-Type"))
			assert.Equal(t, "no-store", e.header.Get("Cache-Control"))
			assert.Equal(t, "no-cache", e.header.Get("Pragma"))
			assert.JSONEq(t, `{"access_token":"X","scope":"shop.all reservation.all product.all livecheck.all","token_type":"Bearer","expires_in":28800}`,
				strings.Replace(string(e.body), e.json(t)["access_token"].(string), "X", 1))
		}},
		{"TOK-11 an unknown parameter is ignored", tokenReq("foo=bar"), okToken},
		{"TOK-12 the Content-Type is matched case-insensitively with a charset", withAuth(valid, "Application/X-WWW-Form-Urlencoded; charset=UTF-8", gt), okToken},
		{"TOK-13 a subset scope is granted and returned", tokenReq("scope=product.all"), func(t *testing.T, e exchange) {
			require.Equal(t, http.StatusOK, e.status)
			assert.Equal(t, "product.all", e.json(t)["scope"])
		}},
		{"TOK-13 repeated and reordered scopes are granted once each", tokenReq("scope=" + url.QueryEscape("livecheck.all product.all livecheck.all")), func(t *testing.T, e exchange) {
			require.Equal(t, http.StatusOK, e.status)
			assert.Equal(t, "livecheck.all product.all", e.json(t)["scope"])
		}},
		{"TOK-14 a scope not granted to the client is invalid_scope", tokenReq("scope=admin.all"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_scope")
		}},
		{"AUTH-01 no credentials is 401 invalid_client with a Basic challenge", withAuth("", formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
			assertBasicChallenge(t, e)
		}},
		{"AUTH-02 AUTH-03 a wrong secret is 401 invalid_client with a Basic challenge", withAuth(basic(mock.DefaultClientID, "wrong-secret"), formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
			assertBasicChallenge(t, e)
		}},
		{"AUTH-04 an unknown client is 401 invalid_client", withAuth(basic("NOBODY", mock.DefaultClientSecret), formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
			assertBasicChallenge(t, e)
		}},
		{"AUTH-06 a Basic value that is not base64 is 401, not 5xx", withAuth("Basic !!!not-base64", formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
		}},
		{"AUTH-07 a Basic value without a colon is 401", withAuth("Basic "+base64.StdEncoding.EncodeToString([]byte(mock.DefaultClientID+mock.DefaultClientSecret)), formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
		}},
		{"AUTH-08 an empty secret is refused", withAuth(basic(mock.DefaultClientID, ""), formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
		}},
		{"AUTH-09 a Bearer credential on the token endpoint is refused", withAuth("Bearer abc.def.ghi", formCT, gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
			assertBasicChallenge(t, e)
		}},
		{"AUTH-10 the scheme name is case-insensitive", withAuth("basic "+strings.TrimPrefix(valid, "Basic "), formCT, gt), okToken},
		{"AUTH-10 an upper-case scheme name works too", withAuth("BASIC "+strings.TrimPrefix(valid, "Basic "), formCT, gt), okToken},
		{"AUTH-11 form-urlencoded ID and secret inside Basic are decoded", withAuth(basic(url.QueryEscape(mock.DefaultClientID), url.QueryEscape(mock.DefaultClientSecret)), formCT, gt), okToken},
		{"AUTH-12 credentials in the URL query are refused", request{path: mock.TokenPath + "?client_id=" + mock.DefaultClientID + "&client_secret=" + url.QueryEscape(mock.DefaultClientSecret),
			header: [][2]string{{"Content-Type", formCT}}, body: gt}, func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"AUTH-13 Basic and client_secret in the body together is invalid_request", tokenReq("client_secret=" + url.QueryEscape(mock.DefaultClientSecret)), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"AUTH-14 client_secret_post alone is refused (documented policy)", withAuth("", formCT, gt+"&client_id="+mock.DefaultClientID+"&client_secret="+url.QueryEscape(mock.DefaultClientSecret)), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 401, "invalid_client")
		}},
		{"AUTH-16 two Authorization headers are 400", request{header: [][2]string{{"Authorization", valid}, {"Authorization", valid}, {"Content-Type", formCT}}, body: gt}, func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"GRANT-01 a missing grant_type is invalid_request", withAuth(valid, formCT, "scope=product.all"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"GRANT-02 an empty grant_type is invalid_request", withAuth(valid, formCT, "grant_type="), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"GRANT-03 an unknown grant_type is unsupported_grant_type", withAuth(valid, formCT, "grant_type=foo"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "unsupported_grant_type")
		}},
		{"GRANT-04 password is unsupported_grant_type", withAuth(valid, formCT, "grant_type=password&username=a&password=b"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "unsupported_grant_type")
		}},
		{"GRANT-04 authorization_code is unsupported_grant_type", withAuth(valid, formCT, "grant_type=authorization_code&code=x"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "unsupported_grant_type")
		}},
		{"GRANT-04 refresh_token is unsupported_grant_type", withAuth(valid, formCT, "grant_type=refresh_token&refresh_token=x"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "unsupported_grant_type")
		}},
		{"GRANT-05 grant_type is case-sensitive", withAuth(valid, formCT, "grant_type=CLIENT_CREDENTIALS"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "unsupported_grant_type")
		}},
		{"GRANT-06 a repeated grant_type is invalid_request", withAuth(valid, formCT, gt+"&"+gt), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"GRANT-07 grant_type only in the query is refused", request{path: mock.TokenPath + "?" + gt, header: [][2]string{{"Authorization", valid}, {"Content-Type", formCT}}}, func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"HTTP-01 GET is 405 with Allow: POST", request{method: http.MethodGet, path: mock.TokenPath + "?" + gt, header: [][2]string{{"Authorization", valid}}}, func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 405, "invalid_request")
			assert.Equal(t, "POST", e.header.Get("Allow"))
		}},
		{"HTTP-02 a JSON body is refused", withAuth(valid, "application/json", `{"grant_type":"client_credentials"}`), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"HTTP-03 an empty body is 400", withAuth(valid, formCT, ""), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"HTTP-03 an empty body without credentials is still 400", withAuth("", "", ""), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"HTTP-04 a 1 MiB form body is 413", withAuth(valid, formCT, gt+"&pad="+strings.Repeat("a", 1<<20)), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 413, "invalid_request")
		}},
		{"HTTP-09 PUT is 405", request{method: http.MethodPut, header: [][2]string{{"Authorization", valid}, {"Content-Type", formCT}}, body: gt}, func(t *testing.T, e exchange) {
			assert.Equal(t, 405, e.status)
			assert.NotContains(t, e.json(t), "access_token")
		}},
		{"HTTP-09 DELETE is 405", request{method: http.MethodDelete, header: [][2]string{{"Authorization", valid}}}, func(t *testing.T, e exchange) {
			assert.Equal(t, 405, e.status)
			assert.NotContains(t, e.json(t), "access_token")
		}},
		{"a malformed form body is invalid_request", withAuth(valid, formCT, gt+"&%zz"), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"a body client_id naming another client is invalid_request", tokenReq("client_id=" + mock.DefaultClient2ID), func(t *testing.T, e exchange) {
			assertOAuthError(t, e, 400, "invalid_request")
		}},
		{"a body client_id naming the same client is accepted", tokenReq("client_id=" + mock.DefaultClientID), okToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want(t, h.do(tt.req))
		})
	}
}

// TestAUTH05UnknownClientAndWrongSecretLookAlike: no client enumeration (RFC 6819 §4.3.5).
func TestAUTH05UnknownClientAndWrongSecretLookAlike(t *testing.T) {
	h := newHarness(t)
	send := func(authz string) exchange {
		return h.do(request{header: [][2]string{{"Authorization", authz}, {"Content-Type", formCT}}, body: "grant_type=client_credentials"})
	}
	wrong := send(basic(mock.DefaultClientID, "wrong-secret"))
	unknown := send(basic("NOBODY", "wrong-secret"))
	assert.Equal(t, wrong.status, unknown.status)
	assert.Equal(t, string(wrong.body), string(unknown.body))
	assert.Equal(t, wrong.header.Get("WWW-Authenticate"), unknown.header.Get("WWW-Authenticate"))
}

// TestAUTH15NearMissSecretsAreRefused: changed, removed, appended, case-flipped.
func TestAUTH15NearMissSecretsAreRefused(t *testing.T) {
	h := newHarness(t)
	s := mock.DefaultClientSecret
	flip := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return r - 32
			case r >= 'A' && r <= 'Z':
				return r + 32
			}
			return r
		}, s)
	}
	variants := map[string]string{
		"one character changed":   s[:len(s)-1] + "X",
		"first character changed": "X" + s[1:],
		"one character removed":   s[:len(s)-1],
		"one character appended":  s + "x",
		"case flipped":            flip(s),
		"form-encoded, one more":  url.QueryEscape(s) + "x",
	}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, s, v)
			e := h.do(request{header: [][2]string{{"Authorization", basic(mock.DefaultClientID, v)}, {"Content-Type", formCT}}, body: "grant_type=client_credentials"})
			assertOAuthError(t, e, 401, "invalid_client")
		})
	}
}

// TestHTTP04LargeBodyLeavesTheServerWorking: after the 1 MiB request, TOK-01 still passes.
func TestHTTP04LargeBodyLeavesTheServerWorking(t *testing.T) {
	h := newHarness(t)
	big := tokenReq("pad=" + strings.Repeat("a", 1<<20))
	assert.Equal(t, http.StatusRequestEntityTooLarge, h.do(big).status)
	h.token("")
}

// TestErrorBodies: an error body holds error and error_description only; quirk
// enumerating-errors adds client_status for an unknown client, and only then.
func TestErrorBodies(t *testing.T) {
	plain := newHarness(t)
	e := plain.do(form(basic("NOBODY", "x"), gtCC))
	assertOAuthError(t, e, http.StatusUnauthorized, "invalid_client")
	assert.Equal(t, []string{"error", "error_description"}, keysOf(e.json(t)))

	enum := newHarness(t, mock.WithQuirks("enumerating-errors"))
	m := enum.do(form(basic("NOBODY", "x"), gtCC)).json(t)
	assert.Equal(t, map[string]any{"error": "invalid_client", "error_description": "no such client", "client_status": "unknown"}, m)
	m = enum.do(form(basic(mock.DefaultClientID, "wrong"), gtCC)).json(t)
	assert.Equal(t, []string{"error", "error_description"}, keysOf(m), "a known client gets no client_status")
}

func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
