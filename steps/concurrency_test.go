package steps

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// TestConcurrencyBoundsRequestsInFlight runs the whole suite with each bound against a mock
// whose token answers take a little while (so that requests sent at once do overlap) and asserts
// by the mock's record of what it served that never more than the bound were in flight, that a
// bound above 1 was used, and that the verdicts are those of the run one request after another.
// The record leaves out the control API's clock moves: they stand in, in tests, for the wait of
// CACHE-01 and CACHE-03, which sends nothing in a real run (BEARER-11's mint, which a real run
// against the mock sends, counts).
func TestConcurrencyBoundsRequestsInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite three times")
	}
	var sequential []string
	for _, tc := range []struct {
		name  string
		bound int
	}{
		{"one request after another", 1},
		{"two at once", 2},
		{"the default against loopback", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var served inFlight
			_, cfg := startMock(t, catalog.ProfileDerbySoft, true, mock.WithFaults(mock.Faults{Latency: 20 * time.Millisecond}),
				mock.WithObserver(served.observe))
			cfg.Concurrency = tc.bound
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			bound := tc.bound
			if bound == 0 {
				bound = DefaultConcurrency(cfg.TokenURL)
			}
			peak := served.peak()
			assert.LessOrEqual(t, peak, int64(bound), "requests in flight at once")
			if bound > 1 {
				// Scenarios run at once each start with a token request that takes 20 ms.
				assert.Greater(t, peak, int64(1), "no two requests were ever in flight at once")
			}
			rows := verdictRows(t, catalog.ProfileDerbySoft, "clean", sum)
			sort.Strings(rows)
			if tc.bound == 1 {
				sequential = rows
				return
			}
			require.NotNil(t, sequential, "the sequential run comes first")
			assert.Equal(t, sequential, rows, "verdicts differ from the run one request after another")
		})
	}
}

func TestDefaultConcurrency(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"https://127.0.0.1:8443/token", 8},
		{"http://[::1]:8080/token", 8},
		{"https://localhost/token", 8},
		{"https://ticket-distributor-public.derbysoft-test.com/ticket-distributor-authorizer/token", 4},
	} {
		assert.Equal(t, tc.want, DefaultConcurrency(tc.url), tc.url)
	}
}

func TestConcurrencyBelowOneIsAConfigError(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.Concurrency = -1
	_, err := Run(context.Background(), cfg)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "concurrency -1")
}

func TestOrderedChecksRunAlone(t *testing.T) {
	ids := []string{"AUTH-01", "CACHE-01", "AUTH-17", "CACHE-03", "BEARER-01", "CACHE-04"}
	for _, tc := range []struct {
		name                 string
		client2ID            string
		independent, ordered []string
	}{
		{"CACHE-03 runs alongside the others as the second client", "DEMO2",
			[]string{"AUTH-01", "CACHE-03", "BEARER-01"}, []string{"CACHE-01", "AUTH-17", "CACHE-04"}},
		{"CACHE-03 runs alone without a second client", "",
			[]string{"AUTH-01", "BEARER-01"}, []string{"CACHE-01", "AUTH-17", "CACHE-03", "CACHE-04"}},
		{"CACHE-03 runs alone when the second client is the first", "DEMO",
			[]string{"AUTH-01", "BEARER-01"}, []string{"CACHE-01", "AUTH-17", "CACHE-03", "CACHE-04"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runner{cfg: Config{ClientID: "DEMO", ClientSecret: "secret-one", Client2ID: tc.client2ID, Client2Secret: "secret-two"}}
			independent, ordered := r.splitOrdered(ids)
			assert.Equal(t, tc.independent, independent)
			assert.Equal(t, tc.ordered, ordered)
		})
	}
}

// inFlight records when the mock served each request but the control API's clock moves.
type inFlight struct {
	mu    sync.Mutex
	spans [][2]time.Time
}

func (f *inFlight) observe(ex mock.Exchange) {
	if ex.Endpoint == "control" && strings.HasSuffix(ex.Path, "/clock/advance") {
		return
	}
	f.mu.Lock()
	f.spans = append(f.spans, [2]time.Time{ex.Start, ex.End})
	f.mu.Unlock()
}

// peak is the most requests the mock was serving at one moment: an answer written at the moment
// another request arrives no longer counts.
func (f *inFlight) peak() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	type edge struct {
		at time.Time
		d  int64
	}
	var edges []edge
	for _, sp := range f.spans {
		edges = append(edges, edge{sp[0], 1}, edge{sp[1], -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].d < edges[j].d // ends first
	})
	var n, most int64
	for _, e := range edges {
		n += e.d
		most = max(most, n)
	}
	return most
}
