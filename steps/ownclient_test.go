package steps

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/semaphore"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// TestCACHE03RunsAsItsOwnClient: CACHE-03 runs as the second client, alongside the other checks,
// when that client can serve it, and as the first client, alone, when it cannot (no token, no
// newer token, or the API does not accept its token). It passes on a correct server either way;
// as the second client its API calls name that client in Distributor-Id; as the first client no
// other check's request comes between its first token and its last look.
func TestCACHE03RunsAsItsOwnClient(t *testing.T) {
	first := mock.Client{ID: mock.DefaultClientID, Secret: mock.DefaultClientSecret}
	second := mock.Client{ID: mock.DefaultClient2ID, Secret: mock.DefaultClient2Secret}
	noAPI := second
	noAPI.Scopes = []string{"shop.all"} // the sample API (products) needs product.all
	for _, tc := range []struct {
		name    string
		client2 mock.Client // as the mock knows the second client
		secret2 string      // the second client's secret as the run gives it
		refuse  int32       // a front answers 429 to the second client's token request of this number
		wantSub string      // the client of CACHE-03's tokens
		why     string      // what the second client met, in the note ("": it served)
		cache05 evidence.Status
	}{
		{"as the second client when it may call the API", second, second.Secret, 0, second.ID, "", evidence.StatusPassed},
		{"as the first client, alone, when the API refuses the second's token", noAPI, second.Secret, 0, first.ID,
			"as the second client, the API did not accept its newest token (status 403", evidence.StatusPassed},
		{"as the first client, alone, when the second gets no token", second, "Wrong+Second/Key=7%!xy", 0, first.ID,
			"as the second client, its valid token request got no 2xx answer (raw credentials: status 401", evidence.StatusSkipped},
		// The second client's requests: its credential probe, the first token, the newer one.
		{"as the first client, alone, when the second gets no newer token", second, second.Secret, 3, first.ID,
			"as the second client, it got no newer token (status 429", evidence.StatusPassed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var apiCalls []mock.Exchange
			var mu sync.Mutex
			observe := func(ex mock.Exchange) {
				if ex.Endpoint == "api" && ex.ClientID == second.ID {
					mu.Lock()
					apiCalls = append(apiCalls, ex)
					mu.Unlock()
				}
			}
			// Token answers take a while, so that a check run alongside would overlap CACHE-03.
			m, cfg := startMock(t, catalog.ProfileDerbySoft, false, mock.WithClients(first, tc.client2),
				mock.WithFaults(mock.Faults{Latency: 10 * time.Millisecond}), mock.WithObserver(observe))
			cfg.Client2Secret = tc.secret2
			if tc.refuse > 0 {
				cfg.TokenURL = refusingFront(t, m, second.ID, tc.refuse)
			}
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			rows := map[string]evidence.CheckResult{}
			for _, c := range sum.Checks {
				rows[c.ID] = c
			}
			c3 := rows["CACHE-03"]
			require.Equal(t, evidence.StatusPassed, c3.Status, "CACHE-03: %s", c3.Reason)
			assert.Equal(t, tc.cache05, rows["CACHE-05"].Status, "CACHE-05: %s", rows["CACHE-05"].Reason)
			notes := strings.Join(c3.Notes, "\n")
			assert.Contains(t, notes, "ran as the second client, alongside the other checks")
			alone := tc.why != ""
			assert.Equal(t, alone, strings.Contains(notes, "ran again as the first client, alone"), "notes: %q", c3.Notes)
			if alone {
				assert.Contains(t, notes, tc.why)
			} else {
				mu.Lock()
				require.NotEmpty(t, apiCalls, "no API call presented the second client's token")
				for _, ex := range apiCalls {
					assert.Equal(t, second.ID, ex.Header.Get("Distributor-Id"), "an API call with the second client's token names another client")
				}
				mu.Unlock()
			}

			all := readTranscripts(t, cfg.OutDir)
			var own []transcriptTimes
			for _, tr := range all {
				if tr.check == "CACHE-03" {
					own = append(own, tr)
				}
			}
			require.NotEmpty(t, own)
			var subs []string
			for _, tr := range own {
				if tr.sub != "" {
					subs = append(subs, tr.sub)
				}
			}
			require.NotEmpty(t, subs, "CACHE-03 got no token")
			assert.Equal(t, tc.wantSub, subs[len(subs)-1], "the client of CACHE-03's last token")
			if !alone {
				assert.NotContains(t, subs, first.ID, "CACHE-03 asked the first client for a token")
				return
			}
			// Alone: from its first token as the first client to its last look, no other
			// check's exchange overlaps CACHE-03's.
			var from time.Time
			for _, tr := range own {
				if tr.sub == first.ID {
					from = tr.start
					break
				}
			}
			require.False(t, from.IsZero(), "CACHE-03 got no token as the first client")
			to := own[len(own)-1].end
			for _, tr := range all {
				if tr.check != "CACHE-03" && tr.start.Before(to) && tr.end.After(from) {
					t.Errorf("%s's exchange (%s .. %s) came while CACHE-03 ran alone (%s .. %s)",
						tr.check, tr.start.Format(time.StampMicro), tr.end.Format(time.StampMicro), from.Format(time.StampMicro), to.Format(time.StampMicro))
				}
			}
		})
	}
}

