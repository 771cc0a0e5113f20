package mock_test

import (
	"crypto/hmac"
	"crypto/rand"
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

	"github.com/stretchr/testify/require"
)

// Probes of the quirks the audit of issue 13 added: the scheme in upper case at the token
// endpoint, an empty Bearer token at the API, and two more BEARER-16 header variants.
func init() {
	for name, p := range map[string]probe{
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
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "forger"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
			require.NoError(t, err)
			cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
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
