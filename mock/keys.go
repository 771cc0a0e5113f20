package mock

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

// signingKey is an RS256 key prepared for the hot path: precomputed CRT values and the encoded
// JWT headers that name it.
type signingKey struct {
	kid        string
	priv       *rsa.PrivateKey
	header     string // base64url({"alg":"RS256","typ":"JWT","kid":...})
	headerPad  string // the same, padded (quirk padded-jwt)
	hs256      string // base64url({"alg":"HS256","typ":"JWT"}) (quirk alg-hs256)
	hs256Pad   string
	hmacSecret []byte // the HS256 secret of quirk alg-hs256
}

// keySet is the signing key and every public key the API and the JWKS accept.
type keySet struct {
	current *signingKey
	public  map[string]*rsa.PublicKey // kid -> key
	jwks    []byte                    // the JWKS document
	pubPEMs [][]byte                  // the current key's public forms (quirk api-accepts-hs256-public-key)
}

func newSigningKey(k *rsa.PrivateKey) (*signingKey, error) {
	k.Precompute()
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: &k.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	hdr, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}{"RS256", "JWT", kid})
	hs := []byte(`{"alg":"HS256","typ":"JWT"}`)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &signingKey{kid: kid, priv: k,
		header: base64.RawURLEncoding.EncodeToString(hdr), headerPad: base64.URLEncoding.EncodeToString(hdr),
		hs256: base64.RawURLEncoding.EncodeToString(hs), hs256Pad: base64.URLEncoding.EncodeToString(hs),
		hmacSecret: secret}, nil
}

// newKeySet makes k the signing key; prev's public keys stay valid for verification.
func newKeySet(k *rsa.PrivateKey, prev *keySet) (*keySet, error) {
	sk, err := newSigningKey(k)
	if err != nil {
		return nil, err
	}
	ks := &keySet{current: sk, public: map[string]*rsa.PublicKey{sk.kid: &k.PublicKey}}
	var keys []jose.JSONWebKey
	keys = append(keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: sk.kid, Algorithm: "RS256", Use: "sig"})
	if prev != nil {
		for kid, pk := range prev.public {
			if kid != sk.kid {
				ks.public[kid] = pk
				keys = append(keys, jose.JSONWebKey{Key: pk, KeyID: kid, Algorithm: "RS256", Use: "sig"})
			}
		}
	}
	if ks.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: keys}); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	ks.pubPEMs = publicKeyForms(&k.PublicKey)
	return ks, nil
}

// foreignKey is a key the issuer never had, made once per process on first use: it signs
// Mint's foreign tokens and is what quirk jwks-wrong-key publishes.
var foreignKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("mock: generate foreign key: %v", err))
	}
	return k
})

// decoyJWKS is a JWKS that names the current kid but holds the foreign key.
func (ks *keySet) decoyJWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &foreignKey().PublicKey, KeyID: ks.current.kid, Algorithm: "RS256", Use: "sig"}}})
	return b
}

// publicKeyForms are the byte strings an algorithm-confusion attacker might use as the HMAC
// secret: PKIX and PKCS#1 PEM (with and without the final newline) and DER.
func publicKeyForms(pk *rsa.PublicKey) [][]byte {
	pkix, _ := x509.MarshalPKIXPublicKey(pk)
	pkcs1 := x509.MarshalPKCS1PublicKey(pk)
	p1 := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	p2 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})
	return [][]byte{p1, p1[:len(p1)-1], p2, p2[:len(p2)-1], pkix, pkcs1}
}

// ParsePrivateKeyPEM reads an RSA private key (PKCS#1 or PKCS#8 PEM) of at least 2048 bits.
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#1 key: %w", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PKCS#8 key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("PKCS#8 key is %T, not RSA", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("PEM block %q is not an RSA private key", block.Type)
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key of %d bits; RS256 needs at least 2048", key.N.BitLen())
	}
	return key, nil
}

// signRS256 appends "." and the RS256 signature of buf (header.payload) to buf.
func signRS256(buf []byte, k *rsa.PrivateKey, padded bool) ([]byte, error) {
	h := sha256.Sum256(buf)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:])
	if err != nil {
		return nil, err
	}
	buf = append(buf, '.')
	if padded {
		return base64.URLEncoding.AppendEncode(buf, sig), nil
	}
	return base64.RawURLEncoding.AppendEncode(buf, sig), nil
}

// signHS256 appends "." and the HS256 signature of buf to buf.
func signHS256(buf, secret []byte, padded bool) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(buf)
	buf = append(buf, '.')
	if padded {
		return base64.URLEncoding.AppendEncode(buf, m.Sum(nil))
	}
	return base64.RawURLEncoding.AppendEncode(buf, m.Sum(nil))
}
