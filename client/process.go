package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// Bounds on what the harness keeps of a client's output, whatever it prints.
const (
	outputTailBytes = 8 << 10 // the last bytes of each stream kept
	outputTailLines = 20      // of which the last lines are reported
)

// markerVar is set, with a value unique to the process, in every COMMAND's environment: a
// descendant that left the process group is still found by it (Linux /proc) and stopped.
const markerVar = "AUTHZCHECK_CLIENT_RUN"

// procSpec is one start of COMMAND.
type procSpec struct {
	argv  []string // placeholders already replaced
	dir   string
	env   []string // the whole environment
	grace time.Duration
}

// procResult is how a started COMMAND ended.
type procResult struct {
	started, ended time.Time
	exited         bool // it ended on its own, before it was asked to stop
	exitCode       int  // -1 when killed by a signal
	signal         string
	killed         bool // it ignored SIGTERM for the grace period and was killed
	stdout, stderr *tailBuffer
}

// describe says how the process ended, in words for a verdict, redacted.
func (p *procResult) describe(red *redact.Redactor) string {
	s := fmt.Sprintf("exited with code %d after %.1f s", p.exitCode, p.ended.Sub(p.started).Seconds())
	if p.signal != "" {
		s = fmt.Sprintf("was killed by %s after %.1f s", p.signal, p.ended.Sub(p.started).Seconds())
	}
	if lines := p.stderr.lastLines(3, red); len(lines) > 0 {
		s += "; last stderr: " + strings.Join(lines, " | ")
	}
	return s
}

// process is a running COMMAND in its own process group.
type process struct {
	cmd    *exec.Cmd
	marker string
	grace  time.Duration
	done   chan struct{}
	res    procResult
	// readers are the read ends of the output pipes, closed by Stop.
	readers []*os.File
	copying sync.WaitGroup

	stopOnce sync.Once
	mu       sync.Mutex
	stopping bool
}

// startProcess starts COMMAND in a process group of its own. The error is the reason it could
// not be started (not found, not executable): the caller reports it as a usage error.
func startProcess(spec procSpec) (*process, error) {
	if len(spec.argv) == 0 {
		return nil, errors.New("no command given")
	}
	marker := randHex(12)
	cmd := exec.Command(spec.argv[0], spec.argv[1:]...)
	cmd.Dir = spec.dir
	cmd.Env = append(append([]string(nil), spec.env...), markerVar+"="+marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, marker: marker, grace: spec.grace, done: make(chan struct{})}
	p.res.stdout, p.res.stderr = newTailBuffer(outputTailBytes), newTailBuffer(outputTailBytes)
	// Pipes of our own (not io.Writers, which Wait would drain): Wait returns when the process
	// ends even if a descendant keeps the pipes open, and the readers end when Stop closes them.
	var files []*os.File
	for _, tb := range []*tailBuffer{p.res.stdout, p.res.stderr} {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, r, w)
		p.readers = append(p.readers, r)
		p.copying.Add(1)
		go func() { defer p.copying.Done(); _, _ = io.Copy(tb, r) }()
	}
	cmd.Stdout, cmd.Stderr = files[1], files[3]
	err := cmd.Start()
	_ = files[1].Close()
	_ = files[3].Close()
	if err != nil {
		closeAll(p.readers)
		return nil, err
	}
	p.res.started = time.Now()
	go p.wait()
	return p, nil
}

func (p *process) wait() {
	_ = p.cmd.Wait() // how it ended is read from ProcessState
	p.mu.Lock()
	p.res.ended = time.Now()
	p.res.exited = !p.stopping
	p.mu.Unlock()
	p.res.exitCode = p.cmd.ProcessState.ExitCode()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		p.res.signal = ws.Signal().String()
	}
	close(p.done)
}

// Done is closed when the process has ended.
func (p *process) Done() <-chan struct{} { return p.done }

