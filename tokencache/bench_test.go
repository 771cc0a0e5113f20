package tokencache_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

var (
	lifetimeRun     = flag.Duration("tokencache.run", 3500*time.Millisecond, "length of each BenchmarkAcrossLifetimes run")
	lifetimeSeconds = flag.Int("tokencache.lifetime", 1, "token lifetime in BenchmarkAcrossLifetimes, in seconds (expires_in)")
	endpointLatency = flag.Duration("tokencache.latency", 100*time.Millisecond, "time the benchmark's token endpoint takes per token")
	callerPause     = flag.Duration("tokencache.pause", 0, "pause of each BenchmarkAcrossLifetimes caller between calls, as an API call would (0: back to back)")
)

// clockSource issues a new opaque token valid for an hour on every call, without a network.
type clockSource struct{ n atomic.Int64 }

func (s *clockSource) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", s.n.Add(1)), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

// BenchmarkHitParallel measures Token on a warm cache from every P at once, against
// oauth2.ReuseTokenSource over the same source.
func BenchmarkHitParallel(b *testing.B) {
	sources := []struct {
		name string
		new  func(oauth2.TokenSource) (oauth2.TokenSource, func())
	}{
		{"tokencache", func(src oauth2.TokenSource) (oauth2.TokenSource, func()) {
			c := tokencache.New(src)
			return c, c.Close
		}},
		{"ReuseTokenSource", func(src oauth2.TokenSource) (oauth2.TokenSource, func()) {
			return oauth2.ReuseTokenSource(nil, src), func() {}
		}},
		// The floor: a source that does no work at all.
		{"StaticTokenSource", func(src oauth2.TokenSource) (oauth2.TokenSource, func()) {
			tok, _ := src.Token()
			return oauth2.StaticTokenSource(tok), func() {}
		}},
	}
	for _, s := range sources {
		b.Run(s.name, func(b *testing.B) {
			ts, done := s.new(&clockSource{})
			defer done()
			want, err := ts.Token()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if tok, err := ts.Token(); tok != want || err != nil {
						b.Error("not a hit")
						return
					}
				}
			})
		})
	}
}

// slowTokenEndpoint is a loopback client-credentials token endpoint that takes latency to issue
// each token, valid for lifetime seconds. requests counts the token requests it received.
func slowTokenEndpoint(latency time.Duration, lifetime int) (*httptest.Server, *atomic.Int64) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		time.Sleep(latency) // the endpoint's service time, not a synchronisation
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("token-%d", n), "token_type": "Bearer", "expires_in": lifetime,
		})
	}))
	return srv, &requests
}

// lifetimeRunResult is what one run of callers saw.
type lifetimeRunResult struct {
	maxLatency time.Duration
	slow       int64 // calls over 1 ms
	calls      int64
	errors     int64
	fetches    int64
}

