package client

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
)

func statuses(sum *evidence.Summary) map[string]string {
	out := map[string]string{}
	for _, c := range sum.Checks {
		out[c.ID] = string(c.Status)
	}
	return out
}

func failed(sum *evidence.Summary) []string {
	var out []string
	for _, c := range sum.Checks {
		if c.Status == evidence.StatusFailed {
			out = append(out, c.ID)
		}
	}
	return out
}

func TestGoodClientPassesEverything(t *testing.T) {
	cmd, env := testCommand(t, "good")
	dir := t.TempDir()
	start := time.Now()
	sum, err := Run(context.Background(), Config{Command: cmd, Env: env, Dir: dir, Grace: time.Second})
	require.NoError(t, err)
	t.Logf("whole catalogue in %.1f s", time.Since(start).Seconds())
	for _, c := range sum.Checks {
		t.Logf("%s %s %s %s %v", c.ID, c.Level, c.Status, c.Reason, c.Notes)
	}
	assert.Empty(t, failed(sum))
	assert.Equal(t, "passed", sum.Result)
	for _, f := range []string{"summary.json", "junit.xml", "cucumber.json", "report.html", "manifest.json", "SHA256SUMS", "client/timeline.json"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	// report.html draws each session's timeline: tokens, token requests and API calls.
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), `<section id="timeline">`)
	assert.Equal(t, len(sessionDefs), strings.Count(string(page), `<svg class="timeline"`))
	secretsFree(t, dir, "")
	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.True(t, v.OK(), "%v", v.Problems)
}

// Each naive client fails exactly the checks its defect breaks.
func TestNaiveClientsFailTheirChecks(t *testing.T) {
	tests := []struct {
		mode string
		only []string
		want []string
	}{
		{"per-call", []string{"CLIENT-04", "CLIENT-05", "CLIENT-09"}, []string{"CLIENT-04"}},
		{"hardcoded", []string{"CLIENT-04", "CLIENT-05", "CLIENT-06"}, []string{"CLIENT-05", "CLIENT-06"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel() // both defects show by hundreds (fetches, seconds late), not by timing
			cmd, env := testCommand(t, tt.mode)
			sum, err := Run(context.Background(), Config{Command: cmd, Env: env, Only: tt.only, Grace: time.Second})
			require.NoError(t, err)
			for _, c := range sum.Checks {
				if c.Status == evidence.StatusFailed {
					t.Logf("%s: %s", c.ID, c.Reason)
				}
			}
			assert.Equal(t, tt.want, failed(sum))
			assert.Equal(t, "failed", sum.Result)
		})
	}
}

// A client that exits at once, hangs ignoring SIGTERM, prints megabytes or floods the API gets a
// verdict in bounded time, and its secret, printed on its output, reaches no output of the
// harness. One 8 s session each (CLIENT-08's).
func TestMisbehavingClientsGetAVerdict(t *testing.T) {
	tests := []struct {
		mode   string
		status evidence.Status // CLIENT-08's
		reason string
	}{
		{"exit", evidence.StatusFailed, "exited with code 4"},
		{"hang", evidence.StatusFailed, "made no API call"},
		{"noisy", evidence.StatusFailed, "made no API call"},
		{"flood", evidence.StatusPassed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd, env := testCommand(t, tt.mode)
			dir := t.TempDir()
			var out strings.Builder
			start := time.Now()
			sum, err := Run(context.Background(), Config{Command: cmd, Env: env, Dir: dir, Grace: 200 * time.Millisecond,
				Only: []string{"CLIENT-08"}, Stdout: &out})
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 30*time.Second)
			var row evidence.CheckResult
			for _, c := range sum.Checks {
				if c.ID == "CLIENT-08" {
					row = c
				}
			}
			assert.Equal(t, tt.status, row.Status, row.Reason)
			assert.Contains(t, row.Reason, tt.reason)
			if tt.mode == "exit" {
				assert.Contains(t, row.Reason, "cannot start: secret is ***")
			}
			// Every file of the bundle, and the console, are free of every session's secret.
			secretsFree(t, dir, out.String())
		})
	}
}

// secretsFree fails when a session secret (they all end in "%!", after a '=' segment) appears
// in the console text or any bundle file. The secrets are random per session, so the test
// looks for their shape: fresh credentials never leave the harness unredacted.
func secretsFree(t *testing.T, dir, console string) {
	t.Helper()
	shape := regexp.MustCompile(`[0-9a-f]{6}\+[0-9a-f]{6}/[0-9a-f]{6}=[0-9a-f]{6}%!`)
	assert.False(t, shape.MatchString(console), "a secret on the console")
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.False(t, shape.Match(b), "a secret in %s", p)
		return nil
	}))
}
