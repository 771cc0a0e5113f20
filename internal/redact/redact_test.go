package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	htmltmpl "html/template"
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
	basicPlain := base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
	basicForm := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	assert.Subset(t, forms, []string{secret, url.QueryEscape(secret), url.PathEscape(secret),
		base64.StdEncoding.EncodeToString([]byte(secret)), base64.RawURLEncoding.EncodeToString([]byte(secret)),
		basicPlain, basicForm}, "five encodings and two Basic credentials")
	seen := map[string]bool{}
	for _, f := range forms {
		assert.False(t, seen[f], "%q listed once", f)
		seen[f] = true
	}
	r := New()
	r.AddCredential(id, secret)
	assert.ElementsMatch(t, forms, r.secrets, "AddCredential and Forms build the same forms")
	for _, f := range forms {
		assert.NotContains(t, r.String("x "+f+" y"), f, "the redactor removes %q", f)
	}
	assert.Empty(t, Forms(id), "no secret, no forms")
}

func TestCredentialFormsPairEachSecretWithItsOwnID(t *testing.T) {
	c1 := Credential{ID: "client-one", Secret: "first-secret-1"}
	c2 := Credential{ID: "c2", Secret: "second-secret-2"}
	forms := CredentialForms(c1, c2, Credential{ID: "nobody"})
	assert.Contains(t, forms, base64.StdEncoding.EncodeToString([]byte("c2:second-secret-2")))
	assert.Contains(t, forms, base64.StdEncoding.EncodeToString([]byte("client-one:first-secret-1")))
	assert.NotContains(t, forms, base64.StdEncoding.EncodeToString([]byte("client-one:second-secret-2")))
	assert.Equal(t, Forms("c2", "second-secret-2"), CredentialForms(c2))
	assert.Empty(t, CredentialForms(Credential{ID: "nobody"}), "no secret, no forms")
}

func TestVariantsAreTheEscapesOfWriters(t *testing.T) {
	const s = `p&ss<w0rd>"+Q/x`
	v := Variants(s)
	assert.Equal(t, s, v[0], "the raw form first")
	assert.Contains(t, v, `p\u0026ss\u003cw0rd\u003e\"+Q/x`, "encoding/json, HTML escaping on")
	assert.Contains(t, v, `p&ss<w0rd>\"+Q/x`, "encoding/json, HTML escaping off")
	assert.Contains(t, v, `p&ss<w0rd>\"+Q\/x`, "the \\/ form")
	assert.Contains(t, v, `p&amp;ss&lt;w0rd&gt;&#34;+Q/x`, "HTMLEscapeString")
	assert.Contains(t, v, `p&amp;ss&lt;w0rd&gt;&#34;&#43;Q/x`, "html/template text")
	assert.Contains(t, v, url.QueryEscape(s))
	assert.Equal(t, []string{"plain"}, Variants("plain"), "nothing to escape, one form")
	assert.Nil(t, Variants(""))
}

// A secret with characters every escaper touches is masked, and found by a scan of Forms, in
// what the bundle's writers make of it: a JSON body, an HTML page and a %q-quoted error.
func TestEscapedSecretIsMaskedAndFound(t *testing.T) {
	const id, secret = "demo-client", `p&ss<w0rd>"+Q/x`
	var page bytes.Buffer
	require.NoError(t, htmltmpl.Must(htmltmpl.New("").Parse(`<p>{{.}}</p><a title="{{.}}">x</a><script>var s = {{.}};</script>`)).Execute(&page, secret))
	jsonOn, err := json.Marshal(map[string]string{"error_description": "bad " + secret})
	require.NoError(t, err)
	var jsonOff bytes.Buffer
	enc := json.NewEncoder(&jsonOff)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(map[string]string{"error_description": "bad " + secret}))
	quoted := fmt.Sprintf("post: %q: invalid", "client_secret="+secret)
	quotedJSON, err := json.Marshal(map[string]string{"error": quoted})
	require.NoError(t, err)
	php := strings.ReplaceAll(string(jsonOn), "/", `\/`)

	r := New()
	r.AddCredential(id, secret)
	forms := Forms(id, secret)
	for name, text := range map[string]string{"json": string(jsonOn), "json without HTML escaping": jsonOff.String(),
		"html page": page.String(), "%q error": quoted, "%q error in JSON": string(quotedJSON), "\\/-escaped JSON": php} {
		found := false
		for _, f := range forms {
			found = found || strings.Contains(text, f)
		}
		assert.True(t, found, "%s: a scan of Forms finds the secret in %s", name, text)
		out := r.String(text)
		for _, f := range forms {
			assert.NotContains(t, out, f, "%s: %s", name, out)
		}
		assert.Contains(t, out, Mask, name)
	}
}

func TestRedactorReplacesEscapedTokens(t *testing.T) {
	const tok = "opaque/tok+en=="
	r := New()
	r.AddToken(tok)
	fp := Token(tok).String()
	for _, in := range []string{tok, url.QueryEscape(tok), strings.ReplaceAll(tok, "/", `\/`)} {
		out := r.String("x " + in + " y")
		assert.Equal(t, "x "+fp+" y", out, in)
	}
}
