package mock_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

// Probes of the quirks issue 13 added (what "accepted" means at the API, AUTH-09, AUTH-10,
// AUTH-13, BEARER-15 and BEARER-16 variants), kept apart from the main table.
func init() {
	for name, p := range map[string]probe{
		"api-400-lowercase-bearer": func(t *testing.T, h *harness) bool {
			tok, _ := h.token("")
			return h.api(http.MethodGet, "/products", "bearer "+tok).status == 400 &&
				h.api(http.MethodGet, "/products", bearer(tok)).status == 200
		},
		"api-400-for-valid-token": func(t *testing.T, h *harness) bool {
			tok, _ := h.token("")
			return h.api(http.MethodGet, "/products", bearer(tok)).status == 400
		},
		"ignore-lone-body-secret": func(t *testing.T, h *harness) bool {
			return statusOf(h, form(demoBasic(), gtCC+"&client_secret=wrong")) == 200
		},
		"ignore-body-client-id": func(t *testing.T, h *harness) bool {
			return statusOf(h, form(demoBasic(), gtCC+"&client_id="+mock.DefaultClient2ID)) == 200
		},
		"accept-access-token-on-token": func(t *testing.T, h *harness) bool {
			tok, _ := h.token("")
			// Only a real token authenticates: garbage is still refused.
			return statusOf(h, form(bearer(tok), gtCC)) == 200 && statusOf(h, form("Bearer whatever", gtCC)) != 200
		},
		"api-accepts-alg-none-any-case": func(t *testing.T, h *harness) bool {
			tok, _ := h.token("")
			_, claims := jwtParts(t, tok)
			unsigned := func(alg string) string {
				hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
				body, _ := json.Marshal(claims)
				return base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body) + "."
			}
			// "none" itself is still refused: only another spelling gets through.
			return h.api(http.MethodGet, "/products", bearer(unsigned("None"))).status == 200 &&
				h.api(http.MethodGet, "/products", bearer(unsigned("none"))).status == 401
		},
		"trim-secret": func(t *testing.T, h *harness) bool {
			return statusOf(h, form(basic(mock.DefaultClientID, mock.DefaultClientSecret+" "), gtCC)) == 200
		},
		"api-trusts-jwk-header": func(t *testing.T, h *harness) bool {
			key := probeKey(t)
			b, err := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k"}.MarshalJSON()
			require.NoError(t, err)
			var jwk map[string]any
			require.NoError(t, json.Unmarshal(b, &jwk))
			return h.api(http.MethodGet, "/products", bearer(signForeign(t, h, key, map[string]any{"kid": "k", "jwk": jwk}))).status == 200
		},
		"api-trusts-jku-header": func(t *testing.T, h *harness) bool {
			key := probeKey(t)
			set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}}})
			require.NoError(t, err)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
			defer srv.Close()
			return h.api(http.MethodGet, "/products", bearer(signForeign(t, h, key, map[string]any{"kid": "k", "jku": srv.URL}))).status == 200
		},
		"api-trusts-x5c-header": func(t *testing.T, h *harness) bool {
			key := probeKey(t)
			x5c := []string{base64.StdEncoding.EncodeToString(selfSignedDER(t, key))}
			return h.api(http.MethodGet, "/products", bearer(signForeign(t, h, key, map[string]any{"kid": "k", "x5c": x5c}))).status == 200
		},
		// The audit of issue 13: the scheme in upper case at the token endpoint, an empty Bearer
		// token at the API, and two more BEARER-16 header variants.
		"basic-two-spellings": func(t *testing.T, h *harness) bool {
			cred := strings.TrimPrefix(demoBasic(), "Basic ")
			return statusOf(h, form("basic "+cred, gtCC)) == 200 && statusOf(h, form("BASIC "+cred, gtCC)) != 200
		},
		"api-empty-bearer-passes": func(t *testing.T, h *harness) bool {
			// Only the empty token passes: garbage is still refused.
			return h.api(http.MethodGet, "/products", "Bearer").status == 200 &&
				h.api(http.MethodGet, "/products", "Bearer abc").status == 401
		},
		"api-trusts-x5u-header": func(t *testing.T, h *harness) bool {
			key := probeKey(t)
			cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSignedDER(t, key)})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(cert) }))
			defer srv.Close()
			return h.api(http.MethodGet, "/products", bearer(signForeign(t, h, key, map[string]any{"kid": "k", "x5u": srv.URL}))).status == 200
		},
		"api-kid-names-key-file": func(t *testing.T, h *harness) bool {
			tok, _ := h.token("")
			_, claims := jwtParts(t, tok)
			emptyKey := func(kid string) string {
				hdr, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
				body, _ := json.Marshal(claims)
				signing := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
				m := hmac.New(sha256.New, nil)
				m.Write([]byte(signing))
				return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
			}
			// The traversal gets through; the same token naming an ordinary kid does not.
			return h.api(http.MethodGet, "/products", bearer(emptyKey("../../../../dev/null"))).status == 200 &&
				h.api(http.MethodGet, "/products", bearer(emptyKey("k1"))).status == 401
		},
	} {
		probes[name] = p
	}
}

// probeKey is a key the mock never had.
func probeKey(t *testing.T) *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return key
}

// selfSignedDER is a certificate for key signed by key itself: no CA vouches for it.
func selfSignedDER(t *testing.T, key *rsa.PrivateKey) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "forger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return der
}

// signForeign signs the claims of a real token with key, under a header with the given fields.
func signForeign(t *testing.T, h *harness, key *rsa.PrivateKey, header map[string]any) string {
	tok, _ := h.token("")
	_, claims := jwtParts(t, tok)
	j := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	for k, v := range header {
		j.Header[k] = v
	}
	s, err := j.SignedString(key)
	require.NoError(t, err)
	return s
}
