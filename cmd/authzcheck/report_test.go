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
	"github.com/authzcheck/authzcheck/load"
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
	sealed, err := os.ReadFile(filepath.Join(dir, reports.ReportFile))
	require.NoError(t, err)

	code, out, stderr := runReportCmd(t, "report", "html", dir)
	require.Equal(t, cli.ExitOK, code, stderr)
	assert.Contains(t, out, "wrote ")
	again, err := os.ReadFile(filepath.Join(dir, reports.ReportFile))
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
	require.NoError(t, os.WriteFile(filepath.Join(dir, reports.ReportFile), older, 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, reports.ManifestFile))) // it lists the newer report's hash
	resealWithoutSigning(t, dir)
	code, _, _ = runReportCmd(t, "report", "verify", dir)
	require.Equal(t, cli.ExitOK, code, "precondition: the older report is the sealed one")
	code, _, stderr = runReportCmd(t, "report", "html", dir)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr, "--out FILE")
	kept, err := os.ReadFile(filepath.Join(dir, reports.ReportFile))
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
			p := filepath.Join(dir, reports.TranscriptsDir, "0001.json")
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
		if d.IsDir() || rel == reports.SumsFile || rel == reports.SignatureFile {
			return nil
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		entries = append(entries, reports.FileEntry{Path: rel, SHA256: hex.EncodeToString(sum[:])})
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, reports.SumsFile), reports.FormatSums(entries), 0o644))
	_ = os.Remove(filepath.Join(dir, reports.SignatureFile))
}

func TestReportMergeCombinesGenerators(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	require.NoError(t, reportstest.WriteLoad(a))
	require.NoError(t, reportstest.WriteLoad(b))
	out := filepath.Join(t.TempDir(), "merged.json")
	code, stdout, stderr := runReportCmd(t, "report", "merge", "--out", out, a, b)
	require.Equal(t, cli.ExitOK, code, stderr)
	merged, err := load.ReadSummary(out)
	require.NoError(t, err)
	assert.Equal(t, 2*reportstest.LoadRequests, int(merged.Requests), "every result of both generators counts")
	assert.Contains(t, stdout, "merged summary: "+out)
}

func TestReportMergeRefusesADirectoryWithoutLoadResults(t *testing.T) {
	code, _, stderr := runReportCmd(t, "report", "merge", t.TempDir())
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr, "has no")
}
