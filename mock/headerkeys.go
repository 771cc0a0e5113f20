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
	if q.has(qAPITrustsJWKHeader) {
		if raw, ok := t.Header["jwk"]; ok {
			b, _ := json.Marshal(raw)
			var k jose.JSONWebKey
			if k.UnmarshalJSON(b) == nil {
				if pub, ok := k.Key.(*rsa.PublicKey); ok {
					return pub
				}
			}
		}
	}
	if q.has(qAPITrustsJKUHeader) {
		if u, ok := t.Header["jku"].(string); ok {
			kid, _ := t.Header["kid"].(string)
			if pub := fetchJKU(u, kid); pub != nil {
				return pub
			}
		}
	}
	if q.has(qAPITrustsX5UHeader) {
		if u, ok := t.Header["x5u"].(string); ok {
			if pub := fetchX5U(u); pub != nil {
				return pub
			}
		}
	}
	if q.has(qAPITrustsX5CHeader) {
		if chain, ok := t.Header["x5c"].([]any); ok && len(chain) > 0 {
			if s, ok := chain[0].(string); ok {
				if der, err := base64.StdEncoding.DecodeString(s); err == nil {
					if c, err := x509.ParseCertificate(der); err == nil {
						if pub, ok := c.PublicKey.(*rsa.PublicKey); ok {
							return pub
						}
					}
				}
			}
		}
	}
	return nil
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
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil
	}
	pub, _ := c.PublicKey.(*rsa.PublicKey)
	return pub
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
