package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A real RS256 JWT shape (the seed's example header and claims, signature shortened).
const sampleJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJURVNUIiwiaXNzIjoiaHR0cHM6Ly93d3cuZGVyYnlzb2Z0LmNvbSIsImV4cCI6MTc1NTI1Mzg5MX0.hJRqIvPySbtlYLz4u6vtc5Vx_1Uz3hdrkabRU4dwoQf"

func TestAuthorizationKeepsOnlyTheScheme(t *testing.T) {
	tests := map[string]string{
		"Basic ZGVtbzpzZWNyZXQ=": "Basic ***",
		"Bearer " + sampleJWT:    "Bearer ***",
		"bearer abc":             "bearer ***",
		"justatoken":             "***",
		"":                       "***",
	}
	for in, want := range tests {
		assert.Equal(t, want, Authorization(in), in)
	}
}

func TestTokenKeepsClaimsButNotSignature(t *testing.T) {
	info := Token(sampleJWT)
	assert.Equal(t, len(sampleJWT), info.Length)
	assert.Regexp(t, `^sha256:[0-9a-f]{12}$`, info.Fingerprint)
	assert.Equal(t, "RS256", info.Header["alg"])
	assert.Equal(t, "TEST", info.Claims["sub"])
	assert.NotContains(t, info.String(), "hJRqIvPy")

	opaque := Token("not-a-jwt")
	assert.Nil(t, opaque.Claims)
	assert.Equal(t, 9, opaque.Length)
}

func TestRedactorRemovesSecretInEveryEncoding(t *testing.T) {
	const id, secret = "demo-client", "Sec+ret/=%&!x"
	r := New()
	r.AddCredential(id, secret)
	basicPlain := base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
	basicForm := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	inputs := []string{
		"secret=" + secret,
		"client_secret=" + url.QueryEscape(secret),
		"path/" + url.PathEscape(secret),
		"Authorization: Basic " + basicPlain,
		"Authorization: Basic " + basicForm,
		`{"error":"invalid_client","error_description":"bad secret ` + secret + `"}`,
	}
	for _, in := range inputs {
		out := r.String(in)
		assert.NotContains(t, out, secret, in)
		assert.NotContains(t, out, url.QueryEscape(secret), in)
		assert.NotContains(t, out, basicPlain, in)
		assert.NotContains(t, out, basicForm, in)
		assert.Contains(t, out, Mask, in)
	}
}

func TestRedactorReplacesTokens(t *testing.T) {
	r := New()
	r.AddToken("opaque-token-value-123")
	out := r.String(`{"access_token":"` + sampleJWT + `","other":"opaque-token-value-123"}`)
	assert.NotContains(t, out, sampleJWT)
	assert.NotContains(t, out, "opaque-token-value-123")
	assert.Contains(t, out, Fingerprint(sampleJWT))
	assert.Contains(t, out, Fingerprint("opaque-token-value-123"))
}

func TestHeaderRedactsSensitiveHeaders(t *testing.T) {
	r := New("s3cret")
	assert.Equal(t, "Basic ***", r.Header("Authorization", "Basic abc"))
	assert.Equal(t, "***", r.Header("X-Control-Token", "abc"))
	assert.Equal(t, "Basic realm=\"***\"", r.Header("WWW-Authenticate", `Basic realm="s3cret"`))
}

func FuzzRedactorNeverLeaksSecret(f *testing.F) {
	f.Add("Sec+ret/=%&!x", "prefix ", " suffix")
	f.Add("a", "", "")
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		if len(secret) < 4 || strings.Contains(before+after, secret) {
			t.Skip()
		}
		r := New(secret)
		out := r.String(before + secret + after)
		require.NotContains(t, out, secret)
	})
}

func FuzzToken(f *testing.F) {
	f.Add(sampleJWT)
	f.Add("a.b.c")
	f.Add("eyJ9.eyJ9.")
	f.Fuzz(func(t *testing.T, tok string) {
		info := Token(tok)
		require.Equal(t, len(tok), info.Length)
		require.True(t, strings.HasPrefix(info.Fingerprint, "sha256:"))
	})
}

func TestFormsAreWhatTheRedactorRemoves(t *testing.T) {
	const id, secret = "demo client", "Sec+ret/=%&!x"
	forms := Forms(id, secret, secret, "")
	assert.Len(t, forms, 7, "five encodings and two Basic credentials, each once")
	r := New()
	r.AddCredential(id, secret)
	for _, f := range forms {
		assert.NotContains(t, r.String("x "+f+" y"), f, "the redactor removes %q", f)
	}
	assert.Empty(t, Forms(id), "no secret, no forms")
}
