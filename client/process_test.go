package client

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/redact"
)

func shProcess(t *testing.T, script string, grace time.Duration) *process {
	t.Helper()
	p, err := startProcess(procSpec{argv: []string{"/bin/sh", "-c", script}, env: os.Environ(), grace: grace})
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop() })
	return p
}

// alive reports whether pid still runs (a zombie of another parent counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// groupAlive reports whether a process of group pgid still runs.
func groupAlive(pgid int) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

func TestProcessStopsWhatever(t *testing.T) {
	tests := []struct {
		name, script string
		killed       bool
	}{
		{"exits on SIGTERM", "echo ready; while :; do sleep 0.05; done", false},
		{"ignores SIGTERM", "trap '' TERM; echo ready; while :; do sleep 0.05; done", true},
		{"leaves a child that left the group", "setsid sh -c 'trap \"\" TERM; echo $$ > \"$PIDFILE\"; while :; do sleep 0.05; done' & echo ready; wait", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := t.TempDir() + "/child.pid"
			t.Setenv("PIDFILE", pidFile)
			p := shProcess(t, tt.script, 300*time.Millisecond)
			require.Eventually(t, func() bool { return strings.Contains(p.res.stdout.String(), "ready") }, 10*time.Second, 10*time.Millisecond)
			child := 0
			if strings.Contains(tt.script, "PIDFILE") {
				require.Eventually(t, func() bool {
					b, _ := os.ReadFile(pidFile)
					child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
					return child > 0
				}, 10*time.Second, 10*time.Millisecond)
			}
			res := p.Stop()
			assert.False(t, res.exited, "it was stopped, it did not exit on its own")
			assert.Equal(t, tt.killed, res.killed)
			assert.Eventually(t, func() bool { return !groupAlive(p.cmd.Process.Pid) }, 5*time.Second, 10*time.Millisecond, "the process group is gone")
			if child > 0 {
				assert.Eventually(t, func() bool { return !alive(child) }, 5*time.Second, 10*time.Millisecond, "the escaped child was killed")
			}
		})
	}
}

func TestProcessExitEarlyIsReported(t *testing.T) {
	p := shProcess(t, "echo 'token fetch failed: secret=s3cr3t' >&2; exit 7", time.Second)
	<-p.Done()
	res := p.Stop()
	assert.True(t, res.exited)
	assert.Equal(t, 7, res.exitCode)
	red := newRedactor("ID", "s3cr3t")
	d := res.describe(red)
	assert.Contains(t, d, "exited with code 7")
	assert.Contains(t, d, "token fetch failed")
	assert.NotContains(t, d, "s3cr3t")
}

func TestProcessOutputIsBounded(t *testing.T) {
	p := shProcess(t, "head -c 5000000 /dev/zero | tr '\\0' 'x'; echo; echo last line", time.Second)
	<-p.Done()
	res := p.Stop()
	assert.Equal(t, int64(5000000+1+len("last line\n")), res.stdout.Total())
	assert.LessOrEqual(t, len(res.stdout.String()), outputTailBytes)
	assert.Equal(t, []string{"last line"}, res.stdout.lastLines(1, newRedactor("id", "secret")))
}

func TestStartProcessRefusesWhatCannotRun(t *testing.T) {
	_, err := startProcess(procSpec{argv: []string{t.TempDir() + "/no-such-client"}, grace: time.Second})
	assert.Error(t, err)
}

func TestExpandArgsNeverTheSecret(t *testing.T) {
	got := expandArgs([]string{"prog", "--token-url={token_url}", "{api_url}/products", "{client_id}", "{client_secret}"},
		"http://127.0.0.1:1/t", "http://127.0.0.1:1", "ID")
	assert.Equal(t, []string{"prog", "--token-url=http://127.0.0.1:1/t", "http://127.0.0.1:1/products", "ID", "{client_secret}"}, got)
}

func TestClientEnvOverridesTheBase(t *testing.T) {
	env := clientEnv([]string{"PATH=/bin", "AUTHZ_CLIENT_SECRET=old", "SSL_CERT_FILE=/etc/x", markerVar + "=x"},
		map[string]string{"AUTHZ_CLIENT_SECRET": "new"})
	assert.Equal(t, []string{"PATH=/bin", "AUTHZ_CLIENT_SECRET=new"}, env)
}

// TestLastLinesRedactBeforeTheyCut: a secret that a long stderr line holds across the 300-byte
// cut, and one that the byte bound cut at the start of the tail, leave no fragment.
func TestLastLinesRedactBeforeTheyCut(t *testing.T) {
	const secret = "Sup3r-secret-value-0123456789"
	red := newRedactor("client-id", secret)
	tail := newTailBuffer(500) // 505 bytes written: the cut falls inside the first line's secret
	_, _ = tail.Write([]byte(secret + strings.Repeat("a", 150) + "\n" + strings.Repeat("x", 290) + secret + " tail\n"))
	lines := tail.lastLines(3, red)
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.NotContains(t, l, secret[:6], "no fragment of the secret")
	}
}

// newRedactor knows one client's credentials.
func newRedactor(id, secret string) *redact.Redactor {
	r := redact.New()
	r.AddCredential(id, secret)
	return r
}