// refusingFront serves a token endpoint in front of the mock's that answers 429 to the n-th
// token request of client, and returns its URL.
func refusingFront(t *testing.T, m *mock.Server, client string, n int32) string {
	t.Helper()
	u, err := url.Parse(m.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var seen atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, _, ok := r.BasicAuth(); ok && id == client && seen.Add(1) == n {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL + strings.TrimPrefix(m.TokenURL(), m.URL())
}

// transcriptTimes is what TestCACHE03RunsAsItsOwnClient reads of a transcript: its check, when
// it ran, and the sub of the token its answer carried ("" when none).
type transcriptTimes struct {
	check      string
	start, end time.Time
	sub        string
}

// readTranscripts reads a run's transcripts, in the order they started.
func readTranscripts(t *testing.T, dir string) []transcriptTimes {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "transcripts", "*.json"))
	require.NoError(t, err)
	var out []transcriptTimes
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		var tr evidence.Transcript
		require.NoError(t, json.Unmarshal(b, &tr), name)
		require.Len(t, tr.Checks, 1, name)
		x := transcriptTimes{check: tr.Checks[0], start: tr.Started,
			end: tr.Started.Add(time.Duration(tr.DurationMS * float64(time.Millisecond)))}
		if tr.Response != nil && len(tr.Response.Tokens) > 0 {
			x.sub, _ = tr.Response.Tokens[0].Claims["sub"].(string)
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// TestSecondClientsProbeJudgesOnlyItsOwnRequests: a second client given the first client's
// secret (wrong for it) gets no token, but the first client's requests that carry that secret in
// the body are still judged, at any --concurrency: the second client's failed probe (made first
// now, by CACHE-03) does not skip them for want of a token.
func TestSecondClientsProbeJudgesOnlyItsOwnRequests(t *testing.T) {
	var rows [][]string
	for _, bound := range []int{1, 0} {
		_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
		cfg.Client2Secret = cfg.ClientSecret
		cfg.Concurrency = bound
		sum, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		for _, id := range []string{"AUTH-13", "AUTH-14"} {
			c := statusOf(sum, id)
			assert.NotContains(t, c.Reason, "no token to judge", "%s at --concurrency %d", id, bound)
			assert.NotEqual(t, evidence.StatusSkipped, c.Status, "%s at --concurrency %d: %s", id, bound, c.Reason)
		}
		assert.Equal(t, evidence.StatusSkipped, statusOf(sum, "CACHE-05").Status, "the second client got a token")
		r := verdictRows(t, catalog.ProfileDerbySoft, "clean", sum)
		sort.Strings(r)
		rows = append(rows, r)
	}
	assert.Equal(t, rows[0], rows[1], "verdicts at once differ from one after another")
}

// TestRunningAloneEndsWithTheRun: the wait to run alone ends with the run's context, even when
// another scenario never lets go of its hold.
func TestRunningAloneEndsWithTheRun(t *testing.T) {
	r := &runner{alone: semaphore.NewWeighted(aloneWeight)}
	require.NoError(t, r.alone.Acquire(context.Background(), 1)) // a scenario that never ends
	s := &scenario{r: r, as: mock.DefaultClient2ID}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.aloneAsFirstClient(ctx, "it got no token", 0)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, notHeld, s.hold, "a hold it never got")
}
