package mock

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/authzcheck/authzcheck/internal/loopback"
)

// Quirks api-trusts-jwk-header, api-trusts-jku-header, api-trusts-x5u-header and
// api-trusts-x5c-header: the sample API takes the RS256 verification key from the token itself,
// the defect RFC 8725 §3.10 warns against. A forger then signs with any key and names it.

// headerKey is the key a token's header names under the quirks on (nil when none applies).
func headerKey(t *jwt.Token, q quirkSet) *rsa.PublicKey {
	var pub *rsa.PublicKey
	if q.has(qAPITrustsJWKHeader) {
		pub = jwkKey(t.Header["jwk"])
	}
	if u, ok := t.Header["jku"].(string); ok && pub == nil && q.has(qAPITrustsJKUHeader) {
		kid, _ := t.Header["kid"].(string)
		pub = fetchJKU(u, kid)
	}
	if u, ok := t.Header["x5u"].(string); ok && pub == nil && q.has(qAPITrustsX5UHeader) {
		pub = fetchX5U(u)
	}
	if pub == nil && q.has(qAPITrustsX5CHeader) {
		pub = x5cKey(t.Header["x5c"])
	}
	return pub
}

// jwkKey is the RSA key of a jwk header, or nil.
func jwkKey(raw any) *rsa.PublicKey {
	if raw == nil {
		return nil
	}
	b, _ := json.Marshal(raw)
	var k jose.JSONWebKey
	if k.UnmarshalJSON(b) != nil {
		return nil
	}
	pub, _ := k.Key.(*rsa.PublicKey)
	return pub
}

// x5cKey is the RSA key of the first certificate of an x5c header (chain unchecked), or nil.
func x5cKey(raw any) *rsa.PublicKey {
	chain, _ := raw.([]any)
	if len(chain) == 0 {
		return nil
	}
	s, _ := chain[0].(string)
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return certKey(der)
}

// certKey is the RSA key of a DER certificate, or nil.
func certKey(der []byte) *rsa.PublicKey {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	pub, _ := c.PublicKey.(*rsa.PublicKey)
	return pub
}

// jkuClient fetches jku URLs; the mock fetches only loopback ones (it never leaves the machine).
var jkuClient = &http.Client{Timeout: 5 * time.Second}

// fetchLoopback is the body (up to 64 KiB) of a 200 answer to a GET of a loopback URL, or nil.
func fetchLoopback(raw string) []byte {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !loopback.Host(u.Hostname()) {
		return nil
	}
	resp, err := jkuClient.Get(u.String())
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return b
}

// fetchX5U is the RSA key of the first PEM certificate at a loopback URL (chain unchecked), or nil.
func fetchX5U(raw string) *rsa.PublicKey {
	blk, _ := pem.Decode(fetchLoopback(raw))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil
	}
	return certKey(blk.Bytes)
}

// fetchJKU is the RSA key with kid (or the first) of the JWKS at a loopback URL, or nil.
func fetchJKU(raw, kid string) *rsa.PublicKey {
	var set jose.JSONWebKeySet
	if json.Unmarshal(fetchLoopback(raw), &set) != nil {
		return nil
	}
	for _, k := range set.Keys {
		if pub, ok := k.Key.(*rsa.PublicKey); ok && (kid == "" || k.KeyID == "" || k.KeyID == kid) {
			return pub
		}
	}
	return nil
}

// kidFileKey is quirk api-kid-names-key-file: an API that reads the HMAC key from the file its
// kid names, under a key directory. Only the file a traversal reaches everywhere, /dev/null, is
// simulated (its content is empty); the mock reads no file.
func kidFileKey(t *jwt.Token) ([]byte, bool) {
	kid, _ := t.Header["kid"].(string)
	if path.Clean("/etc/api-keys/"+kid) == "/dev/null" {
		return []byte{}, true
	}
	return nil, false
}

// noneInAnotherCase reports whether a token's header says alg "none" in another letter case
// (quirk api-accepts-alg-none-any-case).
func noneInAnotherCase(tok string) bool {
	seg, _, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return false
	}
	return strings.EqualFold(h.Alg, "none") && h.Alg != "none"
}

// unsignedClaims decodes an unsigned token's claims by hand (quirk api-accepts-alg-none-any-case):
// the JWT library knows no algorithm "None" and would not parse it. verifyToken then checks
// them as it checks a signed token's.
func unsignedClaims(tok string) (*tokenClaims, error) {
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		return nil, errors.New("not three segments")
	}
	b, err := base64.RawURLEncoding.DecodeString(segs[1])
	if err != nil {
		return nil, err
	}
	claims := &tokenClaims{}
	return claims, json.Unmarshal(b, claims)
}