// Stop ends the process and everything it started: SIGTERM to its process group, SIGKILL after
// the grace period, then SIGKILL to any descendant that left the group. It returns how the
// process ended; it is safe to call more than once.
func (p *process) Stop() *procResult {
	p.stopOnce.Do(func() {
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(p.grace)
		select {
		case <-p.done:
			t.Stop()
		case <-t.C:
			p.res.killed = true
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// The leader is gone; what remains of its group, or escaped it, is killed outright.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		killMarked(p.marker)
		// What the process wrote before it ended is read to the end, unless something still
		// holds the pipes after everything marked was killed.
		drained := make(chan struct{})
		go func() { p.copying.Wait(); close(drained) }()
		t = time.NewTimer(500 * time.Millisecond)
		select {
		case <-drained:
		case <-t.C:
		}
		t.Stop()
		closeAll(p.readers)
	})
	return &p.res
}

// killMarked sends SIGKILL to every process whose environment holds this run's marker (Linux;
// elsewhere the process group is all there is). Processes of other users are not readable and
// cannot be ours. A marked process may fork while /proc is scanned, so it scans again until a
// pass finds none left (bounded: a fork bomb outruns no more than maxKillPasses scans).
func killMarked(marker string) {
	for range maxKillPasses {
		if killMarkedOnce(marker) == 0 {
			return
		}
	}
}

// maxKillPasses bounds killMarked's scans of /proc.
const maxKillPasses = 20

// killMarkedOnce is one scan of /proc; it returns how many marked processes it signalled.
func killMarkedOnce(marker string) int {
	want := []byte(markerVar + "=" + marker + "\x00")
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self, n := os.Getpid(), 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(append(env, 0), want) {
			continue // a zombie's environ reads empty: it is dead already
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// runFor starts nothing: it waits until d has passed, the process ended, or ctx is done.
func (p *process) runFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.done:
	case <-ctx.Done():
	}
}

// tailBuffer keeps the last max bytes written to it and counts all of them, so a client that
// prints megabytes costs no memory.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	max   int
	total int64
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(b))
	if len(b) >= t.max {
		t.buf = append(t.buf[:0], b[len(b)-t.max:]...)
		return len(b), nil
	}
	if over := len(t.buf) + len(b) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, b...)
	return len(b), nil
}

// lastLines returns up to n last non-empty lines, each redacted whole before it is shortened
// (a cut through a secret would leave a fragment the redactor cannot match). A first line cut
// by the byte bound is dropped: it may begin in the middle of a secret.
func (t *tailBuffer) lastLines(n int, red *redact.Redactor) []string {
	t.mu.Lock()
	s := string(t.buf)
	cut := t.total > int64(len(t.buf))
	t.mu.Unlock()
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if cut {
		lines = lines[1:]
	}
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(red.String(l)); l != "" {
			if len(l) > 300 {
				l = strings.ToValidUTF8(l[:300], "") + "…"
			}
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// String is what is kept.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// Total is how many bytes were written.
func (t *tailBuffer) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// expandArgs replaces {token_url}, {api_url} and {client_id} in COMMAND's arguments. The secret
// has no placeholder: it never travels on a command line, where ps shows it to every user.
func expandArgs(argv []string, tokenURL, apiURL, clientID string) []string {
	r := strings.NewReplacer("{token_url}", tokenURL, "{api_url}", apiURL, "{client_id}", clientID)
	out := make([]string, len(argv))
	for i, a := range argv {
		if i == 0 {
			out[i] = a
			continue
		}
		out[i] = r.Replace(a)
	}
	return out
}

// clientEnv is COMMAND's environment: base without any variable the harness sets, then the
// harness's own.
func clientEnv(base []string, set map[string]string) []string {
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := set[k]; ours || k == markerVar || isCAVar(k) {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range sortedKeys(set) {
		out = append(out, k+"="+set[k])
	}
	return out
}

// caVars name the CA file for the common runtimes: the harness's own, OpenSSL and Go (SSL_CERT_FILE),
// Node and Python requests.
var caVars = []string{"AUTHZ_CA_FILE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"}

// isCAVar reports whether k names a CA file: a base environment's own value would otherwise
// decide what the client trusts in the TLS scenarios.
func isCAVar(k string) bool {
	for _, v := range caVars {
		if k == v {
			return true
		}
	}
	return k == "CURL_CA_BUNDLE"
}
