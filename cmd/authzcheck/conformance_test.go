package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/steps"
)

// runCmd runs authzcheck with args and the environment vars, and returns the exit code and
// what it printed.
func runCmd(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(""),
		Stdout: &out, Stderr: &errOut, Ctx: context.Background()}
	code := run(env, args)
	return code, out.String(), errOut.String()
}

func TestConformanceDefaultRunAgainstTheEmbeddedMock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	code, out, errOut := runCmd(t, nil, "conformance", "--out", dir)
	require.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	// Every check of the suite passes but the intrusive ones, skipped unless selected.
	total, intrusive := len(steps.Checks()), 0
	for _, c := range steps.Checks() {
		if c.Need(catalog.NeedIntrusive) {
			intrusive++
		}
	}
	require.Positive(t, intrusive)
	assert.Contains(t, out, fmt.Sprintf("PASSED: %d checks: %d passed, 0 failed (0 MUST, 0 SHOULD), %d skipped", total, total-intrusive, intrusive))
	assert.Contains(t, out, "evidence: "+dir)
	for _, f := range []string{"summary.json", "cucumber.json", "junit.xml", "manifest.json", "report.html", "SHA256SUMS", "transcripts/0001.json"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.NotContains(t, out+errOut, mock.DefaultClientSecret)
}

