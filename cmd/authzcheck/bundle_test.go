package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// countingTarget is a loopback token endpoint that counts the requests it gets.
func countingTarget(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// dirFiles lists every path under root with its contents.
func dirFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	return reportstest.Snapshot(t, root)
}

// Every run refuses an --out it cannot honestly add to before it sends a request, naming the
// file, with exit 2, and writes nothing.
func TestRunsRefuseABundleTheHarnessDidNotWriteBeforeSendingAnything(t *testing.T) {
	srv, hits := countingTarget(t)
	vars := map[string]string{"AUTHZ_TOKEN_URL": srv.URL + "/token", "AUTHZ_CLIENT_ID": "c", "AUTHZ_CLIENT_SECRET": "long-enough-secret"}
	sealed := func(t *testing.T, root string) string {
		dir := filepath.Join(root, "ev")
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, reportstest.WriteBundle(dir, false, nil))
		return dir
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, root string) string
		want  string
	}{
		{"a file", func(t *testing.T, root string) string {
			p := filepath.Join(root, "ev")
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
			return p
		}, "is a file"},
		{"foreign files", func(t *testing.T, root string) string {
			p := filepath.Join(root, "ev")
			require.NoError(t, os.Mkdir(p, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(p, "notes.txt"), []byte("mine"), 0o644))
			return p
		}, "not a sealed authzcheck bundle"},
		{"an added file", func(t *testing.T, root string) string {
			p := sealed(t, root)
			require.NoError(t, os.WriteFile(filepath.Join(p, "extra.txt"), []byte("x"), 0o644))
			return p
		}, "added: extra.txt"},
		{"an altered file", func(t *testing.T, root string) string {
			p := sealed(t, root)
			require.NoError(t, os.WriteFile(filepath.Join(p, "summary.json"), []byte("{}"), 0o644))
			return p
		}, "altered: summary.json"},
		{"a removed file", func(t *testing.T, root string) string {
			p := sealed(t, root)
			require.NoError(t, os.Remove(filepath.Join(p, "cucumber.json")))
			return p
		}, "missing: cucumber.json"},
	}
	// The client COMMAND leaves a mark when it starts: it must not.
	started := filepath.Join(t.TempDir(), "started")
	client := writeScript(t, "#!/bin/sh\n: > '"+started+"'\nexec sleep 30\n")
	for _, tc := range cases {
		for _, cmd := range [][]string{{"conformance", "--quiet"}, {"load", "issuance", "--duration", "1s", "--quiet"}, {"client", "--quiet", "--", client}} {
			t.Run(cmd[0]+" into "+tc.name, func(t *testing.T) {
				root := t.TempDir()
				dir := tc.setup(t, root)
				before := dirFiles(t, root)
				args := append([]string{}, cmd...)
				if i := slices.Index(args, "--"); i >= 0 { // the client's COMMAND comes last
					args = slices.Insert(args, i, "--out", dir)
				} else {
					args = append(args, "--out", dir)
				}
				code, _, errOut := runCmd(t, vars, args...)
				assert.Equal(t, cli.ExitUsage, code, errOut)
				assert.Contains(t, errOut, tc.want)
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
				assert.Zero(t, hits.Load(), "no request sent")
				assert.NoFileExists(t, started, "the client was not started")
				assert.Equal(t, before, dirFiles(t, root), "nothing written")
			})
		}
	}
}

// The two runs of a certification go into one bundle, which verifies after each.
func TestConformanceThenLoadIntoOneBundleVerifies(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ev")
	code, out, errOut := runCmd(t, nil, "conformance", "--quiet", "--out", dir)
	require.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
	code, out, errOut = runCmd(t, nil, "report", "verify", dir)
	require.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)

	code, out, errOut = runCmd(t, nil, "load", "issuance", "--rate", "20", "--duration", "300ms", "--quiet", "--out", dir)
	require.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
	code, out, errOut = runCmd(t, nil, "report", "verify", dir)
	assert.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
	b, err := reports.ReadBundle(dir)
	require.NoError(t, err)
	require.NotNil(t, b.Manifest)
	assert.Len(t, b.Manifest.Runs, 2)
	assert.NotNil(t, b.Summary)
	assert.NotNil(t, b.Load)
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no staging directory left beside the bundle")

	// A second run of a kind the bundle holds is refused.
	code, _, errOut = runCmd(t, nil, "load", "issuance", "--duration", "300ms", "--out", dir)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, errOut, "already holds load results")
}

