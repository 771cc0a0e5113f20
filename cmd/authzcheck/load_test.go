package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/loopback"
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
		{"ramp that does not rise", []string{"ramp", "--from", "50", "--to", "50"}, "ramp needs 0 < --from < --to and --steps > 0"},
		{"as fast as possible without a worker cap", []string{"cached", "--rate", "0"}, "--rate 0 (as fast as possible) needs --max-workers"},
		{"abort share above 1", []string{"issuance", "--abort-error-rate", "2"}, "--abort-error-rate 2"},
		{"negative instances", []string{"cached", "--instances", "-1"}, "--instances -1: at least 1"},
		{"no instances", []string{"cached", "--instances", "0"}, "--instances 0: must be positive"},
		{"refresh at 0", []string{"cached", "--refresh-at", "0"}, "--refresh-at 0: must be positive"},
		{"a cap of 0", []string{"issuance", "--max-rate", "0"}, "--max-rate 0: must be positive"},
		{"plain HTTP API URL beside the mock", []string{"cached", "--api-url", "http://192.0.2.1/products"}, "--api-url: refusing to send credentials in clear to http://192.0.2.1/products"},
		{"unknown flag names the mode's help", []string{"ramp", "--fast"}, "run 'authzcheck load ramp -h'"},
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
			assert.NotContains(t, errOut, "{", "every load.Config field is rendered as its flag")
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
	sum, err := evidence.ReadLoadSummary(filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile)))
	require.NoError(t, err)
	assert.Equal(t, "cached", sum.Tokens.Policy)
	assert.FileExists(t, filepath.Join(dir, "manifest.json"), "the bundle is sealed")
	assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(evidence.LoadPlotFile)))

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
	sum, err := evidence.ReadLoadSummary(filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile)))
	require.NoError(t, err)
	require.NotNil(t, sum.Cache.Server)
	assert.Equal(t, int64(sum.Requests), sum.Cache.Server.APICalls, "the mock counted every API call")
	assert.Equal(t, sum.Cache.TokenFetches+1, sum.Cache.Server.TokenRequests, "and every fetch, warm-up included")
}

// countLoadDials makes every load run of the test dial through a counter that dials loopback
// only (a test never reaches another host, even when the rule under test fails).
func countLoadDials(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	loadDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !loopback.Host(host) {
			return nil, errors.New("the test dials loopback only")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	t.Cleanup(func() { loadDialContext = nil })
	return &n
}

// No credential goes in clear to a remote host from 'load', whatever --allow-remote and
// --max-rate say: exit 2 before anything is dialled or written (issue 10).
func TestLoadRefusesPlainHTTPToARemoteHostBeforeDialling(t *testing.T) {
	creds := []string{"--allow-remote", "--max-rate", "1000", "--client-id", "a", "--client-secret", "long-enough-secret"}
	cases := []struct {
		name string
		args []string
		url  string
	}{
		{"issuance", []string{"issuance", "--token-url", "http://192.0.2.1/token"}, "http://192.0.2.1/token"},
		{"ramp", []string{"ramp", "--token-url", "http://192.0.2.1/token"}, "http://192.0.2.1/token"},
		{"cached, its token URL", []string{"cached", "--token-url", "http://192.0.2.1/token", "--api-url", "https://192.0.2.1/products"}, "http://192.0.2.1/token"},
		{"cached, its API URL", []string{"cached", "--token-url", "https://192.0.2.1/token", "--api-url", "http://192.0.2.1/products"}, "http://192.0.2.1/products"},
		{"a JWKS URL", []string{"issuance", "--token-url", "https://192.0.2.1/token", "--jwks-url", "http://192.0.2.1/jwks"}, "http://192.0.2.1/jwks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dials := countLoadDials(t)
			dir := filepath.Join(t.TempDir(), "ev")
			code, out, errOut := runLoadCmd(t, false, append(append(c.args, creds...), "--out", dir)...)
			assert.Equal(t, cli.ExitUsage, code, errOut)
			assert.Contains(t, errOut, c.url)
			assert.Contains(t, errOut, "use https")
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1-strings.Count(errOut, "warning:"), "one line: %q", errOut)
			assert.NotContains(t, out+errOut, "long-enough-secret")
			assert.Zero(t, dials.Load(), "nothing was dialled")
			assert.NoDirExists(t, dir, "nothing was written")
		})
	}
	t.Run("the counter sees a run's dials", func(t *testing.T) {
		dials := countLoadDials(t)
		code, _, errOut := runLoadCmd(t, false, "issuance", "--quiet", "--rate", "20", "--duration", "200ms", "--out", filepath.Join(t.TempDir(), "ev"))
		require.Equal(t, cli.ExitOK, code, errOut)
		assert.Positive(t, dials.Load())
	})
}

