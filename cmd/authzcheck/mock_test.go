package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/mock"
)

func mockEnv(ctx context.Context, args []string, stdout io.Writer) (*cli.Env, *bytes.Buffer) {
	var stderr bytes.Buffer
	return &cli.Env{Args: args, Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""),
		Stdout: stdout, Stderr: &stderr, Ctx: ctx}, &stderr
}

func TestMockCommandRejectsBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badCfg, []byte(`{"polcy":"cached"}`), 0o600))
	shortTTL := filepath.Join(dir, "short.json")
	require.NoError(t, os.WriteFile(shortTTL, []byte(`{"token_ttl":"1500ms"}`), 0o600))
	cached := filepath.Join(dir, "cached.json")
	require.NoError(t, os.WriteFile(cached, []byte(`{"policy":"cached","faults":{"error_rate":0.5}}`), 0o600))
	notKey := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(notKey, []byte("not a key"), 0o600))
	tests := []struct {
		name string
		args []string
		want string // the flag the one-line message must name
	}{
		{"non-loopback address", []string{"--addr", "0.0.0.0:0"}, "--addr"},
		{"port out of range", []string{"--addr", "127.0.0.1:99999"}, "--addr"},
		{"address without a port", []string{"--addr", "localhost"}, "--addr"},
		{"bad value in the config file", []string{"--config", shortTTL}, "--config " + shortTTL + ": token_ttl"},
		{"bad flag over a good file", []string{"--config", cached, "--policy", "sometimes"}, "--policy"},
		{"bad fault flag over a file", []string{"--config", cached, "--reset-rate", "2"}, "--reset-rate"},
		{"key file that does not exist", []string{"--key", filepath.Join(dir, "none.pem")}, "--key"},
		{"client without a secret", []string{"--client", "ACME"}, "--client"},
		{"unknown quirk", []string{"--quirk", "nope"}, "--quirk"},
		{"error rate over 1", []string{"--error-rate", "1.5"}, "--error-rate"},
		{"sub-second lifetime", []string{"--token-ttl", "1500ms"}, "--token-ttl"},
		{"negative rotation interval", []string{"--rotate-key-every", "-1h"}, "--rotate-key-every"},
		{"unknown policy", []string{"--policy", "sometimes"}, "--policy"},
		{"missing config file", []string{"--config", filepath.Join(dir, "none.json")}, "--config"},
		{"config with an unknown field", []string{"--config", badCfg}, "--config"},
		{"key file that is not PEM", []string{"--key", notKey}, "--key"},
		{"unknown flag", []string{"--nope"}, "nope"},
		{"stray argument", []string{"serve"}, "serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := mockEnv(context.Background(), tt.args, io.Discard)
			err := runMock(env)
			require.Error(t, err)
			assert.Equal(t, cli.ExitUsage, cli.CodeOf(err))
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, cli.OneLine(err), "\n")
			assert.NotContains(t, err.Error(), "mock:", "no doubled prefix: main adds 'authzcheck mock: '")
		})
	}
}

func TestMockCommandServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	env, _ := mockEnv(ctx, []string{"--addr", "127.0.0.1:0", "--client", "ACME:top+secret:product.all", "--token-ttl", "60s"}, pw)
	done := make(chan error, 1)
	go func() { done <- runMock(env); pw.Close() }()

	sc := bufio.NewScanner(pr)
	var banner []string
	var tokenURL string
	for sc.Scan() {
		line := sc.Text()
		banner = append(banner, line)
		if f := strings.Fields(line); len(f) == 3 && f[0] == "token" {
			tokenURL = f[2]
		}
		if strings.Contains(line, "control") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.NotEmpty(t, tokenURL, "banner: %q", banner)
	assert.NotContains(t, strings.Join(banner, "\n"), "top+secret", "a user-supplied secret must never be printed")
	assert.NotContains(t, strings.Join(banner, "\n"), mock.DefaultClientSecret, "demo clients are not configured here")

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ACME:top+secret")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(body), `"scope":"product.all"`)
	assert.Contains(t, string(body), `"expires_in":60`)

	cancel()
	assert.NoError(t, <-done)
}

// TestMockCommandWarnsOfAShortSecret: a secret the harness would refuse is served, with one
// warning line naming the client (never the secret).
func TestMockCommandWarnsOfAShortSecret(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, then stop at once
	var out bytes.Buffer
	env, stderr := mockEnv(ctx, []string{"--addr", "127.0.0.1:0", "--client", "ACME:shrt", "--client", "LONG:long-enough-secret"}, &out)
	require.NoError(t, runMock(env))
	assert.Contains(t, out.String(), "listening on", "it still serves")
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.Len(t, lines, 1, "one warning, for ACME only: %q", stderr.String())
	assert.Contains(t, lines[0], `client "ACME" has a 4-character secret`)
	assert.Contains(t, lines[0], "8")
	assert.NotContains(t, stderr.String()+out.String(), "shrt")
}

// TestMockCommandServesTLS: --tls serves HTTPS and prints the CA that a client must trust.
func TestMockCommandServesTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	env, _ := mockEnv(ctx, []string{"--addr", "127.0.0.1:0", "--tls"}, pw)
	done := make(chan error, 1)
	go func() { done <- runMock(env); pw.Close() }()

	sc := bufio.NewScanner(pr)
	var tokenURL, pemText string
	inPEM := false
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 3 && f[0] == "token" {
			tokenURL = f[2]
		}
		inPEM = inPEM || strings.HasPrefix(line, "-----BEGIN CERTIFICATE")
		if inPEM {
			pemText += line + "\n"
		}
		if strings.HasPrefix(line, "-----END CERTIFICATE") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.True(t, strings.HasPrefix(tokenURL, "https://127.0.0.1:"), tokenURL)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM([]byte(pemText)), "the banner prints the CA: %q", pemText)

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth(mock.DefaultClientID, url.QueryEscape(mock.DefaultClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	cancel()
	assert.NoError(t, <-done)
}

func TestMockCommandListsQuirks(t *testing.T) {
	var out bytes.Buffer
	env, _ := mockEnv(context.Background(), []string{"--list-quirks"}, &out)
	require.NoError(t, runMock(env))
	for _, q := range mock.Quirks() {
		assert.Contains(t, out.String(), q.Name)
	}
}

// TestMockCommandTakenAddressIsUnreachable: a port already in use is exit 3, not a usage error.
func TestMockCommandTakenAddressIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	env, _ := mockEnv(context.Background(), []string{"--addr", ln.Addr().String()}, io.Discard)
	err = runMock(env)
	require.Error(t, err)
	assert.Equal(t, cli.ExitUnreachable, cli.CodeOf(err))
	assert.Contains(t, err.Error(), ln.Addr().String())
}
