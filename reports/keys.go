package reports

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// Names of the key pair `authzcheck report keygen` writes.
const (
	PrivateKeyFile = "evidence.key"
	PublicKeyFile  = "evidence.pub"
)

// ErrKeyExists is returned by GenerateKeyPair when a key file is already there: a signing key is
// never overwritten.
var ErrKeyExists = errors.New("key file already exists")

// GenerateKeyPair writes a new ed25519 key pair into dir: evidence.key (PKCS#8 PEM, mode 0600)
// and evidence.pub (PKIX PEM, mode 0644). It refuses to replace either file. It returns the two
// paths.
func GenerateKeyPair(dir string) (keyPath, pubPath string, err error) {
	keyPath, pubPath = filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s: %w; move it away or choose another --out", p, ErrKeyExists)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	if err := evidence.WriteFileExclusive(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", "", fmt.Errorf("%s: %w; move it away or choose another --out", keyPath, ErrKeyExists)
		}
		return "", "", err
	}
	if err := evidence.WriteFileExclusive(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(keyPath) // never leave half a pair
		if errors.Is(err, os.ErrExist) {
			return "", "", fmt.Errorf("%s: %w; move it away or choose another --out", pubPath, ErrKeyExists)
		}
		return "", "", err
	}
	return keyPath, pubPath, nil
}

// ParsePrivateKeyPEM reads an ed25519 private key from a PEM "PRIVATE KEY" (PKCS#8) block.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; want an ed25519 \"PRIVATE KEY\" from 'authzcheck report keygen'")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block is %q; want \"PRIVATE KEY\" (PKCS#8 ed25519) from 'authzcheck report keygen'", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#8 private key: %v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T; want ed25519", k)
	}
	return priv, nil
}

// ParsePublicKeyPEM reads an ed25519 public key from a PEM "PUBLIC KEY" (PKIX) block.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; want an ed25519 \"PUBLIC KEY\" such as evidence.pub")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block is %q; want \"PUBLIC KEY\" (ed25519) such as evidence.pub", block.Type)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKIX public key: %v", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T; want ed25519", k)
	}
	return pub, nil
}

// ReadPrivateKeyFile reads the --sign-key file.
func ReadPrivateKeyFile(name string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	k, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", name, err)
	}
	return k, nil
}

// ReadPublicKeyFile reads the --public-key file of `report verify`.
func ReadPublicKeyFile(name string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", name, err)
	}
	return k, nil
}
