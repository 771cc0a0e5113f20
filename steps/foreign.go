package steps

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// BEARER-16: a token signed by a key the issuer never had, in the variants real APIs get wrong.
// Besides the copy of the real header, the forger names its own key in the header: embedded as
// a jwk, fetched from a jku URL or an x5u URL (loopback URLs this run serves), or as an x5c
// certificate. An API that takes the verification key from the token it verifies accepts all of
// them (RFC 8725 §3.10, RFC 7515 §4.1.2-4.1.6). The last variant names a file as the kid.

// foreignKID is the kid the forged headers name: one the issuer does not know, so an API that
// looks the kid up first cannot mistake the forgery for its own.
const foreignKID = "authzcheck-foreign-key"

// foreignVariant is one forged header, named for the failure's reason.
type foreignVariant struct {
	name   string
	header func(r *runner, key *rsa.PrivateKey, real map[string]any) (map[string]any, error)
}

var foreignVariants = []foreignVariant{
	{"the real token's header", func(_ *runner, _ *rsa.PrivateKey, real map[string]any) (map[string]any, error) {
		return cloneMap(real), nil
	}},
	{"the signing key embedded in a jwk header", func(_ *runner, key *rsa.PrivateKey, _ map[string]any) (map[string]any, error) {
		jwk, err := publicJWK(key)
		if err != nil {
			return nil, err
		}
		return map[string]any{"alg": "RS256", "typ": "JWT", "kid": foreignKID, "jwk": jwk}, nil
	}},
	{"a jku header naming a JWKS this run serves", func(r *runner, key *rsa.PrivateKey, _ map[string]any) (map[string]any, error) {
		u, err := r.jku.url(key)
		if err != nil {
			return nil, err
		}
		return map[string]any{"alg": "RS256", "typ": "JWT", "kid": foreignKID, "jku": u}, nil
	}},
	{"the signing key's self-signed certificate in an x5c header", func(_ *runner, key *rsa.PrivateKey, _ map[string]any) (map[string]any, error) {
		der, err := selfSigned(key)
		if err != nil {
			return nil, err
		}
		return map[string]any{"alg": "RS256", "typ": "JWT", "kid": foreignKID, "x5c": []string{base64.StdEncoding.EncodeToString(der)}}, nil
	}},
	{"an x5u header naming that certificate, which this run serves", func(r *runner, key *rsa.PrivateKey, _ map[string]any) (map[string]any, error) {
		u, err := r.jku.url(key)
		if err != nil {
			return nil, err
		}
		return map[string]any{"alg": "RS256", "typ": "JWT", "kid": foreignKID, "x5u": strings.TrimSuffix(u, jwksPath) + certPath}, nil
	}},
	// An API that reads its verification key from a file named by kid reads an empty key from
	// /dev/null: the forgery is HS256 under the empty key (the classic kid path traversal).
	{"a kid naming /dev/null by a relative path, HS256 under the empty key", func(_ *runner, _ *rsa.PrivateKey, _ map[string]any) (map[string]any, error) {
		return map[string]any{"alg": "HS256", "typ": "JWT", "kid": kidPathTraversal}, nil
	}},
}

// kidPathTraversal is the kid of the path-traversal variant: from any working directory it
// names /dev/null.
const kidPathTraversal = "../../../../../../../../../../../../dev/null"

// The paths the loopback server of the jku and x5u variants serves.
const (
	jwksPath = "/jwks.json"
	certPath = "/cert.pem"
)

// foreignForgeries are the BEARER-16 tokens: the real claims signed by the foreign key under
// each variant's header, with the variants' names in the same order.
func foreignForgeries(r *runner, p *jwtParts) (toks, names []string, err error) {
	key, err := foreignKey()
	if err != nil {
		return nil, nil, fmt.Errorf("could not make a foreign key: %v", err)
	}
	for _, v := range foreignVariants {
		h, err := v.header(r, key, p.header)
		if err != nil {
			return nil, nil, fmt.Errorf("could not forge %s: %v", v.name, err)
		}
		var f string
		if h["alg"] == "HS256" {
			f = hs256(h, p.raw[1], nil)
		} else if f, err = foreignRS256(&jwtParts{raw: p.raw, header: h, claims: p.claims}, key); err != nil {
			return nil, nil, err
		}
		toks, names = append(toks, f), append(names, "signed by a foreign key with "+v.name)
	}
	return toks, names, nil
}

// publicJWK is key's public half as a JWK object.
func publicJWK(key *rsa.PrivateKey) (map[string]any, error) {
	b, err := jose.JSONWebKey{Key: &key.PublicKey, KeyID: foreignKID, Algorithm: "RS256", Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// selfSigned is a throwaway certificate for key, signed by itself: no CA vouches for it.
func selfSigned(key *rsa.PrivateKey) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(16),
		Subject:      pkix.Name{CommonName: "authzcheck foreign key (BEARER-16)"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// jkuServer serves the foreign key's JWKS (jku variant) and its self-signed certificate (x5u
// variant) on loopback, from the first BEARER-16 forgery until the run ends.
type jkuServer struct {
	mu  sync.Mutex
	srv *http.Server
	u   string
}

// url starts the server once and returns the JWKS URL.
func (j *jkuServer) url(key *rsa.PrivateKey) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.srv != nil {
		return j.u, nil
	}
	jwk, err := publicJWK(key)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		return "", err
	}
	der, err := selfSigned(key)
	if err != nil {
		return "", err
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("could not serve the jku JWKS on loopback: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+jwksPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET "+certPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		_, _ = w.Write(cert)
	})
	j.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: mux}
	go func() { _ = j.srv.Serve(ln) }()
	j.u = "http://" + ln.Addr().String() + jwksPath
	return j.u, nil
}

// close stops the server, if it was started.
func (j *jkuServer) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.srv != nil {
		_ = j.srv.Close() // the run is over: nothing to do about an error
		j.srv = nil
	}
}