// TestConformanceEmbeddedMockRecordsWhereRequestsWent: the embedded mock serves HTTPS itself,
// so the target the evidence names is the origin every exchange went to (issue 10 point 6).
func TestConformanceEmbeddedMockRecordsWhereRequestsWent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ev")
	code, out, errOut := runCmd(t, nil, "conformance", "--out", dir, "--tags", "@TOK-01,@BEARER-01,@SEC-02", "--quiet")
	require.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	var man struct {
		TargetURL string `json:"target_url"`
		APIURL    string `json:"api_url"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &man))
	target, err := url.Parse(man.TargetURL)
	require.NoError(t, err)
	assert.Equal(t, "https", target.Scheme)
	assert.True(t, strings.HasPrefix(man.APIURL, "https://"+target.Host+"/"), man.APIURL)

	files, err := filepath.Glob(filepath.Join(dir, "transcripts", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		var tr struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &tr))
		u, err := url.Parse(tr.Request.URL)
		require.NoError(t, err)
		assert.Equal(t, target.Scheme+"://"+target.Host, u.Scheme+"://"+u.Host, filepath.Base(f))
	}
}

func TestConformanceUsageErrorsExit2(t *testing.T) {
	waivers := filepath.Join(t.TempDir(), "waivers.txt")
	require.NoError(t, os.WriteFile(waivers, []byte("AUTH-99 2030-01-01 no such check\n"), 0o600))
	full := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(full, "old.json"), []byte("{}"), 0o600))
	tests := []struct {
		name string
		vars map[string]string
		args []string
		msg  string
	}{
		{"unknown profile", nil, []string{"--profile", "oauth3"}, "--profile"},
		{"bad tag expression", nil, []string{"--tags", "@must &&"}, "--tags"},
		{"unknown check in the waivers", nil, []string{"--waivers", waivers}, "line 1"},
		{"a token URL without credentials", map[string]string{"AUTHZ_TOKEN_URL": "https://uat.example.invalid/token"}, nil, "AUTHZ_CLIENT_ID"},
		{"not a URL", map[string]string{"AUTHZ_TOKEN_URL": "ftp://x"}, nil, "--token-url"},
		{"evidence would be mixed", nil, []string{"--out", full}, "--out"},
		{"stray argument", nil, []string{"now"}, "unexpected argument"},
		{"unknown flag", nil, []string{"--fast"}, "-fast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"conformance"}, tt.args...)
			if !contains(tt.args, "--out") {
				args = append(args, "--out", filepath.Join(t.TempDir(), "ev"))
			}
			code, _, errOut := runCmd(t, tt.vars, args...)
			assert.Equal(t, cli.ExitUsage, code, errOut)
			assert.Contains(t, errOut, tt.msg)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Plain HTTP to a host that is not loopback is refused before anything starts (issue 10): exit
// 2, one line naming the URL and https, the secret nowhere, no evidence directory.
func TestConformancePlainHTTPToARemoteHostIsRefusedWithExit2(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"token URL":               {"AUTHZ_TOKEN_URL": "http://192.0.2.1/token", "AUTHZ_CLIENT_ID": "c", "AUTHZ_CLIENT_SECRET": "s3cret-value"},
		"API URL beside the mock": {"AUTHZ_API_URL": "http://192.0.2.1/products"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ev")
			code, out, errOut := runCmd(t, vars, "conformance", "--out", dir)
			assert.Equal(t, cli.ExitUsage, code, errOut)
			assert.Contains(t, errOut, "http://192.0.2.1/")
			assert.Contains(t, errOut, "use https")
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			assert.NotContains(t, out+errOut, "s3cret-value")
			assert.NoDirExists(t, dir, "nothing written")
		})
	}
}

func TestConformanceUnreachableTargetExits3(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{"AUTHZ_TOKEN_URL": "http://" + addr + "/token", "AUTHZ_CLIENT_ID": "c", "AUTHZ_CLIENT_SECRET": "s3cret-value"}
	dir := filepath.Join(t.TempDir(), "ev")
	code, _, errOut := runCmd(t, vars, "conformance", "--out", dir, "--quiet")
	assert.Equal(t, cli.ExitUnreachable, code, errOut)
	assert.Contains(t, errOut, "target unreachable")
	assert.FileExists(t, filepath.Join(dir, "summary.json"), "the evidence says what happened")
}

// TestConformanceRemoteHTTPSWithCAFile runs against the mock as a remote target would be run:
// over HTTPS with a private CA given by --ca-file, credentials from the environment.
func TestConformanceRemoteHTTPSWithCAFile(t *testing.T) {
	s, err := mock.New(mock.WithTLS())
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, s.CACertPEM(), 0o600))
	vars := map[string]string{
		"AUTHZ_TOKEN_URL": s.TokenURL(), "AUTHZ_API_URL": s.APIURL(),
		"AUTHZ_CLIENT_ID": mock.DefaultClientID, "AUTHZ_CLIENT_SECRET": mock.DefaultClientSecret,
		"AUTHZ_CLIENT2_ID": mock.DefaultClient2ID, "AUTHZ_CLIENT2_SECRET": mock.DefaultClient2Secret,
	}
	t.Run("trusted through --ca-file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ev")
		code, out, errOut := runCmd(t, vars, "conformance", "--ca-file", ca, "--jwks-url", s.JWKSURL(), "--out", dir)
		require.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		assert.Contains(t, out, "PASSED")
		sum, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		require.NoError(t, err)
		assert.Contains(t, string(sum), "needs an expired token: give --token-store DIR", "BEARER-11 is skipped away from the embedded mock, naming the flag that runs it")
	})
	t.Run("untrusted without it", func(t *testing.T) {
		code, out, errOut := runCmd(t, vars, "conformance", "--out", filepath.Join(t.TempDir(), "ev"))
		assert.Equal(t, cli.ExitFailed, code, errOut)
		assert.Contains(t, out, "SEC-02")
	})
}

func TestConformanceWarnsAboutASecretOnTheCommandLine(t *testing.T) {
	code, _, errOut := runCmd(t, nil, "conformance", "--client-id", "x", "--client-secret", "y", "--tags", "@TOK-01", "--quiet",
		"--out", filepath.Join(t.TempDir(), "ev"))
	assert.Equal(t, cli.ExitOK, code, errOut)
	assert.Contains(t, errOut, "visible to other users")
}

// A waiver applies until its expiry: a live one waives the failed check; an expired one is not
// applied, and summary.json's row stays failed and names it in its notes, as the manifest and
// the report name it.
func TestConformanceWaiverOfAFailedCheckInSummaryJSON(t *testing.T) {
	s, err := mock.New(mock.WithConfig(mock.Config{Quirks: []string{"accept-get"}})) // HTTP-01 (MUST) fails
	require.NoError(t, err)
	t.Cleanup(s.Close)
	vars := map[string]string{"AUTHZ_TOKEN_URL": s.TokenURL(), "AUTHZ_API_URL": s.APIURL(),
		"AUTHZ_CLIENT_ID": mock.DefaultClientID, "AUTHZ_CLIENT_SECRET": mock.DefaultClientSecret}
	const reason = "GET is refused from release 42"
	cases := []struct {
		name       string
		expires    string
		code       int
		status     evidence.Status
		wantReason string // the row's reason holds it
		wantNote   string // "": no note names an expired waiver
	}{
		{"an expired waiver is not applied and the row names it", "2020-01-01", cli.ExitFailed, evidence.StatusFailed,
			"expected no token", "waiver expired on 2020-01-01 (not applied): " + reason},
		{"a live waiver waives the failure", "2999-12-31", cli.ExitOK, evidence.StatusWaived,
			reason + " (waiver expires 2999-12-31)", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			waivers := filepath.Join(t.TempDir(), "waivers.txt")
			require.NoError(t, os.WriteFile(waivers, []byte("HTTP-01 "+tc.expires+" "+reason+"\n"), 0o600))
			dir := filepath.Join(t.TempDir(), "ev")
			code, out, errOut := runCmd(t, vars, "conformance", "--tags", "@HTTP-01", "--quiet", "--waivers", waivers, "--out", dir)
			require.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

			b, err := os.ReadFile(filepath.Join(dir, evidence.SummaryFile))
			require.NoError(t, err)
			var sum evidence.Summary
			require.NoError(t, json.Unmarshal(b, &sum))
			var row *evidence.CheckResult
			for i := range sum.Checks {
				if sum.Checks[i].ID == "HTTP-01" {
					row = &sum.Checks[i]
				}
			}
			require.NotNil(t, row, "HTTP-01 has a row")
			assert.Equal(t, tc.status, row.Status)
			var expiredNotes []string
			for _, n := range row.Notes {
				if strings.Contains(n, "waiver expired") {
					expiredNotes = append(expiredNotes, n)
				}
			}
			assert.Contains(t, row.Reason, tc.wantReason)
			if tc.wantNote == "" {
				assert.Empty(t, expiredNotes)
			} else {
				assert.Equal(t, []string{tc.wantNote}, expiredNotes)
			}
		})
	}
}
