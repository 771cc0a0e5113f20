package mock

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

var fuzzKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fuzzServer is a mock whose handler the fuzz targets call in-process (no sockets).
func fuzzServer(f *testing.F) (*Server, http.Handler) {
	s, err := New(WithKey(fuzzKey()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	return s, s.hs.Handler
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// validCredential reports whether a Basic value decodes (as sent or form-urldecoded) to a
// configured client's ID and secret.
func validCredential(authz string) bool {
	scheme, rest, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return false
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	for _, c := range DemoClients() {
		idOK := id == c.ID
		if d, err := url.QueryUnescape(id); err == nil && d == c.ID {
			idOK = true
		}
		secOK := secret == c.Secret
		if d, err := url.QueryUnescape(secret); err == nil && d == c.Secret {
			secOK = true
		}
		if idOK && secOK {
			return true
		}
	}
	return false
}

// FuzzBasicHeader: whatever the Authorization header, the token endpoint never answers 5xx,
// issues a token only for a real credential, and never echoes a secret.
func FuzzBasicHeader(f *testing.F) {
	_, h := fuzzServer(f)
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, seed := range []string{
		"Basic " + enc(DefaultClientID+":"+DefaultClientSecret),
		"basic " + enc(url.QueryEscape(DefaultClientID)+":"+url.QueryEscape(DefaultClientSecret)),
		"Basic " + enc(DefaultClientID+":"), "Basic " + enc("nocolon"), "Basic !!!not-base64", "Basic ",
		"Bearer abc", "", "Basic " + enc(":"), "Basic " + enc(DefaultClientID+":"+DefaultClientSecret+"x"),
		"Basic " + enc("%zz:%zz"), "Basic  " + enc(DefaultClientID+":"+DefaultClientSecret),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, authz string) {
		r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", formContentType)
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		w := serve(h, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for Authorization %q", w.Code, authz)
		}
		if w.Code == http.StatusOK && !validCredential(authz) {
			t.Fatalf("token issued for Authorization %q", authz)
		}
		if w.Code != http.StatusOK && validCredential(authz) {
			t.Fatalf("status %d for a valid credential %q: %s", w.Code, authz, w.Body)
		}
		body := w.Body.String()
		if w.Code != http.StatusOK && (strings.Contains(body, DefaultClientSecret) || strings.Contains(body, DefaultClient2Secret)) {
			t.Fatalf("error body echoes a secret: %s", body)
		}
	})
}

// FuzzTokenForm: whatever the body and Content-Type, the token endpoint never answers 5xx and
// issues a token only for exactly one grant_type=client_credentials in a form body.
func FuzzTokenForm(f *testing.F) {
	_, h := fuzzServer(f)
	for _, seed := range []struct{ ct, body string }{
		{formContentType, "grant_type=client_credentials"},
		{formContentType, "grant_type=client_credentials&scope=product.all"},
		{formContentType, "grant_type=client_credentials&grant_type=client_credentials"},
		{formContentType, "grant_type=client_credentials&scope=admin.all"},
		{"application/x-www-form-urlencoded; charset=UTF-8", "grant_type=client_credentials&foo=bar"},
		{"application/json", `{"grant_type":"client_credentials"}`},
		{formContentType, "grant_type=client_credentials;x=y"},
		{formContentType, "%zz"}, {"", ""}, {"multipart/form-data; boundary=x", "--x--"},
		{formContentType, "grant_type=client_credentials&client_secret=x"},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	authz := "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultClientID+":"+DefaultClientSecret))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(string(body)))
		r.Header.Set("Authorization", authz)
		if ct != "" {
			r.Header["Content-Type"] = []string{ct}
		}
		w := serve(h, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q %q", w.Code, ct, body)
		}
		if w.Code != http.StatusOK {
			return
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("token issued for a malformed form %q", body)
		}
		if g := vals["grant_type"]; len(g) != 1 || g[0] != "client_credentials" {
			t.Fatalf("token issued with grant_type %q", g)
		}
		if vals.Has("client_secret") {
			t.Fatalf("token issued with a body client_secret next to Basic")
		}
		for _, sc := range strings.Fields(vals.Get("scope")) {
			if !strings.HasSuffix(sc, ".all") {
				t.Fatalf("token issued for scope %q", sc)
			}
		}
	})
}

// FuzzBearer: whatever the Authorization header, the sample API answers 200 only for a token
// that verifies RS256 with the mock's key and is unexpired, and never 5xx.
func FuzzBearer(f *testing.F) {
	s, h := fuzzServer(f)
	st := s.st.Load()
	tok, _, err := s.signToken(st, st.clients[DefaultClientID], DefaultScopes, s.clock.now().Unix(), s.clock.now().Unix(), s.clock.now().Unix()+3600)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	for _, seed := range []string{
		"Bearer " + tok, "bearer " + tok, tok, "Bearer " + tok + "x", "Bearer abc", "Bearer ",
		"Bearer " + parts[0] + "." + parts[1] + ".", "Bearer " + parts[0] + ".." + parts[2],
		"Bearer eyJhbGciOiJub25lIn0." + parts[1] + ".", "Basic Zm9vOmJhcg==", "Bearer a.b.c", "Bearer " + tok + "=",
	} {
		f.Add(seed)
	}
	pub := &fuzzKey().PublicKey
	f.Fuzz(func(t *testing.T, authz string) {
		r := httptest.NewRequest(http.MethodGet, "/products", nil)
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		w := serve(h, r)
		switch w.Code {
		case 200, 400, 401, 403:
		default:
			t.Fatalf("status %d for %q", w.Code, authz)
		}
		if w.Code != 200 {
			return
		}
		scheme, tok, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "bearer") {
			t.Fatalf("200 for scheme %q", scheme)
		}
		tok = strings.TrimLeft(tok, " ")
		if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired()); err != nil {
			t.Fatalf("200 for a token that does not verify: %v", err)
		}
	})
}