func TestReportHTMLWritesOnlyIntoABundleThatVerifies(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		args  func(dir string) []string
		want  string
	}{
		{"an altered bundle", func(t *testing.T, dir string) {
			require.NoError(t, reportstest.WriteBundle(dir, false, nil))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "junit.xml"), []byte("<x/>"), 0o644))
		}, func(dir string) []string { return []string{dir} }, "altered: junit.xml"},
		{"an unsealed directory", func(t *testing.T, dir string) {
			_, err := reportstest.WriteConformance(dir)
			require.NoError(t, err)
		}, func(dir string) []string { return []string{dir} }, "not a sealed bundle"},
		{"--out inside the bundle", func(t *testing.T, dir string) {
			require.NoError(t, reportstest.WriteBundle(dir, false, nil))
		}, func(dir string) []string { return []string{dir, "--out", filepath.Join(dir, "copy.html")} }, "inside the bundle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			before := dirFiles(t, dir)
			code, _, errOut := runReportCmd(t, append([]string{"report", "html"}, tc.args(dir)...)...)
			assert.Equal(t, cli.ExitUsage, code, errOut)
			assert.Contains(t, errOut, tc.want)
			assert.Equal(t, before, dirFiles(t, dir), "nothing written")
		})
	}
}

func TestConformanceRefusesAWaiverGivenTwice(t *testing.T) {
	waivers := filepath.Join(t.TempDir(), "waivers.txt")
	require.NoError(t, os.WriteFile(waivers, []byte("TOK-09 accepted by the partner\nAUTH-16 2030-01-01 fix planned\nTOK-09 2030-01-01 again\n"), 0o600))
	dir := filepath.Join(t.TempDir(), "ev")
	code, _, errOut := runCmd(t, nil, "conformance", "--waivers", waivers, "--out", dir)
	assert.Equal(t, cli.ExitUsage, code, errOut)
	assert.Contains(t, errOut, "line 3: TOK-09 is waived twice (first on line 1)")
	assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
	assert.NoDirExists(t, dir, "nothing written")
}

// An expired waiver is not applied, and is listed as expired: on the console, in manifest.json
// and in the report.
func TestConformanceListsAnExpiredWaiverAsExpired(t *testing.T) {
	waivers := filepath.Join(t.TempDir(), "waivers.txt")
	require.NoError(t, os.WriteFile(waivers, []byte("TOK-01 2020-01-01 accepted until 2020\n"), 0o600))
	dir := filepath.Join(t.TempDir(), "ev")
	code, out, errOut := runCmd(t, nil, "conformance", "--tags", "@TOK-01", "--quiet", "--waivers", waivers, "--out", dir)
	require.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
	assert.Contains(t, errOut, "the waiver for TOK-01 expired on 2020-01-01: it is not applied")
	b, err := reports.ReadBundle(dir)
	require.NoError(t, err)
	require.NotNil(t, b.Manifest)
	require.Len(t, b.Manifest.Waivers, 1)
	assert.True(t, b.Manifest.Waivers[0].Expired)
	page, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "expired</span> not applied")
	assert.Contains(t, string(page), "accepted until 2020")
}

// A load run whose seal is refused (here: the client secret given as the attack's --name, which
// sealing finds in results.bin and summary.json) fails part-way: the bundle it was to add to is
// as it was, and still verifies.
func TestALoadRunFailingPartWayLeavesTheBundleAsItWas(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ev")
	code, out, errOut := runCmd(t, nil, "conformance", "--quiet", "--tags", "@TOK-01", "--out", dir)
	require.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
	before := dirFiles(t, root)

	code, out, errOut = runCmd(t, nil, "load", "issuance", "--rate", "20", "--duration", "200ms", "--quiet",
		"--name", mock.DefaultClientSecret, "--out", dir)
	assert.Equal(t, cli.ExitUnreachable, code, "%s\n%s", out, errOut)
	assert.Contains(t, errOut, "sealing the evidence")
	assert.NotContains(t, out+errOut, mock.DefaultClientSecret)
	assert.Equal(t, before, dirFiles(t, root), "the bundle is as it was, and nothing is left beside it")
	code, out, errOut = runCmd(t, nil, "report", "verify", dir)
	assert.Equal(t, cli.ExitOK, code, "%s\n%s", out, errOut)
}
