package client

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/steps"
)

// TestHeaderCheckSkipsCallsBegunAfterSIGTERM: a call without echo-token fails CLIENT-17 while
// the client runs; the same call begun after the harness sent SIGTERM is not judged (the
// signal may have killed what builds the header), but a call before it still is.
func TestHeaderCheckSkipsCallsBegunAfterSIGTERM(t *testing.T) {
	stop := time.Now()
	call := func(at time.Time, echo string) record {
		h := http.Header{}
		if echo != "" {
			h.Set("echo-token", echo)
		}
		return record{Exchange: mock.Exchange{Endpoint: "api", Start: at, Header: h}, Origin: "main"}
	}
	for _, tc := range []struct {
		name     string
		stopping time.Time
		recs     []record
		fails    int
	}{
		{"every call carries it", stop, []record{call(stop.Add(-2*time.Second), "a"), call(stop.Add(-time.Second), "b")}, 0},
		{"a call without it while running fails", stop, []record{call(stop.Add(-2*time.Second), "a"), call(stop.Add(-time.Second), "")}, 1},
		{"a call without it after SIGTERM is not judged", stop, []record{call(stop.Add(-time.Second), "a"), call(stop.Add(time.Millisecond), "")}, 0},
		{"never stopped: every call is judged", time.Time{}, []record{call(stop.Add(-time.Second), "a"), call(stop.Add(time.Millisecond), "")}, 1},
		{"a repeated value fails", stop, []record{call(stop.Add(-2*time.Second), "a"), call(stop.Add(-time.Second), "a")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &outcome{def: sessionDef{name: "baseline"}, s: &session{recs: tc.recs, stopping: tc.stopping}}
			st := &scenarioState{outs: []*outcome{o}}
			assert.NoError(t, (&judge{}).apiHeader(st, "echo-token", true))
			assert.Len(t, st.fails, tc.fails, "%v", st.fails)
		})
	}
}

// TestPlanSelectsByConformanceTagExpressions: --tags means for client what it means for
// conformance (steps.ParseTags): IDs, tags, "&&" and "~"; a bad expression is a ConfigError.
func TestPlanSelectsByConformanceTagExpressions(t *testing.T) {
	suite, pick, _, err := plan(nil)
	require.NoError(t, err)
	require.Len(t, pick, len(suite), "no --tags: every check")
	for _, sc := range suite {
		assert.NotEmpty(t, sc.sessions, "%s names the sessions it judges", sc.id)
	}
	_, pick, _, err = plan([]string{"@must && ~@CLIENT-02"})
	require.NoError(t, err)
	var ids []string
	for _, sc := range pick {
		ids = append(ids, sc.id)
		assert.Contains(t, sc.tags, "must")
	}
	assert.Contains(t, ids, "CLIENT-01")
	assert.NotContains(t, ids, "CLIENT-02")

	_, _, _, err = plan([]string{"@must &&"})
	var ce *steps.ConfigError
	assert.ErrorAs(t, err, &ce)
}
