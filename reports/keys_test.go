package reports_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/reports"
)

func TestGenerateKeyPairWritesAUsablePair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	keyPath, pubPath, err := reports.GenerateKeyPair(dir)
	require.NoError(t, err)
	fi, err := os.Stat(keyPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "private key readable by its owner only")

	priv, err := reports.ReadPrivateKeyFile(keyPath)
	require.NoError(t, err)
	pub, err := reports.ReadPublicKeyFile(pubPath)
	require.NoError(t, err)
	msg := []byte("SHA256SUMS")
	assert.True(t, ed25519.Verify(pub, msg, ed25519.Sign(priv, msg)), "the two halves belong together")

	keyPEM, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	block, _ := pem.Decode(keyPEM)
	require.NotNil(t, block)
	assert.Equal(t, "PRIVATE KEY", block.Type)
	pubPEM, err := os.ReadFile(pubPath)
	require.NoError(t, err)
	block, _ = pem.Decode(pubPEM)
	require.NotNil(t, block)
	assert.Equal(t, "PUBLIC KEY", block.Type)
}

func TestGenerateKeyPairNeverOverwrites(t *testing.T) {
	for _, existing := range []string{reports.PrivateKeyFile, reports.PublicKeyFile} {
		t.Run("should refuse when "+existing+" exists", func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, existing)
			require.NoError(t, os.WriteFile(p, []byte("precious"), 0o600))
			_, _, err := reports.GenerateKeyPair(dir)
			require.ErrorIs(t, err, reports.ErrKeyExists)
			assert.Contains(t, err.Error(), existing)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.Equal(t, "precious", string(data))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "nothing else written")
		})
	}
}

func TestKeyParsersRejectOtherKeys(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	require.NoError(t, err)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edDER, err := x509.MarshalPKCS8PrivateKey(edPriv)
	require.NoError(t, err)

	cases := []struct {
		name    string
		private bool
		data    []byte
		want    string
	}{
		{"should reject text with no PEM block", true, []byte("not a key"), "no PEM block"},
		{"should reject an ECDSA private key", true, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "want ed25519"},
		{"should reject a public key given as the signing key", true, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER}), `"PUBLIC KEY"`},
		{"should reject garbage DER", true, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "not a PKCS#8"},
		{"should reject an ECDSA public key", false, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER}), "want ed25519"},
		{"should reject a private key given as the public key", false, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}), `"PRIVATE KEY"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.private {
				_, err = reports.ParsePrivateKeyPEM(tc.data)
			} else {
				_, err = reports.ParsePublicKeyPEM(tc.data)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := reports.ParsePrivateKeyPEM(data)
		if err != nil {
			return
		}
		if len(k) != ed25519.PrivateKeySize {
			t.Fatalf("accepted a key of %d bytes", len(k))
		}
		msg := []byte("m")
		if !ed25519.Verify(k.Public().(ed25519.PublicKey), msg, ed25519.Sign(k, msg)) {
			t.Fatal("accepted a key that does not sign")
		}
	})
}

func FuzzParsePublicKeyPEM(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := reports.ParsePublicKeyPEM(data)
		if err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("accepted a key of %d bytes", len(k))
		}
	})
}
