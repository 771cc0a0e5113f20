package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// runReportCmd runs 'authzcheck ARGS...' with buffers and returns the exit code and output.
func runReportCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""),
		Stdout: &out, Stderr: &errOut, Ctx: context.Background()}
	code := run(env, args)
	return code, out.String(), errOut.String()
}

func TestReportKeygenSignVerify(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	code, out, stderr := runReportCmd(t, "report", "keygen", "--out", keys)
	require.Equal(t, cli.ExitOK, code, stderr)
	assert.Contains(t, out, reports.PrivateKeyFile)
	fi, err := os.Stat(filepath.Join(keys, reports.PrivateKeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	code, _, stderr = runReportCmd(t, "report", "keygen", "--out", keys)
	assert.Equal(t, cli.ExitUsage, code, "never overwrites a key")
	assert.Contains(t, stderr, "already exists")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line")

	priv, err := reports.ReadPrivateKeyFile(filepath.Join(keys, reports.PrivateKeyFile))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, true, priv))
	pub := filepath.Join(keys, reports.PublicKeyFile)

	code, out, stderr = runReportCmd(t, "report", "verify", dir, "--public-key", pub)
	require.Equal(t, cli.ExitOK, code, stderr)
	assert.Contains(t, out, "signature verified")

	code, out, _ = runReportCmd(t, "report", "verify", "--public-key", pub, dir)
	assert.Equal(t, cli.ExitOK, code, "flags before DIR work too")
	assert.Contains(t, out, "OK ")

	// Tamper: a transcript changes; verify exits 1 naming it.
	p := filepath.Join(dir, "transcripts", "0005.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"seq":5}`), 0o644))
	code, out, stderr = runReportCmd(t, "report", "verify", dir, "--public-key", pub)
	assert.Equal(t, cli.ExitFailed, code)
	assert.Contains(t, out, "altered: transcripts/0005.json")
	assert.Contains(t, stderr, "transcripts/0005.json")

	// Another key: the signature does not hold.
	other := filepath.Join(t.TempDir(), "other")
	code, _, _ = runReportCmd(t, "report", "keygen", "--out", other)
	require.Equal(t, cli.ExitOK, code)
	code, out, _ = runReportCmd(t, "report", "verify", dir, "--public-key", filepath.Join(other, reports.PublicKeyFile))
	assert.Equal(t, cli.ExitFailed, code)
	assert.Contains(t, out, "bad signature: SHA256SUMS.sig")
}

func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notKey := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notKey, []byte("hello"), 0o644))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"should ask for a report command", []string{"report"}, "missing a report command"},
		{"should name an unknown report command", []string{"report", "pdf"}, `unknown report command "pdf"`},
		{"should want a DIR for verify", []string{"report", "verify"}, "want one bundle directory"},
		{"should refuse a DIR that is not there", []string{"report", "verify", filepath.Join(dir, "nope")}, "is not a bundle directory"},
		{"should refuse an unreadable public key", []string{"report", "verify", dir, "--public-key", notKey}, "--public-key"},
		{"should refuse an unknown flag", []string{"report", "verify", dir, "--pubkey", notKey}, "flag provided but not defined"},
		{"should want --out for keygen", []string{"report", "keygen"}, "--out DIR is required"},
		{"should want a DIR for html", []string{"report", "html"}, "want one bundle directory"},
		{"should refuse html of a dir with no bundle", []string{"report", "html", dir}, "not a bundle"},
		{"should want DIRs for merge", []string{"report", "merge"}, "one or more bundle directories"},
		{"should refuse merge of a dir without load results", []string{"report", "merge", dir}, "has no load/results.bin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runReportCmd(t, tc.args...)
			assert.Equal(t, cli.ExitUsage, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}

func TestReportVerifyUnsealedBundleFails(t *testing.T) {
	dir := t.TempDir()
	_, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	code, out, _ := runReportCmd(t, "report", "verify", dir)
	assert.Equal(t, cli.ExitFailed, code)
	assert.Contains(t, out, "missing: SHA256SUMS")
}

func TestReportHTMLReRendersDeterministically(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, true, nil))
	sealed, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)

	code, out, stderr := runReportCmd(t, "report", "html", dir)
	require.Equal(t, cli.ExitOK, code, stderr)
	assert.Contains(t, out, "wrote ")
	again, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	assert.Equal(t, sealed, again)
	code, _, stderr = runReportCmd(t, "report", "verify", dir)
	assert.Equal(t, cli.ExitOK, code, "re-rendering keeps the seal: %s", stderr)

	// Elsewhere, with --out.
	other := filepath.Join(t.TempDir(), "copy.html")
	code, _, stderr = runReportCmd(t, "report", "html", dir, "--out", other)
	require.Equal(t, cli.ExitOK, code, stderr)
	copied, err := os.ReadFile(other)
	require.NoError(t, err)
	assert.Equal(t, sealed, copied)

	// A sealed report made by another renderer is never replaced behind the seal's back.
	older := []byte("<!doctype html><p>rendered by an older harness</p>")
	require.NoError(t, os.WriteFile(filepath.Join(dir, evidence.ReportFile), older, 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, evidence.ManifestFile))) // it lists the newer report's hash
	resealWithoutSigning(t, dir)
	code, _, _ = runReportCmd(t, "report", "verify", dir)
	require.Equal(t, cli.ExitOK, code, "precondition: the older report is the sealed one")
	code, _, stderr = runReportCmd(t, "report", "html", dir)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr, "--out FILE")
	kept, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	assert.Equal(t, older, kept)
}

