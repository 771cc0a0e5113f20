package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// curlClient is a plain shell client: curl, a token fetch per API call, the secret passed to
// curl on its standard input (never on a command line).
const curlClient = `#!/bin/sh
while :; do
  tok=$(printf 'user = "%s:%s"\n' "$AUTHZ_CLIENT_ID" "$AUTHZ_CLIENT_SECRET" | curl -s -K - \
    -d grant_type=client_credentials "$AUTHZ_TOKEN_URL" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  curl -s -o /dev/null -H "Authorization: Bearer $tok" -H "echo-token: $$-$(date +%s%N)" "$AUTHZ_API_URL/products"
  sleep 0.2
done
`

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.sh")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o755))
	return p
}

func TestClientUsageErrors(t *testing.T) {
	script := writeScript(t, curlClient)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{"client"}, "no COMMAND"},
		{"serve with a command", []string{"client", "--serve", "--", script}, "--serve takes no COMMAND"},
		{"a command that cannot start", []string{"client", "--", filepath.Join(t.TempDir(), "missing")}, "cannot be started"},
		{"a program not on PATH", []string{"client", "--", "no-such-authz-client-xyz"}, "cannot be started"},
		{"an executable that is no program", []string{"client", "--", writeScript(t, "no shebang, not a binary\n")}, "cannot be started"},
		{"no check matches", []string{"client", "--tags", "NOPE-01", "--", script}, "no client check matches"},
		{"bad grace", []string{"client", "--grace", "0s", "--", script}, "--grace"},
		{"serve on a remote address", []string{"client", "--serve", "--addr", "192.0.2.1:0"}, "not loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ev")
			code, out, errOut := runCmd(t, nil, append([]string{tt.args[0], "--out", dir}, tt.args[1:]...)...)
			assert.Equal(t, cli.ExitUsage, code, "stdout:\n%s", out)
			assert.Contains(t, errOut, tt.want)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %q", errOut)
			assert.NoDirExists(t, dir, "nothing ran, nothing written")
		})
	}
}

// The curl client fetches a token per call: CLIENT-04 fails (exit 1) and the bundle verifies;
// it keeps its credentials out of redirects: CLIENT-16 passes (exit 0).
func TestClientCommandExitCodes(t *testing.T) {
	script := writeScript(t, curlClient)
	tests := []struct {
		check string
		code  int
	}{
		{"CLIENT-04", cli.ExitFailed},
		{"CLIENT-16", cli.ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ev")
			code, out, errOut := runCmd(t, nil, "client", "--out", dir, "--tags", tt.check, "--grace", "500ms", "--", script)
			require.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			v, err := reports.Verify(dir, nil)
			require.NoError(t, err)
			assert.True(t, v.OK(), "%v", v.Problems)
			sum, err := os.ReadFile(filepath.Join(dir, "summary.json"))
			require.NoError(t, err)
			assert.Contains(t, string(sum), `"id": "`+tt.check+`"`)
			code, vout, _ := runCmd(t, nil, "report", "verify", dir)
			assert.Equal(t, cli.ExitOK, code, vout)
		})
	}
}

// sealedLoadBundle seals a bundle holding a load run only into dir: one a client run may add to.
func sealedLoadBundle(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, reportstest.WriteLoad(dir))
	require.NoError(t, reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(nil)))
}

// A client run is staged like a conformance run: it adds itself to a sealed bundle that holds
// no run of its kind, leaving nothing beside it, and a second one is refused before COMMAND
// starts, with the bundle as it was.
func TestClientAddsToASealedBundleAndRefusesASecondRun(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ev")
	sealedLoadBundle(t, dir)
	code, out, errOut := runCmd(t, nil, "client", "--out", dir, "--quiet", "--tags", "CLIENT-16", "--grace", "500ms", "--", writeScript(t, curlClient))
	require.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "evidence: "+dir)
	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.True(t, v.OK(), "%v", v.Problems)
	b, err := reports.ReadBundle(dir)
	require.NoError(t, err)
	require.NotNil(t, b.Manifest)
	assert.Len(t, b.Manifest.Runs, 2, "the load run and the client run")
	assert.NotNil(t, b.Summary)
	assert.NotNil(t, b.Load)
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no staging directory left beside the bundle")

	started := filepath.Join(t.TempDir(), "started")
	before := dirFiles(t, root)
	code, _, errOut = runCmd(t, nil, "client", "--out", dir, "--", writeScript(t, "#!/bin/sh\n: > '"+started+"'\nexec sleep 30\n"))
	assert.Equal(t, cli.ExitUsage, code, errOut)
	assert.Contains(t, errOut, "already holds a conformance run")
	assert.NoFileExists(t, started, "the client was not started")
	assert.Equal(t, before, dirFiles(t, root), "nothing written")
}

// A client run whose seal is refused (a JWT-shaped argument in COMMAND, which sealing finds in
// manifest.json's target) fails after writing its files: the directory it was given, a sealed
// bundle or an empty one, is exactly as it was, and nothing is left beside it.
func TestAClientRunFailingPartWayLeavesTheBundleAsItWas(t *testing.T) {
	const jwtArg = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZW1vLWRpc3RyaWJ1dG9yIn0.MEUCIQDabcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	script := writeScript(t, curlClient)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"a sealed bundle", sealedLoadBundle},
		{"an empty directory", func(t *testing.T, dir string) { require.NoError(t, os.Mkdir(dir, 0o755)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "ev")
			tt.setup(t, dir)
			before := dirFiles(t, root)
			code, out, errOut := runCmd(t, nil, "client", "--out", dir, "--quiet", "--tags", "CLIENT-16", "--grace", "500ms", "--", script, jwtArg)
			assert.Equal(t, cli.ExitUnreachable, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Contains(t, errOut, "sealing the evidence")
			assert.Contains(t, out, "evidence: not written")
			assert.Equal(t, before, dirFiles(t, root), "the directory is as it was, and nothing is left beside it")
		})
	}
}
