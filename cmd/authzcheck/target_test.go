package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/mock"
)

func resolveWith(t *testing.T, vars map[string]string, args ...string) (*target, error) {
	t.Helper()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tf := addTargetFlags(fs)
	require.NoError(t, fs.Parse(args))
	tg, err := tf.resolve(&cli.Env{Getenv: func(k string) string { return vars[k] }})
	if tg != nil {
		t.Cleanup(tg.Close)
	}
	return tg, err
}

func TestResolveTarget(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("from+file/secret\nignored\n"), 0o600))
	uat := map[string]string{"AUTHZ_TOKEN_URL": "https://uat.example.invalid/token", "AUTHZ_CLIENT_ID": "env-id",
		"AUTHZ_CLIENT_SECRET": "env-secret", "AUTHZ_PROFILE": "rfc6749"}

	tg, err := resolveWith(t, uat)
	require.NoError(t, err)
	assert.Equal(t, "https://uat.example.invalid/token", tg.TokenURL)
	assert.Equal(t, "env-id", tg.ClientID)
	assert.Equal(t, "env-secret", tg.ClientSecret)
	assert.Equal(t, "rfc6749", tg.Profile)
	assert.Nil(t, tg.Mock)
	assert.Empty(t, tg.Warnings)

	tg, err = resolveWith(t, uat, "--client-id", "flag-id", "--client-secret-file", secretFile, "--profile", "derbysoft")
	require.NoError(t, err)
	assert.Equal(t, "flag-id", tg.ClientID, "a flag beats its variable")
	assert.Equal(t, "from+file/secret", tg.ClientSecret, "the file's first line")
	assert.Equal(t, "derbysoft", tg.Profile)
	assert.NotContains(t, tg.String(), "secret")

	tg, err = resolveWith(t, uat, "--client-secret", "argv-secret")
	require.NoError(t, err)
	assert.Equal(t, "argv-secret", tg.ClientSecret)
	assert.Len(t, tg.Warnings, 1, "a secret on argv is accepted with a warning")

	_, err = resolveWith(t, uat, "--token-url", "https://id:pass-word-1@uat.example.invalid/token")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "credentials in the URL are not accepted")
	assert.NotContains(t, err.Error(), "pass-word-1", "the refusal does not print the password")

	_, err = resolveWith(t, uat, "--client-secret", "secret")
	assert.ErrorContains(t, err, "the client secret is 6 characters", "a short secret is refused: ordinary text would match it")
	tg, err = resolveWith(t, uat, "--client-secret", "8 chars!")
	require.NoError(t, err, "8 characters are enough")
	assert.Equal(t, "8 chars!", tg.ClientSecret)

	tg, err = resolveWith(t, uat, "--target", "mock")
	require.NoError(t, err, "--target mock wins over AUTHZ_TOKEN_URL")
	require.NotNil(t, tg.Mock)
	assert.Equal(t, tg.Mock.TokenURL(), tg.TokenURL)
	assert.Equal(t, mock.DefaultClientSecret, tg.ClientSecret)
	assert.Equal(t, mock.DefaultClient2ID, tg.Client2ID)
	assert.NotNil(t, tg.PublicKey)
	assert.NotEmpty(t, tg.APIURL)

	tg, err = resolveWith(t, uat, "--token-url", "http://127.0.0.1:1/token", "--api-url", "http://localhost:1/products", "--jwks-url", "http://[::1]:1/jwks")
	require.NoError(t, err, "plain HTTP to loopback is allowed")
	assert.Equal(t, "http://127.0.0.1:1/token", tg.TokenURL)

	for name, c := range map[string]struct {
		vars map[string]string
		args []string
	}{
		"secret twice":                          {uat, []string{"--client-secret", "a", "--client-secret-file", secretFile}},
		"half a client2":                        {uat, []string{"--client2-id", "x"}},
		"missing file":                          {uat, []string{"--client-secret-file", filepath.Join(t.TempDir(), "none")}},
		"bad timeout":                           {uat, []string{"--timeout", "0s"}},
		"bad api URL":                           {uat, []string{"--api-url", "products"}},
		"bad CA file":                           {uat, []string{"--ca-file", secretFile}},
		"two targets":                           {nil, []string{"--token-url", "https://a.invalid/t", "--target", "mock"}},
		"unknown profile":                       {nil, []string{"--profile", "x"}},
		"no client secret":                      {map[string]string{"AUTHZ_TOKEN_URL": "https://uat.example.invalid/token", "AUTHZ_CLIENT_ID": "x"}, nil},
		"short secret":                          {uat, []string{"--client-secret", "secret"}},
		"user in token URL":                     {uat, []string{"--token-url", "https://id:pass-word-1@uat.example.invalid/token"}},
		"user in API URL":                       {uat, []string{"--api-url", "https://id:pass-word-1@uat.example.invalid/products"}},
		"short secret 2":                        {uat, []string{"--client2-id", "b", "--client2-secret", "1234567"}},
		"plain HTTP token URL to a remote host": {uat, []string{"--token-url", "http://192.0.2.1/token"}},
		"plain HTTP API URL to a remote host":   {uat, []string{"--api-url", "http://192.0.2.1/products"}},
		"plain HTTP JWKS URL to a remote host":  {uat, []string{"--jwks-url", "http://192.0.2.1/jwks"}},
		"plain HTTP API URL beside the mock":    {nil, []string{"--api-url", "http://192.0.2.1/products"}},
	} {
		_, err := resolveWith(t, c.vars, c.args...)
		assert.Equal(t, cli.ExitUsage, cli.CodeOf(err), "%s: %v", name, err)
	}
}
