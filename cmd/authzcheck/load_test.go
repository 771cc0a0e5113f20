package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/load"
)

// runLoadCmd runs 'authzcheck load ...' with a terminal or not.
func runLoadCmd(t *testing.T, terminal bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""),
		Stdout: &out, Stderr: &errOut, Ctx: context.Background(), IsTerminal: terminal}
	code := run(env, append([]string{"load"}, args...))
	return code, out.String(), errOut.String()
}

func TestLoadUsageAndSafetyRefusalsExit2(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no mode", nil, "missing the load mode"},
		{"unknown mode", []string{"flood"}, `unknown load mode "flood"`},
		{"malformed threshold is named", []string{"issuance", "--threshold", "p99<fast"}, `"p99<fast"`},
		{"threshold of another mode", []string{"issuance", "--threshold", "fetches_per_call<1"}, "only by 'load cached'"},
		{"bad rate", []string{"issuance", "--rate", "lots"}, "--rate"},
		{"zero duration", []string{"issuance", "--duration", "0s"}, "--duration"},
		{"non-loopback target without --allow-remote", []string{"issuance", "--token-url", "https://10.255.255.1/token",
			"--client-id", "a", "--client-secret", "long-enough-secret"}, "--allow-remote"},
		{"remote above the default cap", []string{"issuance", "--allow-remote", "--rate", "21", "--token-url", "https://10.255.255.1/token",
			"--client-id", "a", "--client-secret", "long-enough-secret"}, "above --max-rate 20/s"},
		{"remote ramp above the raised cap", []string{"ramp", "--allow-remote", "--max-rate", "50", "--from", "10", "--to", "60",
			"--token-url", "https://10.255.255.1/token", "--client-id", "a", "--client-secret", "long-enough-secret"}, "above --max-rate 50/s"},
		{"remote as fast as possible", []string{"issuance", "--allow-remote", "--rate", "0", "--max-workers", "4",
			"--token-url", "https://10.255.255.1/token", "--client-id", "a", "--client-secret", "long-enough-secret"}, "--rate 0"},
		{"loopback above an explicit cap", []string{"issuance", "--max-rate", "10", "--rate", "11"}, "above --max-rate 10/s"},
		{"mock flags against another target", []string{"issuance", "--mock-policy", "cached", "--token-url", "http://127.0.0.1:1/token",
			"--client-id", "a", "--client-secret", "long-enough-secret"}, "applies only to the embedded mock"},
		{"bad mock policy", []string{"issuance", "--mock-policy", "sometimes"}, "--mock-policy"},
		{"mock token lifetime not whole seconds", []string{"cached", "--mock-token-ttl", "1500ms"}, "--mock-token-ttl: token lifetime 1.5s: must be whole seconds"},
		{"refresh point outside the lifetime", []string{"cached", "--refresh-at", "1.5"}, "--refresh-at 1.5"},
		{"refresh point inside the jitter", []string{"cached", "--refresh-at", "0.05"}, "--refresh-at 0.05"},
		{"refresh point of no cache", []string{"issuance", "--refresh-at", "0.9"}, "only to 'load cached'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if len(args) > 0 {
				args = append(args, "--out", t.TempDir())
			}
			code, _, errOut := runLoadCmd(t, false, args...)
			assert.Equal(t, cli.ExitUsage, code, errOut)
			assert.Contains(t, errOut, c.want)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1-strings.Count(errOut, "warning:"), "one line: %q", errOut)
		})
	}
}

func TestLoadIssuanceWritesTheBundleAndThresholdsDecideTheExitCode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	code, out, errOut := runLoadCmd(t, false, "issuance", "--rate", "50", "--duration", "500ms", "--out", dir,
		"--mock-policy", "cached", "--threshold", "success>=0.99")
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Contains(t, out, "Latencies")
	assert.Contains(t, out, "Tokens")
	assert.Contains(t, out, "threshold success>=0.99: held")
	assert.NotContains(t, out, "\r", "no progress line when stdout is not a terminal")
	sum, err := load.ReadSummary(filepath.Join(dir, "load", load.SummaryFile))
	require.NoError(t, err)
	assert.Equal(t, "cached", sum.Tokens.Policy)
	assert.FileExists(t, filepath.Join(dir, "manifest.json"), "the bundle is sealed")
	assert.FileExists(t, filepath.Join(dir, "load", load.PlotFile))

	dir = filepath.Join(t.TempDir(), "ev")
	code, _, errOut = runLoadCmd(t, false, "issuance", "--rate", "50", "--duration", "300ms", "--out", dir, "--threshold", "p50<1ns")
	assert.Equal(t, cli.ExitFailed, code)
	assert.Contains(t, errOut, "threshold p50<1ns failed: measured ")
}

func TestLoadProgressLineOnlyOnATerminal(t *testing.T) {
	code, out, errOut := runLoadCmd(t, true, "issuance", "--rate", "20", "--duration", "300ms", "--out", filepath.Join(t.TempDir(), "ev"))
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Contains(t, out, "\r", "a terminal gets the live line")
	assert.Contains(t, out, "left)")

	code, out, errOut = runLoadCmd(t, true, "issuance", "--quiet", "--rate", "20", "--duration", "300ms", "--out", filepath.Join(t.TempDir(), "ev"))
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.NotContains(t, out, "\r", "--quiet: no progress line")
	assert.NotContains(t, out, "Latencies", "--quiet: no text report")
	assert.Contains(t, out, "PASSED")
}

func TestLoadCachedAgainstTheMock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	code, out, errOut := runLoadCmd(t, false, "cached", "--rate", "40", "--duration", "2s", "--mock-token-ttl", "2s", "--out", dir,
		"--threshold", "fetches_per_call<0.1", "--threshold", "stalls<=0")
	require.Equal(t, cli.ExitOK, code, errOut+out)
	assert.Contains(t, out, "Token cache")
	sum, err := load.ReadSummary(filepath.Join(dir, "load", load.SummaryFile))
	require.NoError(t, err)
	require.NotNil(t, sum.Cache.Server)
	assert.Equal(t, int64(sum.Requests), sum.Cache.Server.APICalls, "the mock counted every API call")
	assert.Equal(t, sum.Cache.TokenFetches+1, sum.Cache.Server.TokenRequests, "and every fetch, warm-up included")
}
