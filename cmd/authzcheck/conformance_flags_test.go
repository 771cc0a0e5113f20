package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/mock"
)

func TestConformanceRefusesBadRunFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ev")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no requests in flight", []string{"--concurrency", "0"}, "--concurrency 0: give at least 1"},
		{"negative concurrency", []string{"--concurrency", "-3"}, "--concurrency -3: give at least 1"},
		{"api-url-for without a scope", []string{"--api-url-for", "https://127.0.0.1/shopping"}, "want SCOPE=URL"},
		{"api-url-for in clear to a remote host", []string{"--api-url-for", "shop.all=http://192.0.2.1/shopping"}, "refusing to send credentials in clear"},
		{"api-url-for not a URL", []string{"--api-url-for", "shop.all=shopping"}, "want an http(s) URL"},
		{"api-url-for a scope twice", []string{"--api-url-for", "shop.all=https://127.0.0.1/a", "--api-url-for", "shop.all=https://127.0.0.1/b"}, "scope shop.all given twice"},
		{"token store inside the bundle", []string{"--token-store", filepath.Join(out, "tokens")}, "overlaps the evidence directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, nil, append([]string{"conformance", "--out", out}, tc.args...)...)
			assert.Equal(t, cli.ExitUsage, code, stdout)
			assert.Contains(t, stderr, tc.want)
			assert.NoDirExists(t, out, "nothing may be written")
		})
	}
}

// TestConformanceTokenStoreAndAPIURLForAgainstATarget runs the command as against UAT (no
// control API): --api-url-for runs BEARER-13, --token-store keeps the run's token with mode 0600
// and BEARER-11's reason names the flag; requests stay within --concurrency.
func TestConformanceTokenStoreAndAPIURLForAgainstATarget(t *testing.T) {
	s, err := mock.New()
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	vars := map[string]string{"AUTHZ_TOKEN_URL": s.TokenURL(), "AUTHZ_API_URL": s.APIURL(),
		"AUTHZ_CLIENT_ID": mock.DefaultClientID, "AUTHZ_CLIENT_SECRET": mock.DefaultClientSecret}
	store := filepath.Join(t.TempDir(), "tokens")
	out := filepath.Join(t.TempDir(), "ev")
	code, stdout, stderr := runCmd(t, vars, "conformance", "--out", out, "--quiet", "--concurrency", "2",
		"--tags", "@BEARER-01,@BEARER-11,@BEARER-13", "--token-store", store, "--api-url-for", "shopping="+s.URL()+"/shopping")
	require.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.LessOrEqual(t, s.MaxInFlight(), int64(2))

	var sum struct {
		Checks []struct{ ID, Status, Reason string } `json:"checks"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	got := map[string]string{}
	for _, c := range sum.Checks {
		got[c.ID] = c.Status
		if c.ID == "BEARER-11" {
			assert.Contains(t, c.Reason, "--token-store")
		}
	}
	assert.Equal(t, "passed", got["BEARER-13"])
	assert.Equal(t, "skipped", got["BEARER-11"])

	files, err := filepath.Glob(filepath.Join(store, "*.json"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	fi, err := os.Stat(files[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	tok, err := os.ReadFile(files[0])
	require.NoError(t, err)
	assert.NotContains(t, string(tok), mock.DefaultClientSecret)
}