// report html never writes a page holding a signed JWT, nor a secret of the clients in the
// environment, even when the bundle's JSON holds them (changed by hand, or an older harness).
func TestReportHTMLRefusesUnredactedEvidence(t *testing.T) {
	const signedJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWRpc3RyaWJ1dG9yIn0.MEUCIQDabcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	const secret = `p&ss<w0rd>"+Q/x-distinctive`
	for name, leak := range map[string]string{"a signed JWT": signedJWT, "a client secret": secret} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, reportstest.WriteBundle(dir, false, nil))
			p := filepath.Join(dir, evidence.TranscriptsDir, "0001.json")
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			leaked := strings.Replace(string(data), "grant_type=client_credentials", "grant_type=client_credentials&x="+strings.NewReplacer(`"`, `\"`, "&", `\u0026`, "<", `\u003c`, ">", `\u003e`).Replace(leak), 1)
			require.NotEqual(t, string(data), leaked, "precondition: the fixture's request body is there")
			require.NoError(t, os.WriteFile(p, []byte(leaked), 0o644))

			out := filepath.Join(t.TempDir(), "report.html")
			var stdout, stderr bytes.Buffer
			env := &cli.Env{Getenv: func(k string) string {
				return map[string]string{"AUTHZ_CLIENT_ID": "demo-distributor", "AUTHZ_CLIENT_SECRET": secret}[k]
			}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Ctx: context.Background()}
			code := run(env, []string{"report", "html", dir, "--out", out})
			assert.Equal(t, cli.ExitFailed, code, stderr.String())
			assert.Contains(t, stderr.String(), name)
			assert.NotContains(t, stderr.String(), leak)
			assert.NoFileExists(t, out, "nothing written")
		})
	}
}

// resealWithoutSigning rewrites SHA256SUMS over the files as they are now (as an older harness
// would have sealed them).
func resealWithoutSigning(t *testing.T, dir string) {
	t.Helper()
	var entries []reports.FileEntry
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == evidence.SumsFile || rel == evidence.SignatureFile {
			return nil
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		entries = append(entries, reports.FileEntry{Path: rel, SHA256: hex.EncodeToString(sum[:])})
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, evidence.SumsFile), reports.FormatSums(entries), 0o644))
	_ = os.Remove(filepath.Join(dir, evidence.SignatureFile))
}

// Two generators of one test, against one target: merge writes the summary recomputed from
// every result and a plot of them to --out.
func TestReportMergeCombinesGenerators(t *testing.T) {
	s, err := mock.New()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	vars := map[string]string{"AUTHZ_TOKEN_URL": s.TokenURL(), "AUTHZ_CLIENT_ID": mock.DefaultClientID, "AUTHZ_CLIENT_SECRET": mock.DefaultClientSecret}
	var dirs []string
	var requests uint64
	for _, name := range []string{"gen-1", "gen-2"} {
		dir := filepath.Join(t.TempDir(), name)
		code, out, errOut := runCmd(t, vars, "load", "issuance", "--rate", "20", "--duration", "300ms", "--name", name, "--quiet", "--out", dir)
		require.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
		sum, err := evidence.ReadLoadSummary(filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile)))
		require.NoError(t, err)
		requests += sum.Requests
		dirs = append(dirs, dir)
	}
	for _, tc := range []struct{ name, out, summary, plot string }{
		{"into a directory", "merged", "merged/summary.json", "merged/plot.html"},
		{"into a JSON file", "merged.json", "merged.json", "merged.plot.html"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			code, stdout, stderr := runReportCmd(t, append([]string{"report", "merge", "--out", filepath.Join(root, tc.out)}, dirs...)...)
			require.Equal(t, cli.ExitOK, code, stderr)
			assert.Empty(t, stderr)
			merged, err := evidence.ReadLoadSummary(filepath.Join(root, tc.summary))
			require.NoError(t, err)
			assert.Equal(t, requests, merged.Requests, "every result of both generators counts")
			assert.Equal(t, "merged", merged.Mode)
			plot, err := os.ReadFile(filepath.Join(root, tc.plot))
			require.NoError(t, err)
			assert.Contains(t, string(plot), "authzcheck load merged")
			assert.Contains(t, stdout, "merged summary: "+filepath.Join(root, tc.summary))
		})
	}
}

