package client_test

// The reference clients of client/testdata/clients are real programs run through the client
// catalogue as a partner's would be: each must fail exactly the checks its defect breaks (as the
// mock's quirk tests assert each quirk's Breaks list for the server side), the good ones none,
// and the hostile ones must get a verdict in bounded time and memory, leave no process behind
// and leak the secret nowhere.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/client"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// clientsDir holds the reference clients.
const clientsDir = "testdata/clients"

// buildClients compiles the Go reference clients into dir and returns their paths by name.
// They live under testdata/, out of reach of ./... patterns: `go vet ./client/testdata/clients/...`
// checks them.
func buildClients(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bins := map[string]string{}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+clientsDir+"/"+n)
		bins[n] = filepath.Join(dir, n)
	}
	out, err := exec.Command(goTool, args...).CombinedOutput()
	require.NoError(t, err, "go build of the reference clients: %s", out)
	return bins
}

// failedIDs are the IDs of the checks that failed, sorted.
func failedIDs(sum *evidence.Summary) []string {
	var ids []string
	for _, c := range sum.Checks {
		if c.Status == evidence.StatusFailed {
			ids = append(ids, c.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// verdicts lists every judged check with its status and reason, for a failure message.
func verdicts(sum *evidence.Summary) string {
	var b strings.Builder
	for _, c := range sum.Checks {
		fmt.Fprintf(&b, "\n  %s %s %s: %s", c.ID, c.Level, c.Status, c.Reason)
	}
	return b.String()
}

// TestReferenceClientsFailExactlyTheirChecks runs the whole client catalogue against each
// reference client: about 15 s of wall time each, one after another (the checks judge timing,
// so the clients must not starve each other of the two cores).
func TestReferenceClientsFailExactlyTheirChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole client catalogue once per reference client (about 4 minutes)")
	}
	if raceDetector {
		t.Skip("judges the reference clients' timing, which the race detector skews: make test runs it without -race")
	}
	python, err := exec.LookPath("python3")
	require.NoError(t, err, "the Python reference client needs python3 on PATH")
	_, err = exec.LookPath("curl")
	require.NoError(t, err, "the shell reference client needs curl on PATH")
	bins := buildClients(t, t.TempDir(), "good", "example", "naive")
	abs := func(rel string) string {
		p, err := filepath.Abs(filepath.Join(clientsDir, rel))
		require.NoError(t, err)
		return p
	}
	naive := func(defect string) []string { return []string{bins["naive"], "-defect", defect} }

	cases := []struct {
		name    string
		command []string
		fails   []string // exactly these check IDs fail
	}{
		{"the good Go client (clientcredentials behind tokencache) fails nothing",
			[]string{bins["good"]}, nil},
		{"the README's 20-line example fails nothing",
			[]string{bins["example"]}, nil},
		{"the Python standard-library client fails nothing",
			[]string{python, abs("python/good.py")}, nil},
		{"the hand-written client without a defect fails nothing",
			naive("none"), nil},
		// It sleeps 1 s after a failure: slow enough for the 503 spell (CLIENT-13), not for a
		// Retry-After of 2 s.
		{"the sh+curl client that fetches a token per call fails token reuse and Retry-After",
			[]string{abs("shell/fetch-per-call.sh")}, []string{"CLIENT-04", "CLIENT-07", "CLIENT-12"}},
		// Nothing is kept, the failure backoff included: every call is a fetch, whatever happens.
		{"fetching a token per call fails token reuse, backoff and the one fetch for all workers",
			naive("fetch-per-call"), []string{"CLIENT-04", "CLIENT-07", "CLIENT-11", "CLIENT-12", "CLIENT-13", "CLIENT-14"}},
		// The baseline and string sessions accept expired tokens: only its own bookkeeping could
		// make it refresh, and it never does.
		{"a hard-coded 28800 s lifetime presents expired tokens and never refreshes",
			naive("hardcoded-28800"), []string{"CLIENT-05", "CLIENT-06", "CLIENT-07"}},
		{"no new token after a 401 fails the recovery",
			naive("no-401-recovery"), []string{"CLIENT-10"}},
		{"a 401 retry loop storms the token endpoint",
			naive("retry-loop-401"), []string{"CLIENT-11"}},
		{"ignoring Retry-After asks again too early",
			naive("ignore-retry-after"), []string{"CLIENT-12"}},
		// The harness passes such credentials on to the mock as Basic, so nothing else fails.
		{"credentials in the form body are not HTTP Basic",
			naive("creds-in-body"), []string{"CLIENT-02"}},
		{"credentials in the query string are not HTTP Basic",
			naive("creds-in-query"), []string{"CLIENT-02"}},
		{"skipping TLS verification sends credentials to an untrusted server",
			naive("insecure-tls"), []string{"CLIENT-15"}},
		{"a numeric-only expires_in fails on the seed's string",
			naive("strict-expires-in"), []string{"CLIENT-07"}},
		{"putting the credential back on a redirect hands it to another origin",
			naive("follow-redirect"), []string{"CLIENT-16"}},
		{"no echo-token or distributor-id fails the derbysoft headers",
			naive("no-derby-headers"), []string{"CLIENT-17"}},
	}
	// A client slow by nature may also fail these when the machine is loaded: the shell client
	// starts a curl process per request, so its recovery after a 401 (CLIENT-10, within 2 s)
	// depends on how fast processes start.
	slow := map[string][]string{abs("shell/fetch-per-call.sh"): {"CLIENT-10"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var console bytes.Buffer
			sum, err := client.Run(t.Context(), client.Config{Command: tc.command, Stdout: &console, Stderr: &console})
			require.NoError(t, err, "console:\n%s", console.String())
			require.NotNil(t, sum)
			require.Len(t, sum.Checks, 18, "every CLIENT check is judged")
			failed := slices.DeleteFunc(failedIDs(sum), func(id string) bool { return slices.Contains(slow[tc.command[len(tc.command)-1]], id) })
			assert.Equal(t, tc.fails, failed, "failed checks; every verdict:%s", verdicts(sum))
		})
	}
}

// heapPeak samples the live heap until stop is called, and returns the highest value seen.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// alive reports whether pid is a process that has not ended (a zombie has ended: it only waits
// for its parent to collect its status).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// withEnv lists the live processes whose environment holds kv.
func withEnv(kv string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && slices.Contains(strings.Split(string(env), "\x00"), kv) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestHostileClientsGetAVerdictAndLeaveNothing runs each hostile client through a session or
// the whole catalogue. Whatever the client does, Run returns a judged summary within a bounded
// time and memory, every process the client started has ended,
// and its secret is in no console line, summary or file of the evidence bundle.
func TestHostileClientsGetAVerdictAndLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 6 s session per hostile client, and the catalogue once (about 70 s)")
	}
	if raceDetector {
		t.Skip("measures memory and time, which the race detector skews: make test runs it without -race")
	}
	if runtime.GOOS != "linux" {
		t.Skip("finds the client's processes in /proc")
	}
	hostile := buildClients(t, t.TempDir(), "hostile")["hostile"]
	// One session (CLIENT-08's: lower-case bearer, 6 s) per misbehaviour, and a flood of the
	// whole catalogue: ten sessions at once, keeping at most the run's budget of exchanges in all.
	one := []string{"CLIENT-08"}
	cases := []struct {
		name, mode string
		only       []string
		check      string
		result     evidence.Status // the check's verdict
		reason     string          // in its reason
		heap       uint64          // bound on the live heap while Run runs
	}{
		{"hang", "hang", one, "CLIENT-08", evidence.StatusFailed, "API", 256 << 20},
		{"flood", "flood", one, "CLIENT-08", evidence.StatusPassed, "", 256 << 20},
		{"spew", "spew", one, "CLIENT-08", evidence.StatusFailed, "API", 256 << 20},
		{"ignore-term", "ignore-term", one, "CLIENT-08", evidence.StatusPassed, "", 256 << 20},
		{"exit", "exit", one, "CLIENT-08", evidence.StatusFailed, "exited with code 3", 256 << 20},
		{"orphan", "orphan", one, "CLIENT-08", evidence.StatusPassed, "", 256 << 20},
		{"escape", "escape", one, "CLIENT-08", evidence.StatusPassed, "", 256 << 20},
		{"flood of every session", "flood", nil, "CLIENT-05", evidence.StatusFailed, "after it expired", 1 << 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state, bundle := t.TempDir(), t.TempDir()
			env := append(os.Environ(), "HOSTILE_STATE_DIR="+state)
			var console bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			runtime.GC() // the peak is then this run's, not the garbage of the one before
			stopPeak := heapPeak()
			sum, err := client.Run(ctx, client.Config{Command: []string{hostile, "-mode", tc.mode}, Env: env,
				Only: tc.only, Dir: bundle, Stdout: &console, Stderr: &console})
			peak := stopPeak()
			t.Logf("live heap peak %d MiB; console:\n%s", peak>>20, console.String())
			require.NoError(t, ctx.Err(), "Run must not outlast its sessions by a minute")
			require.NoError(t, err, "console:\n%s", console.String())
			require.NotNil(t, sum)
			i := slices.IndexFunc(sum.Checks, func(c evidence.CheckResult) bool { return c.ID == tc.check })
			require.GreaterOrEqual(t, i, 0, "%s is in the summary", tc.check)
			c := sum.Checks[i]
			assert.Equal(t, tc.result, c.Status, "%s: %s", tc.check, c.Reason)
			assert.Contains(t, c.Reason, tc.reason)
			assert.Less(t, peak, tc.heap, "live heap while the client ran")

			pids, err := filepath.Glob(filepath.Join(state, "pid.*"))
			require.NoError(t, err)
			require.NotEmpty(t, pids, "the client started")
			for _, p := range pids {
				pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(p), "."))
				require.NoError(t, err)
				assert.False(t, alive(pid), "process %d of the client is still running", pid)
			}
			// Also any process of this run that wrote no pid file (one started late).
			assert.Empty(t, withEnv("HOSTILE_STATE_DIR="+state), "processes of the client still running")

			// Every session's credentials: each session has a secret of its own.
			creds, err := filepath.Glob(filepath.Join(state, "cred.*"))
			require.NoError(t, err)
			require.NotEmpty(t, creds)
			var forms []string
			for _, cf := range creds {
				b, err := os.ReadFile(cf)
				require.NoError(t, err)
				id, secret, ok := strings.Cut(string(b), "\n")
				require.True(t, ok && secret != "", "the client was given a secret")
				forms = append(forms, redact.Forms(id, secret)...)
			}
			outputs := map[string][]byte{"console": console.Bytes(), "summary reasons": []byte(verdicts(sum))}
			require.NoError(t, filepath.WalkDir(bundle, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				outputs[path], err = os.ReadFile(path)
				return err
			}))
			require.Contains(t, outputs, filepath.Join(bundle, "summary.json"), "the bundle was written")
			for name, out := range outputs {
				for i, f := range forms {
					// The form's index, not the form: the test's own output is an output too.
					assert.False(t, bytes.Contains(out, []byte(f)), "%s holds the client secret (form %d of redact.Forms)", name, i)
				}
			}
		})
	}
}