// callContinuously makes a first call that warms the source, then runs callers goroutines
// calling ts.Token back to back until run has passed since that first call. It returns the
// slowest call after the first, and how many token requests the endpoint received from the
// first call on (the cold start's included).
func callContinuously(ts oauth2.TokenSource, requests *atomic.Int64, callers int, run time.Duration) (lifetimeRunResult, error) {
	before := requests.Load()
	deadline := time.Now().Add(run)
	if _, err := ts.Token(); err != nil {
		return lifetimeRunResult{}, fmt.Errorf("warm-up: %w", err)
	}
	var (
		mu  sync.Mutex
		res lifetimeRunResult
		wg  sync.WaitGroup
	)
	for range callers {
		wg.Go(func() {
			var worst time.Duration
			var calls, slow, errs int64
			for {
				start := time.Now()
				if !start.Before(deadline) {
					break
				}
				_, err := ts.Token()
				d := time.Since(start)
				worst = max(worst, d)
				if d > time.Millisecond {
					slow++
				}
				calls++
				if err != nil {
					errs++
				}
				// Yield between calls so the Go scheduler never preempts a caller mid-call:
				// the latency measured is the source's, not a time slice's.
				if *callerPause > 0 {
					time.Sleep(*callerPause)
				} else {
					runtime.Gosched()
				}
			}
			mu.Lock()
			res.maxLatency = max(res.maxLatency, worst)
			res.calls += calls
			res.slow += slow
			res.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	res.fetches = requests.Load() - before
	return res, nil
}

// BenchmarkAcrossLifetimes runs 8 goroutines calling Token continuously for -tokencache.run
// (3.5 s: over three 1-second token lifetimes) against a loopback endpoint that takes 100 ms
// per token, and reports the slowest call after the first (max-latency-ns), the calls over 1 ms
// (slow-calls) and the token requests made, the first included (fetches), beside the fetches
// one per refresh interval would make (fetches-bound: run / interval, rounded up).
//
// ReuseTokenSource is what clientcredentials.Config.TokenSource returns: its 10-second early
// expiry exceeds the lifetime, so it fetches on every call; ReuseTokenSource-1ms refreshes only
// once the token has expired. StaticTokenSource does no work at all: its slowest call is the
// noise floor of the machine (other processes, the OS scheduler, GC), which bounds what any
// source can show here. For tokencache, stalls and max-stall-ns are its own account of callers
// that waited for a fetch after warm-up, free of that noise; min-lead-ms is the shortest time
// before expiry that a background refresh completed.
func BenchmarkAcrossLifetimes(b *testing.B) {
	const callers = 8
	lifetime := time.Duration(*lifetimeSeconds) * time.Second
	// The cache's nominal refresh interval with the defaults: the fetch, then the mean refresh
	// point (80% less half the 5% jitter) of the lifetime less its skew allowance (a tenth,
	// as 10 s exceeds a tenth of a short lifetime).
	skew := min(tokencache.DefaultClockSkew, lifetime/10)
	interval := *endpointLatency + time.Duration((tokencache.DefaultRefreshAt-tokencache.DefaultJitter/2)*float64(lifetime-skew))

	type candidate struct {
		name     string
		interval time.Duration // the nominal interval between fetches; 0 when it never fetches
		// new wraps src; finish, after the run, reports the candidate's own metrics.
		new func(src oauth2.TokenSource) (ts oauth2.TokenSource, finish func(*testing.B))
	}
	nothing := func(*testing.B) {}
	candidates := []candidate{
		{"tokencache", interval, func(src oauth2.TokenSource) (oauth2.TokenSource, func(*testing.B)) {
			var minLead atomic.Int64
			minLead.Store(math.MaxInt64)
			c := tokencache.New(src, tokencache.OnRefresh(func(e tokencache.RefreshEvent) {
				if e.Background && int64(e.Lead) < minLead.Load() {
					minLead.Store(int64(e.Lead))
				}
			}))
			return c, func(b *testing.B) {
				c.Close()
				st := c.Stats()
				b.ReportMetric(float64(time.Duration(minLead.Load()).Milliseconds()), "min-lead-ms")
				b.ReportMetric(float64(st.Stalls-1), "stalls") // less the warm-up's cold start
				b.ReportMetric(float64(st.Refreshes), "refreshes")
			}
		}},
		{"ReuseTokenSource", *endpointLatency, func(src oauth2.TokenSource) (oauth2.TokenSource, func(*testing.B)) {
			return oauth2.ReuseTokenSource(nil, src), nothing
		}},
		{"ReuseTokenSource-1ms", lifetime + *endpointLatency, func(src oauth2.TokenSource) (oauth2.TokenSource, func(*testing.B)) {
			return oauth2.ReuseTokenSourceWithExpiry(nil, src, time.Millisecond), nothing
		}},
		{"StaticTokenSource", 0, func(src oauth2.TokenSource) (oauth2.TokenSource, func(*testing.B)) {
			tok, err := src.Token()
			if err != nil {
				panic(err)
			}
			return oauth2.StaticTokenSource(tok), nothing
		}},
	}
	for _, cand := range candidates {
		b.Run(cand.name, func(b *testing.B) {
			var worst time.Duration
			var fetches, calls, slow, errs int64
			for range b.N {
				srv, requests := slowTokenEndpoint(*endpointLatency, *lifetimeSeconds)
				cfg := clientcredentials.Config{ClientID: "bench", ClientSecret: "bench", TokenURL: srv.URL}
				ts, finish := cand.new(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(context.Background()) }))
				res, err := callContinuously(ts, requests, callers, *lifetimeRun)
				finish(b)
				srv.CloseClientConnections()
				srv.Close()
				if err != nil {
					b.Fatal(err)
				}
				worst = max(worst, res.maxLatency)
				fetches += res.fetches
				calls += res.calls
				slow += res.slow
				errs += res.errors
			}
			n := float64(b.N)
			b.ReportMetric(float64(worst.Nanoseconds()), "max-latency-ns")
			b.ReportMetric(float64(slow)/n, "slow-calls")
			b.ReportMetric(float64(fetches)/n, "fetches")
			if cand.interval > 0 {
				b.ReportMetric(math.Ceil(float64(*lifetimeRun)/float64(cand.interval)), "fetches-bound")
			}
			b.ReportMetric(float64(calls)/n, "calls")
			b.ReportMetric(float64(errs)/n, "errors")
		})
	}
}