// merge refuses what it cannot honestly merge, with exit 2 and nothing written, unless --force,
// which merges and prints each difference.
func TestReportMergeRefusesWhatItCannotHonestlyMerge(t *testing.T) {
	base := t.TempDir()
	a := filepath.Join(base, "a")
	require.NoError(t, os.Mkdir(a, 0o755))
	require.NoError(t, reportstest.WriteBundle(a, true, nil))
	copyOf := func(t *testing.T, edit func(*evidence.LoadSummary)) string {
		dir := filepath.Join(t.TempDir(), "b")
		require.NoError(t, os.CopyFS(dir, os.DirFS(a)))
		if edit != nil {
			p := filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile))
			sum, err := evidence.ReadLoadSummary(p)
			require.NoError(t, err)
			edit(sum)
			require.NoError(t, sum.WriteJSON(p))
		}
		return dir
	}
	cases := []struct {
		name string
		dirs func(t *testing.T) []string
		want string
	}{
		{"the same directory twice", func(t *testing.T) []string { return []string{a, a} }, "are the same run (run ID " + reportstest.LoadRun().RunID},
		{"a copy of one run", func(t *testing.T) []string { return []string{a, copyOf(t, nil)} }, "the same run"},
		{"different modes", func(t *testing.T) []string {
			return []string{a, copyOf(t, func(s *evidence.LoadSummary) { s.Mode = "cached" })}
		}, "different modes: " + a + " issuance, "},
		{"different targets", func(t *testing.T) []string {
			return []string{a, copyOf(t, func(s *evidence.LoadSummary) { s.Target = "http://127.0.0.2:8080/token" })}
		}, "http://127.0.0.2:8080/token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dirs := tc.dirs(t)
			out := filepath.Join(t.TempDir(), "merged")
			code, _, stderr := runReportCmd(t, append([]string{"report", "merge", "--out", out}, dirs...)...)
			assert.Equal(t, cli.ExitUsage, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Contains(t, stderr, "--force")
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			assert.NoDirExists(t, out, "nothing written")

			code, _, stderr = runReportCmd(t, append([]string{"report", "merge", "--force", "--out", out}, dirs...)...)
			assert.Equal(t, cli.ExitOK, code, stderr)
			assert.Contains(t, stderr, "warning: --force: ")
			assert.Contains(t, stderr, tc.want, "the difference is printed")
			assert.FileExists(t, filepath.Join(out, evidence.LoadSummaryName))
		})
	}
}

func TestReportMergeNeverWritesIntoABundle(t *testing.T) {
	a := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(a, true, nil))
	for _, out := range []string{a, filepath.Join(a, "merged.json")} {
		code, _, stderr := runReportCmd(t, "report", "merge", "--force", "--out", out, a)
		assert.Equal(t, cli.ExitUsage, code, stderr)
		assert.Contains(t, stderr, "inside the bundle")
	}
	code, stdout, stderr := runReportCmd(t, "report", "verify", a)
	assert.Equal(t, cli.ExitOK, code, "%s%s", stdout, stderr)
}

func TestReportMergeRefusesADirectoryWithoutLoadResults(t *testing.T) {
	code, _, stderr := runReportCmd(t, "report", "merge", t.TempDir())
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr, "has no")
}

// Every report command, and version, has its own help (exit 0); --version works.
func TestHelpAndVersion(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
		not  string // another command's usage, which must not be printed
	}{
		{"version -h", []string{"version", "-h"}, "Usage: authzcheck version", "report"},
		{"--version", []string{"--version"}, "commit  ", "Usage"},
		{"version", []string{"version"}, "vegeta  ", "Usage"},
		{"report html -h", []string{"report", "html", "-h"}, "Usage: authzcheck report html DIR", "report merge"},
		{"report verify -h", []string{"report", "verify", "-h"}, "Usage: authzcheck report verify DIR", "report html"},
		{"report merge -h", []string{"report", "merge", "-h"}, "Usage: authzcheck report merge DIR...", "report keygen"},
		{"report keygen -h", []string{"report", "keygen", "--help"}, "Usage: authzcheck report keygen --out DIR", "report merge"},
		{"report -h", []string{"report", "-h"}, "authzcheck report merge DIR...", "Flags:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runReportCmd(t, tc.args...)
			assert.Equal(t, cli.ExitOK, code, errOut)
			assert.Contains(t, out, tc.want)
			assert.NotContains(t, out, tc.not)
			assert.Empty(t, errOut)
		})
	}
	code, _, errOut := runReportCmd(t, "version", "now")
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, errOut, `unexpected argument "now"`)
}