// --out naming a file, or a path through one, is bad usage, said once.
func TestLoadOutAFileIsAUsageError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "results.txt")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	for name, out := range map[string]string{"a file": file, "a path through a file": filepath.Join(file, "ev")} {
		t.Run(name, func(t *testing.T) {
			code, stdout, errOut := runLoadCmd(t, false, "issuance", "--duration", "200ms", "--out", out)
			assert.Equal(t, cli.ExitUsage, code, errOut)
			assert.Contains(t, errOut, "--out "+out)
			assert.Contains(t, errOut, "give a new directory")
			assert.NotContains(t, stdout+errOut, "load: load:")
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "x", string(b), "the file is untouched")
}

// Each mode's help lists its own flags and the shared ones, with an example.
func TestLoadModeHelpListsItsOwnFlags(t *testing.T) {
	cases := []struct {
		mode        string
		own, others []string
	}{
		{"issuance", []string{"-rate"}, []string{"-from", "-to", "-steps", "-instances", "-refresh-at", "-api-url"}},
		{"cached", []string{"-rate", "-instances", "-refresh-at", "-api-url"}, []string{"-from", "-to", "-steps"}},
		{"ramp", []string{"-from", "-to", "-steps"}, []string{"-rate", "-instances", "-refresh-at", "-api-url"}},
	}
	shared := []string{"-duration", "-out", "-threshold", "-token-url", "-client-id", "-allow-remote", "-max-rate", "-mock-policy"}
	notForLoad := []string{"-profile", "-jwks-url", "-public-key", "-client2-id"}
	for _, c := range cases {
		for _, h := range []string{"-h", "--help"} {
			t.Run(c.mode+" "+h, func(t *testing.T) {
				code, out, errOut := runLoadCmd(t, false, c.mode, h)
				require.Equal(t, cli.ExitOK, code, errOut)
				assert.Contains(t, out, "Usage: authzcheck load "+c.mode)
				assert.Contains(t, out, "Example:\n  authzcheck load "+c.mode+" ")
				lists := func(f string) bool {
					return strings.Contains(out, "\n  "+f+" ") || strings.Contains(out, "\n  "+f+"\n")
				}
				for _, f := range append(append([]string{}, c.own...), shared...) {
					assert.True(t, lists(f), "lists %s", f)
				}
				for _, f := range append(append([]string{}, c.others...), notForLoad...) {
					assert.False(t, lists(f), "does not list %s", f)
				}
			})
		}
	}
}

// A generator that cannot keep up does not pass: exit 1 and why.
func TestLoadAtAnAbsurdRateFailsForTheGenerator(t *testing.T) {
	code, out, errOut := runLoadCmd(t, false, "issuance", "--quiet", "--rate", "1000000", "--duration", "300ms", "--max-workers", "4",
		"--mock-policy", "cached", "--out", filepath.Join(t.TempDir(), "ev"))
	assert.Equal(t, cli.ExitFailed, code, errOut)
	assert.Contains(t, out, "FAILED")
	assert.Contains(t, errOut, "asked 1000000/s, achieved ")
	assert.Contains(t, errOut, "the generator, not the target, was the limit")
}

// Every field a load.ConfigError may name is a field of load.Config with a flag.
func TestLoadFlagOfNamesConfigFields(t *testing.T) {
	cfg := reflect.TypeOf(load.Config{})
	for field, flagName := range loadFlagOf {
		_, ok := cfg.FieldByName(field)
		assert.True(t, ok, "load.Config.%s", field)
		assert.NotEmpty(t, flagName)
	}
	for name := range loadFlagModes {
		fs, _ := loadFlags()
		assert.NotNil(t, fs.Lookup(name), "--%s is a load flag", name)
	}
}
