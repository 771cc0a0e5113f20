package client

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Under --serve the harness prints what the client needs, waits for it, and judges it; the
// checks that need their own URLs (TLS, redirect) are skipped with the reason.
func TestServeJudgesAClientStartedElsewhere(t *testing.T) {
	pr, pw := io.Pipe()
	type result struct {
		statuses map[string]string
		reasons  map[string]string
		err      error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := Serve(context.Background(), ServeConfig{Config: Config{Only: []string{"CLIENT-04", "CLIENT-15"}, Stdout: pw},
			Duration: 7 * time.Second, WaitFirst: time.Minute})
		_ = pw.Close()
		r := result{err: err, statuses: map[string]string{}, reasons: map[string]string{}}
		if sum != nil {
			for _, c := range sum.Checks {
				r.statuses[c.ID], r.reasons[c.ID] = string(c.Status), c.Reason
			}
		}
		done <- r
	}()
	vars := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() && len(vars) < 4 {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && strings.HasPrefix(k, "AUTHZ_") {
			vars[k] = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.Len(t, vars, 4)
	cmd, env := testCommand(t, "good")
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	p, err := startProcess(procSpec{argv: cmd, env: env, grace: time.Second})
	require.NoError(t, err)
	r := <-done
	p.Stop()
	require.NoError(t, r.err)
	assert.Equal(t, "passed", r.statuses["CLIENT-04"])
	assert.Equal(t, "skipped", r.statuses["CLIENT-15"])
	assert.Contains(t, r.reasons["CLIENT-15"], "not run under --serve")
}
