package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// A client flooding several sessions at once keeps at most the run's budget of records in all:
// each session keeps at least its floor, what no session could keep is only counted, and a
// verdict over a session that dropped records says so (one over a session that did not, does
// not).
func TestSessionsShareOneBudgetOfRecords(t *testing.T) {
	const total = 60 // floor 60/(2*3) = 10 a session, 30 shared
	sent := map[string]int{"baseline": 100, "revocation": 5, "lower-case bearer": 40}
	budget := newRecordBudget(total, len(sent))
	outs := map[string]*outcome{}
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	var wg sync.WaitGroup
	for name, n := range sent {
		d, ok := lookupSession(name)
		require.True(t, ok, name)
		s, err := newSession(d, budget)
		require.NoError(t, err)
		t.Cleanup(s.Close)
		outs[name] = &outcome{def: d, s: s, started: time.Now()}
		calls := make(chan struct{}, n)
		for range n {
			calls <- struct{}{}
		}
		close(calls)
		for range 4 { // the sessions are flooded at once, each by four callers
			wg.Go(func() {
				for range calls {
					req, err := http.NewRequest(http.MethodGet, s.APIURL()+"/products", nil)
					if !assert.NoError(t, err) {
						return
					}
					req.Header.Set("Authorization", "Bearer not-a-token")
					resp, err := hc.Do(req)
					if !assert.NoError(t, err) {
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
	}
	wg.Wait()

	kept := map[string]int{}
	sum := 0
	for name, o := range outs {
		o.ended = time.Now()
		kept[name] = len(o.recs(""))
		sum += kept[name]
		assert.Equal(t, sent[name], o.count("api"), "%s: every call is counted", name)
		assert.Equal(t, sent[name]-kept[name], o.dropped(), "%s: what is not kept is counted as dropped", name)
	}
	// 10 + 5 + 10 from the floors, and all 30 shared: however the calls interleaved.
	assert.Equal(t, 55, sum, "records kept in all: %v", kept)
	assert.Equal(t, 5, kept["revocation"], "a session under its floor keeps everything")
	assert.GreaterOrEqual(t, kept["baseline"], 10, "a session keeps at least its floor")
	assert.GreaterOrEqual(t, kept["lower-case bearer"], 10, "a session keeps at least its floor")
	assert.LessOrEqual(t, kept["baseline"], 40, "at most its floor and all that is shared")

	suite, pick, _, err := plan([]string{"CLIENT-09", "CLIENT-10"})
	require.NoError(t, err)
	j := newJudge(outs)
	_, err = j.run(context.Background(), pick)
	require.NoError(t, err)
	rows := map[string]evidence.CheckResult{}
	for _, c := range j.summary(suite, pick, false, time.Now(), time.Now()).Checks {
		rows[c.ID] = c
	}
	every := strings.Join(rows["CLIENT-09"].Notes, "\n") // judged over every session
	assert.Contains(t, every, "records dropped: the run keeps at most 60 exchanges in all")
	assert.Contains(t, every, "the baseline session kept its first")
	assert.Contains(t, every, "of 100 exchanges")
	assert.NotContains(t, every, "the revocation session kept")
	assert.NotContains(t, strings.Join(rows["CLIENT-10"].Notes, "\n"), "records dropped", "the revocation session kept all it saw")
}

// A token-request storm fails CLIENT-11 even when the run's budget kept too few of its requests
// to show it: the count of all of them does.
func TestATokenStormBeyondTheBudgetStillFails(t *testing.T) {
	d, ok := lookupSession("every token rejected")
	require.True(t, ok)
	s, err := newSession(d, newRecordBudget(5, 1)) // keeps 5 requests: under CLIENT-11's 10 in 2 s
	require.NoError(t, err)
	t.Cleanup(s.Close)
	o := &outcome{def: d, s: s, started: time.Now()}
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	for range 40 {
		resp, err := hc.Post(s.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	o.ended = o.started.Add(2 * time.Second) // one window of 2 s, whatever the machine's speed
	require.Equal(t, 5, len(o.recs("")))
	require.Equal(t, 40, o.count("token"))

	suite, pick, _, err := plan([]string{"CLIENT-11"})
	require.NoError(t, err)
	j := newJudge(map[string]*outcome{d.name: o})
	_, err = j.run(context.Background(), pick)
	require.NoError(t, err)
	for _, c := range j.summary(suite, pick, false, time.Now(), time.Now()).Checks {
		if c.ID == "CLIENT-11" {
			assert.Equal(t, evidence.StatusFailed, c.Status, c.Reason)
			assert.Contains(t, c.Reason, "(40 in 2.0 s)")
			assert.Contains(t, strings.Join(c.Notes, "\n"), "kept its first 5 of 40 exchanges")
		}
	}
}
