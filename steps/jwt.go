package steps

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// jwtParts is a compact JWS taken apart.
type jwtParts struct {
	raw            [3]string
	header, claims map[string]any
	sig            []byte
}

// parseJWT decodes a compact JWS. strict demands base64url without padding (JWT-01); the other
// checks decode padded segments leniently so that one defect is reported once.
func parseJWT(tok string, strict bool) (*jwtParts, error) {
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		return nil, fmt.Errorf("the token has %d dot-separated segments, a compact JWS has 3", len(segs))
	}
	p := &jwtParts{raw: [3]string{segs[0], segs[1], segs[2]}}
	dec := func(i int, s string) ([]byte, error) {
		if !strict {
			s = strings.TrimRight(s, "=")
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("segment %d is not base64url without padding", i+1)
		}
		return b, nil
	}
	for i, dst := range []*map[string]any{&p.header, &p.claims} {
		b, err := dec(i, segs[i])
		if err != nil {
			return nil, err
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		if err := d.Decode(dst); err != nil || *dst == nil {
			return nil, fmt.Errorf("segment %d does not decode to a JSON object", i+1)
		}
	}
	sig, err := dec(2, segs[2])
	if err != nil {
		return nil, err
	}
	p.sig = sig
	return p, nil
}

// num reads a numeric claim (a JSON number, or a numeric string when lenient).
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	}
	return 0, false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonSeg(v any) string {
	b, _ := json.Marshal(v)
	return b64(b)
}

// Forgeries of a real token, for the BEARER checks.

// alterSignature flips one bit in the middle of the signature.
func alterSignature(p *jwtParts) string {
	sig := append([]byte(nil), p.sig...)
	if len(sig) == 0 {
		sig = []byte{0}
	}
	sig[len(sig)/2] ^= 0x01
	return p.raw[0] + "." + p.raw[1] + "." + b64(sig)
}

// alterClaims widens the scope and extends exp by a day, keeping the original signature.
func alterClaims(p *jwtParts) string {
	c := cloneMap(p.claims)
	switch s := c["scope"].(type) {
	case []any:
		c["scope"] = append(append([]any(nil), s...), "admin.all")
	case string:
		c["scope"] = s + " admin.all"
	default:
		c["scope"] = []any{"admin.all"}
	}
	if exp, ok := num(c["exp"]); ok {
		c["exp"] = int64(exp) + 86400
	}
	return p.raw[0] + "." + jsonSeg(c) + "." + p.raw[2]
}

// algNone re-signs the same claims with {"alg":"none"} and an empty signature.
func algNone(p *jwtParts) string { return algNoneAs(p, "none") }

// algNoneSpellings are the spellings of "none" BEARER-09 sends (RFC 7515 §4.1.1: alg is
// case-sensitive, so each is either none or an unknown algorithm, and must be refused).
var algNoneSpellings = []string{"none", "None", "NONE", "nOnE"}

// algNoneAs is algNone with alg spelled as given.
func algNoneAs(p *jwtParts, alg string) string {
	return jsonSeg(map[string]any{"alg": alg, "typ": "JWT"}) + "." + p.raw[1] + "."
}

// hs256WithPublicKey signs the same claims with HS256, using the issuer's RSA public key as the
// HMAC secret, in each encoding a confused verifier might use: PEM and DER, PKIX and PKCS #1.
func hs256WithPublicKey(p *jwtParts, pub *rsa.PublicKey) []string {
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	secrets := [][]byte{
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		pkix,
		pkcs1,
	}
	var out []string
	for _, s := range secrets {
		out = append(out, hs256(p.header, p.raw[1], s))
	}
	return out
}

// foreignRS256 signs the same header and claims with key, which the issuer never had.
func foreignRS256(p *jwtParts, key *rsa.PrivateKey) (string, error) {
	h := cloneMap(p.header)
	h["alg"] = "RS256"
	signing := jsonSeg(h) + "." + p.raw[1]
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64(sig), nil
}

// hs256 is a JWT of header (alg set to HS256) and the encoded claims segment, signed HMAC-SHA256
// with secret.
func hs256(header map[string]any, claimsSeg string, secret []byte) string {
	h := cloneMap(header)
	h["alg"] = "HS256"
	signing := jsonSeg(h) + "." + claimsSeg
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// issuerKeys are the issuer's public keys, from --public-key or the JWKS.
type issuerKeys struct {
	keys []jose.JSONWebKey
}

// forToken picks the keys that may have signed a token: the one with its kid, else all.
func (k *issuerKeys) forToken(header map[string]any) []any {
	kid, _ := header["kid"].(string)
	var out []any
	for _, j := range k.keys {
		if kid == "" || j.KeyID == "" || j.KeyID == kid {
			out = append(out, j.Key)
		}
	}
	return out
}

// rsaKey is the first RSA key (BEARER-10 needs one).
func (k *issuerKeys) rsaKey(header map[string]any) (*rsa.PublicKey, bool) {
	for _, key := range k.forToken(header) {
		if r, ok := key.(*rsa.PublicKey); ok {
			return r, true
		}
	}
	return nil, false
}

// issuerKeys returns the issuer's keys, fetching the JWKS once per run (recorded under the
// check that first needs it).
func (r *runner) issuerKeys(ctx context.Context, s *scenario) (*issuerKeys, error) {
	r.keysOnce.Lock()
	defer r.keysOnce.Unlock()
	if r.keys != nil {
		return r.keys, nil
	}
	ks := &issuerKeys{}
	if r.cfg.PublicKey != nil {
		ks.keys = append(ks.keys, jose.JSONWebKey{Key: r.cfg.PublicKey})
	}
	if r.cfg.JWKSURL != "" {
		ex := s.record(r.rec.do(ctx, s.id, request{to: "jwks", method: http.MethodGet, url: r.cfg.JWKSURL,
			header: http.Header{"Accept": {"application/json"}}}))
		if !ex.answered() || ex.status != http.StatusOK {
			return nil, fmt.Errorf("could not fetch the issuer's JWKS: %s", ex.describe())
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(ex.body, &set); err != nil {
			return nil, fmt.Errorf("the JWKS at %s is not a JWK set: %v", r.cfg.JWKSURL, shortErr(r.red, err))
		}
		for _, k := range set.Keys {
			if k.Valid() && k.IsPublic() {
				ks.keys = append(ks.keys, k)
			}
		}
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no usable public key: the JWKS holds none and no --public-key was given")
	}
	r.keys = ks
	return ks, nil
}

// verifySignature checks a token's signature with the issuer's keys, accepting only the
// asymmetric algorithm its header names (never none, never HS*).
func verifySignature(red *redact.Redactor, tok string, header map[string]any, keys *issuerKeys) error {
	alg, _ := header["alg"].(string)
	if !asymmetric(alg) {
		return fmt.Errorf("expected an asymmetric signature, got alg %q", alg)
	}
	candidates := keys.forToken(header)
	if len(candidates) == 0 {
		return fmt.Errorf("expected a key with kid %v in the issuer's keys, found none", header["kid"])
	}
	var last error
	for _, k := range candidates {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return k, nil },
			jwt.WithValidMethods([]string{alg}), jwt.WithoutClaimsValidation(), jwt.WithPaddingAllowed())
		if err == nil {
			return nil
		}
		last = err
	}
	return fmt.Errorf("expected the signature to verify with the issuer's key, got: %v", shortErr(red, last))
}

// asymmetric reports whether alg is an asymmetric JWS algorithm.
func asymmetric(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519":
		return true
	}
	return false
}
