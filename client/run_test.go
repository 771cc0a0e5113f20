package client

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/reports"
)

func statuses(sum *reports.Summary) map[string]string {
	out := map[string]string{}
	for _, c := range sum.Checks {
		out[c.ID] = string(c.Status)
	}
	return out
}

func failed(sum *reports.Summary) []string {
	var out []string
	for _, c := range sum.Checks {
		if c.Status == reports.StatusFailed {
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
	for _, f := range []string{"summary.json", "junit.xml", "cucumber.json", "report.html", "manifest.json", "SHA256SUMS"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.True(t, v.OK(), "%v", v.Problems)
}
