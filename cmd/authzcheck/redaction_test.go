package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/reports"
)

// Distinctive credentials: nothing else in a bundle could contain them by chance, and the
// secret holds characters that form-urlencoding and base64 change.
const (
	redactClientID      = "redaction-probe-client"
	redactSecret        = "Zq9+Redact/Me=Now%7e!xK4"
	redactClient2ID     = "redaction-probe-client2"
	redactClient2Secret = "Wv3+Second/Probe=Only%5b!y"
)

// TestRedactionEverywhere runs conformance and then load (adding to the same bundle) against a
// mock that knows only distinctive clients, and searches every file of the bundle and everything
// printed on the console for the secrets, in every encoding they travel in, and for every access
// token the mock issued during the run: there must be none. Tokens may appear only as
// fingerprints.
func TestRedactionEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole catalogue and a short load run")
	}
	srv, err := mock.New(mock.WithClients(
		mock.Client{ID: redactClientID, Secret: redactSecret},
		mock.Client{ID: redactClient2ID, Secret: redactClient2Secret},
	))
	require.NoError(t, err)
	defer srv.Close()

	dir := filepath.Join(t.TempDir(), "bundle")
	env := map[string]string{
		"AUTHZ_TOKEN_URL":      srv.TokenURL(),
		"AUTHZ_API_URL":        srv.APIURL(),
		"AUTHZ_CLIENT_ID":      redactClientID,
		"AUTHZ_CLIENT_SECRET":  redactSecret,
		"AUTHZ_CLIENT2_ID":     redactClient2ID,
		"AUTHZ_CLIENT2_SECRET": redactClient2Secret,
	}
	var console bytes.Buffer
	runCmd := func(args ...string) int {
		var out, errOut bytes.Buffer
		e := &cli.Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""),
			Stdout: &out, Stderr: &errOut, Ctx: context.Background()}
		code := run(e, args)
		console.Write(out.Bytes())
		console.Write(errOut.Bytes())
		t.Logf("authzcheck %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		return code
	}
	code := runCmd("conformance", "--jwks-url", srv.JWKSURL(), "--out", dir)
	require.Contains(t, []int{cli.ExitOK, cli.ExitFailed}, code, "the conformance run completed")
	code = runCmd("load", "issuance", "--rate", "20", "--duration", "1s", "--quiet", "--out", dir)
	require.Equal(t, cli.ExitOK, code, "the issuance load run added to the conformance bundle")
	cachedDir := filepath.Join(t.TempDir(), "cached")
	code = runCmd("load", "cached", "--rate", "20", "--duration", "1s", "--quiet", "--out", cachedDir)
	require.Equal(t, cli.ExitOK, code, "the cached load run completed")

	tokens, err := srv.Control().IssuedTokens(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, tokens, "the mock issued tokens during the run")

	type needle struct{ what, value string }
	var needles []needle
	for _, c := range []struct{ id, secret string }{{redactClientID, redactSecret}, {redactClient2ID, redactClient2Secret}} {
		needles = append(needles,
			needle{"secret of " + c.id, c.secret},
			needle{"form-encoded secret of " + c.id, url.QueryEscape(c.secret)},
			needle{"base64 secret of " + c.id, base64.StdEncoding.EncodeToString([]byte(c.secret))},
			needle{"Basic credential of " + c.id, base64.StdEncoding.EncodeToString([]byte(c.id + ":" + c.secret))},
			needle{"Basic credential (form-encoded) of " + c.id, base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id) + ":" + url.QueryEscape(c.secret)))},
		)
	}
	for _, tok := range tokens {
		needles = append(needles, needle{"access token " + redact.Fingerprint(tok), tok})
		// The signature alone would let someone rebuild the token from the header and claims kept.
		if i := strings.LastIndexByte(tok, '.'); i > 0 && len(tok)-i > 20 {
			needles = append(needles, needle{"signature of access token " + redact.Fingerprint(tok), tok[i+1:]})
		}
	}

	files := 0
	for _, root := range []string{dir, cachedDir} {
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			require.NoError(t, err)
			if d.IsDir() {
				return nil
			}
			files++
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			rel, _ := filepath.Rel(root, p)
			for _, n := range needles {
				assert.False(t, bytes.Contains(data, []byte(n.value)), "%s holds the %s", rel, n.what)
			}
			return nil
		})
		require.NoError(t, err)
	}
	assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(evidence.LoadResultsFile)))
	assert.FileExists(t, filepath.Join(cachedDir, "load", "results.bin"))
	for _, n := range needles {
		assert.NotContains(t, console.String(), n.value, "the console shows the %s", n.what)
	}
	for _, f := range []string{evidence.ManifestFile, evidence.SummaryFile, evidence.ReportFile, evidence.SumsFile, "junit.xml", "cucumber.json"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.DirExists(t, filepath.Join(dir, "transcripts"))
	t.Logf("searched %d files and %d bytes of console output for %d secrets and tokens", files, console.Len(), len(needles))

	// Tokens are kept, as fingerprints with decoded claims, in the transcripts.
	report, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	assert.Contains(t, string(report), "sha256:", "tokens appear as fingerprints")

	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.Empty(t, v.Problems, "the bundle of both runs is sealed")
}
