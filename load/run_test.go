package load

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/tokencache"
)

func startMock(t *testing.T, opts ...mock.Option) *mock.Server {
	t.Helper()
	s, err := mock.New(opts...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func baseConfig(t *testing.T, s *mock.Server, mode Mode) Config {
	return Config{Mode: mode, TokenURL: s.TokenURL(), APIURL: s.APIURL(), ClientID: mock.DefaultClientID,
		ClientSecret: mock.DefaultClientSecret, Rate: vegeta.Rate{Freq: 100, Per: time.Second},
		Duration: time.Second, Timeout: 5 * time.Second, Dir: filepath.Join(t.TempDir(), "load")}
}

// decodeResults reads results.bin with Vegeta's own decoder.
func decodeResults(t *testing.T, path string) []vegeta.Result {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	var out []vegeta.Result
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, r)
	}
}

func TestIssuanceWritesVegetaResultsAndSummary(t *testing.T) {
	for _, tc := range []struct {
		policy mock.Policy
		want   string
	}{{mock.PolicyCached, "cached"}, {mock.PolicyReissue, "reissue"}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			s := startMock(t, mock.WithPolicy(tc.policy))
			cfg := baseConfig(t, s, ModeIssuance)
			// 50/s: the reissuing mock signs every token in this process, and under -race on a
			// busy machine 100/s left the generator behind (the run then rightly fails).
			cfg.Rate = vegeta.Rate{Freq: 50, Per: time.Second}
			th, err := ParseThresholds([]string{"success>=0.99", "p99<5s"}, ModeIssuance)
			require.NoError(t, err)
			cfg.Thresholds = th
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)

			results := decodeResults(t, filepath.Join(cfg.Dir, evidence.ResultsFile))
			require.NotEmpty(t, results)
			assert.Equal(t, uint64(len(results)), sum.Requests, "summary and results.bin agree")
			for _, r := range results {
				assert.Nil(t, r.Body, "bodies are dropped: results.bin never holds a token")
				assert.Nil(t, r.Headers)
				assert.Equal(t, "issuance", r.Attack)
			}
			assert.InDelta(t, 50, len(results), 8, "about rate x duration requests")

			onDisk, err := evidence.ReadLoadSummary(filepath.Join(cfg.Dir, evidence.LoadSummaryName))
			require.NoError(t, err)
			assert.Equal(t, sum.Requests, onDisk.Requests)
			assert.Equal(t, "passed", onDisk.Result, onDisk.Reason)
			assert.Equal(t, 1.0, onDisk.Success)
			assert.Equal(t, len(results), onDisk.StatusCodes["200"])
			l := onDisk.LatencyMS
			assert.True(t, l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max, "%+v", l)
			require.NotNil(t, onDisk.Tokens)
			assert.Equal(t, tc.want, onDisk.Tokens.Policy, onDisk.Tokens.PolicyReason)
			assert.Equal(t, int64(len(results)), onDisk.Tokens.Responses)
			assert.Less(t, onDisk.Tokens.DriftMaxMS, 2000.0, "expires_in agrees with exp")
			require.NotNil(t, onDisk.ScheduleLag)
			require.Len(t, onDisk.Thresholds, 2)
			assert.True(t, onDisk.Thresholds[0].Held)
			plot, err := os.ReadFile(filepath.Join(cfg.Dir, evidence.PlotFile))
			require.NoError(t, err)
			assert.Contains(t, string(plot), "<html")
			assert.NotContains(t, string(plot), "<script src=", "the plot is self-contained")
		})
	}
}

func TestFailingThresholdFailsTheRun(t *testing.T) {
	s := startMock(t)
	cfg := baseConfig(t, s, ModeIssuance)
	cfg.Duration = 300 * time.Millisecond
	cfg.Thresholds, _ = ParseThresholds([]string{"p50<1ns"}, ModeIssuance)
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "failed", sum.Result)
	assert.Contains(t, sum.Reason, "threshold p50<1ns failed: measured ")
}

// Every lifetime of a 2 s token is covered by about one fetch, with no caller waiting.
func TestCachedFetchesAboutOncePerLifetimeWithoutStalls(t *testing.T) {
	s := startMock(t, mock.WithTokenTTL(2*time.Second))
	cfg := baseConfig(t, s, ModeCached)
	cfg.Rate = vegeta.Rate{Freq: 50, Per: time.Second}
	cfg.Duration = 3 * time.Second
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	c := sum.Cache
	require.NotNil(t, c)
	assert.Equal(t, int64(sum.Requests), c.APICalls)
	assert.GreaterOrEqual(t, c.TokenFetches, int64(1), "3 s of 2 s tokens needs a refresh")
	assert.LessOrEqual(t, c.TokenFetches, int64(4))
	assert.Less(t, c.FetchesPerCall, 0.05)
	// The mock's tokens live their whole 2 s; the cache refreshes at 75-80% of the 1.8 s left
	// after its 10% clock-skew allowance: about 1.4 fetches a lifetime.
	assert.InDelta(t, 2000, c.TokenLifetimeMeanMS, 100)
	assert.InDelta(t, 1.5, c.Lifetimes, 0.1)
	assert.InDelta(t, float64(c.TokenFetches)/c.Lifetimes, c.FetchesPerLifetime, 1e-9)
	assert.Zero(t, c.Stalls, "no caller waited for a token once warm")
	assert.Zero(t, c.Retries401)
	assert.Equal(t, c.TokenFetches, c.RefreshCount)
	assert.Greater(t, c.RefreshLeadMinMS, 0.0, "each new token arrived before the old one expired")
	require.NotNil(t, s)
	assert.Equal(t, 1.0, sum.Success)
}

// Fetches per lifetime follow the cache's refresh point: about 1 / (0.9 x (RefreshAt - half the
// jitter)), 0.9 being what the clock-skew allowance leaves of a short lifetime.
func TestCachedFetchesPerLifetimeFollowTheRefreshPoint(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refreshAt float64
	}{{"default 0.8", 0}, {"early 0.3", 0.3}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startMock(t, mock.WithTokenTTL(2*time.Second))
			cfg := baseConfig(t, s, ModeCached)
			cfg.Rate = vegeta.Rate{Freq: 50, Per: time.Second}
			cfg.Duration = 4 * time.Second
			f := tokencache.DefaultRefreshAt
			if tc.refreshAt > 0 {
				f = tc.refreshAt
				cfg.CacheOptions = []tokencache.Option{tokencache.RefreshAt(f)}
			}
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			want := 1 / (0.9 * (f - tokencache.DefaultJitter/2))
			assert.InDelta(t, want, sum.Cache.FetchesPerLifetime, 0.3*want, "fetches %d over %.1f lifetimes", sum.Cache.TokenFetches, sum.Cache.Lifetimes)
			assert.Zero(t, sum.Cache.Stalls)
		})
	}
}

// Two replicas sharing the credentials against a server where a new token revokes the old:
// every switch is a 401 the transport retries.
func TestCachedShows401RetriesWhenTheServerRevokes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revoke  bool
		retries bool
	}{{"revoking server", true, true}, {"non-revoking server", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startMock(t, mock.WithRevokePrevious(tc.revoke))
			cfg := baseConfig(t, s, ModeCached)
			cfg.Instances = 2
			cfg.Duration = 500 * time.Millisecond
			// One call at a time, alternating between the replicas. With calls in parallel, the
			// other replica can revoke a token between a 401's refetch and its one retry, and
			// the retry fails too: a real outcome, but not one this test can time.
			cfg.Workers, cfg.MaxWorkers = 1, 1
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			if tc.retries {
				assert.Greater(t, sum.Cache.Retries401, int64(0))
				assert.Greater(t, sum.Cache.FetchesPerCall, 0.5, "the replicas thrash: a fetch per call")
			} else {
				assert.Zero(t, sum.Cache.Retries401)
				assert.Zero(t, sum.Cache.TokenFetches)
			}
			assert.Equal(t, 1.0, sum.Success, "the retried calls succeed")
		})
	}
}

// The mock answers every token request 429 Retry-After: 1 s; the attack pauses for it instead
// of sending 50/s.
func TestRateLimitedRunBacksOffForRetryAfter(t *testing.T) {
	s := startMock(t, mock.WithFaults(mock.Faults{RateLimitRate: 1, RetryAfter: time.Second}))
	cfg := baseConfig(t, s, ModeIssuance)
	cfg.Rate = vegeta.Rate{Freq: 50, Per: time.Second}
	cfg.Duration = 2500 * time.Millisecond
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.LessOrEqual(t, sum.Requests, uint64(10), "without backoff it would send about 125")
	assert.Equal(t, int64(sum.Requests), sum.RateLimited.Responses)
	assert.GreaterOrEqual(t, sum.RateLimited.Pauses, int64(2))
	assert.GreaterOrEqual(t, sum.RateLimited.PausedMS, 1500.0)
	assert.Equal(t, 1.0, sum.RateLimited.Ratio)
}

// counting is a token endpoint that answers 200 to every request and calls at(n) on the nth.
func counting(at func(n int64), code int) *httptest.Server {
	var n atomic.Int64
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := n.Add(1)
		if c == 1 {
			w.WriteHeader(http.StatusOK) // the preflight
			io.WriteString(w, `{"access_token":"opaque","expires_in":60}`)
			return
		}
		at(c)
		w.WriteHeader(code)
		io.WriteString(w, `{"access_token":"opaque","expires_in":60}`)
	}))
}

func TestInterruptedRunStillWritesWhatItMeasured(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := counting(func(n int64) {
		if n == 21 {
			cancel()
		}
	}, http.StatusOK)
	defer srv.Close()
	cfg := Config{Mode: ModeIssuance, TokenURL: srv.URL, ClientID: "a", ClientSecret: "b",
		Rate: vegeta.Rate{Freq: 100, Per: time.Second}, Duration: 30 * time.Second, Dir: filepath.Join(t.TempDir(), "load")}
	start := time.Now()
	sum, err := Run(ctx, cfg)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 10*time.Second, "a cancelled run stops promptly")
	assert.Equal(t, "interrupted", sum.Stopped)
	assert.Equal(t, "failed", sum.Result)
	results := decodeResults(t, filepath.Join(cfg.Dir, evidence.ResultsFile))
	assert.GreaterOrEqual(t, len(results), 20)
	assert.Equal(t, uint64(len(results)), sum.Requests)
	_, err = os.Stat(filepath.Join(cfg.Dir, evidence.LoadSummaryName))
	assert.NoError(t, err)
}

func TestInterruptedRunCutsHungRequestsAfterTheGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	var hung atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vegeta-Seq") != "" { // the attack, not the preflight: never answers
			if hung.Add(1) == 5 {
				cancel()
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, `{"access_token":"opaque","expires_in":60}`)
	}))
	defer srv.Close()
	defer close(release)
	cfg := Config{Mode: ModeIssuance, TokenURL: srv.URL, ClientID: "a", ClientSecret: "b",
		Rate: vegeta.Rate{Freq: 50, Per: time.Second}, Duration: 30 * time.Second, Timeout: 30 * time.Second,
		Dir: filepath.Join(t.TempDir(), "load")}
	start := time.Now()
	sum, err := Run(ctx, cfg)
	took := time.Since(start)
	require.ErrorIs(t, err, ErrUnreachable, "no request was answered")
	require.NotNil(t, sum)
	assert.Less(t, took, 10*time.Second, "hung requests end a grace period after the stop, not at their 30 s timeout")
	assert.Equal(t, "interrupted", sum.Stopped)
	results := decodeResults(t, filepath.Join(cfg.Dir, evidence.ResultsFile))
	require.GreaterOrEqual(t, len(results), 5)
	for _, r := range results {
		assert.NotEmpty(t, r.Error, "request %d was cut, not answered", r.Seq)
	}
}

func TestRunAbortsPastTheErrorRate(t *testing.T) {
	srv := counting(func(int64) {}, http.StatusInternalServerError)
	defer srv.Close()
	cfg := Config{Mode: ModeIssuance, TokenURL: srv.URL, ClientID: "a", ClientSecret: "b",
		Rate: vegeta.Rate{Freq: 200, Per: time.Second}, Duration: 3 * time.Second, AbortErrorRate: 0.5,
		Dir: filepath.Join(t.TempDir(), "load")}
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "aborted", sum.Stopped)
	assert.Less(t, sum.Requests, uint64(200), "stopped soon after the minimum of 100, not after 600")
	assert.GreaterOrEqual(t, sum.Requests, uint64(DefaultAbortMinRequests))
	assert.Contains(t, sum.Reason, "--abort-error-rate")
}

func TestPreflightRefusesBadCredentialsAndNoAnswer(t *testing.T) {
	s := startMock(t)
	cfg := baseConfig(t, s, ModeIssuance)
	cfg.ClientSecret = "wrong"
	_, err := Run(context.Background(), cfg)
	var pe *PreflightError
	require.ErrorAs(t, err, &pe)
	assert.False(t, pe.Unreachable)
	assert.Contains(t, pe.Error(), "refused the credentials")

	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	cfg = baseConfig(t, s, ModeIssuance)
	cfg.TokenURL = url
	_, err = Run(context.Background(), cfg)
	require.ErrorAs(t, err, &pe)
	assert.True(t, pe.Unreachable)
}

func TestRampReportsStepsAndTheHighestRateHeld(t *testing.T) {
	s := startMock(t, mock.WithPolicy(mock.PolicyCached))
	cfg := baseConfig(t, s, ModeRamp)
	cfg.From, cfg.To, cfg.Steps, cfg.Duration = 20, 100, 3, 1500*time.Millisecond
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, sum.Steps, 3)
	assert.InDelta(t, 20, sum.Steps[0].FromRate, 1e-9)
	assert.InDelta(t, 100, sum.Steps[2].ToRate, 1e-9)
	assert.Less(t, sum.Steps[0].Requests, sum.Steps[2].Requests, "the rate rises")
	require.NotNil(t, sum.HighestRate)
	assert.Greater(t, *sum.HighestRate, 0.0)

	// A threshold no step can hold: nothing held, the run fails.
	cfg.Dir = filepath.Join(t.TempDir(), "load")
	cfg.Thresholds, _ = ParseThresholds([]string{"p50<1ns"}, ModeRamp)
	sum, err = Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, 0.0, *sum.HighestRate)
	assert.Equal(t, "failed", sum.Result)
	for _, st := range sum.Steps {
		assert.False(t, st.Held)
	}
}

func TestMergeSumsTheTokenCachesOfCachedRuns(t *testing.T) {
	s := startMock(t, mock.WithTokenTTL(2*time.Second))
	var files []string
	var fetches int64
	var lifetimes float64
	for i, d := range []time.Duration{1500 * time.Millisecond, 3 * time.Second} {
		cfg := baseConfig(t, s, ModeCached)
		cfg.Duration = d
		cfg.Name = "gen-" + string(rune('0'+i))
		sum, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		require.NotNil(t, sum.Cache)
		fetches += sum.Cache.TokenFetches
		lifetimes += sum.Cache.Lifetimes
		files = append(files, filepath.Join(cfg.Dir, evidence.ResultsFile))
	}
	m, err := Merge(files)
	require.NoError(t, err)
	require.NotNil(t, m.Cache)
	assert.Equal(t, 2, m.Cache.Instances)
	assert.Equal(t, fetches, m.Cache.TokenFetches)
	assert.InDelta(t, lifetimes, m.Cache.Lifetimes, 1e-9)
	assert.InDelta(t, 2.25, m.Cache.Lifetimes, 0.15, "0.75 + 1.5 lifetimes of 2 s")
	assert.InDelta(t, 2000, m.Cache.TokenLifetimeMeanMS, 100, "the mean of two 2 s means")
	assert.InDelta(t, float64(fetches)/lifetimes, m.Cache.FetchesPerLifetime, 1e-9)
}

func TestMergeCombinesGenerators(t *testing.T) {
	s := startMock(t, mock.WithPolicy(mock.PolicyCached))
	var files []string
	var total uint64
	for i := 0; i < 2; i++ {
		cfg := baseConfig(t, s, ModeIssuance)
		cfg.Duration = 400 * time.Millisecond
		cfg.Name = "gen-" + string(rune('0'+i))
		sum, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		total += sum.Requests
		files = append(files, filepath.Join(cfg.Dir, evidence.ResultsFile))
	}
	m, err := Merge(files)
	require.NoError(t, err)
	assert.Equal(t, "merged", m.Mode)
	assert.Equal(t, total, m.Requests)
	assert.Equal(t, int(total), m.StatusCodes["200"])
	assert.Equal(t, files, m.Sources)
	assert.Equal(t, "passed", m.Result)

	_, err = Merge([]string{filepath.Join(t.TempDir(), "none.bin")})
	assert.Error(t, err)
	bad := filepath.Join(t.TempDir(), "bad.bin")
	require.NoError(t, os.WriteFile(bad, []byte("not gob"), 0o644))
	_, err = Merge([]string{bad})
	assert.ErrorContains(t, err, "not a Vegeta results file")
}

// A ramp step measures its own schedule lag, so a lag_p99 threshold is judged per step (it
// was "not measured", failing every step).
func TestRampJudgesLagP99PerStep(t *testing.T) {
	s := startMock(t, mock.WithPolicy(mock.PolicyCached))
	cfg := baseConfig(t, s, ModeRamp)
	cfg.From, cfg.To, cfg.Steps, cfg.Duration = 20, 100, 3, 1500*time.Millisecond
	th, err := ParseThresholds([]string{"lag_p99<10s"}, ModeRamp)
	require.NoError(t, err)
	cfg.Thresholds = th
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, sum.Steps, 3)
	for _, st := range sum.Steps {
		assert.Positive(t, st.Requests)
		for _, f := range st.Failed {
			assert.NotContains(t, f, "lag_p99", "step %d", st.Index)
		}
	}
	require.NotNil(t, sum.HighestRate)
	assert.Greater(t, *sum.HighestRate, 0.0, sum.Reason)
}

// Merge reads results files in any encoding Vegeta writes, as `vegeta report` does.
func TestMergeReadsJSONAndCSVResults(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	results := []vegeta.Result{
		{Attack: "a", Seq: 0, Code: 200, Timestamp: start, Latency: time.Millisecond, Method: "POST", URL: "http://x/token"},
		{Attack: "a", Seq: 1, Code: 429, Timestamp: start.Add(time.Second), Latency: time.Millisecond, Error: "429 Too Many Requests", Method: "POST", URL: "http://x/token"},
	}
	dir := t.TempDir()
	var files []string
	for name, enc := range map[string]func(io.Writer) vegeta.Encoder{"r.json": vegeta.NewJSONEncoder, "r.csv": vegeta.NewCSVEncoder} {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(t, err)
		e := enc(f)
		for i := range results {
			require.NoError(t, e.Encode(&results[i]))
		}
		require.NoError(t, f.Close())
		files = append(files, f.Name())
	}
	empty := filepath.Join(dir, "empty.bin")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	files = append(files, empty)
	m, err := Merge(files)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), m.Requests)
	assert.Equal(t, 2, m.StatusCodes["200"])
	assert.Equal(t, int64(2), m.RateLimited.Responses)
	assert.Equal(t, []evidence.ErrorCount{{Error: "429 Too Many Requests", Count: 2}}, m.Errors)
}

func TestErrorTallyCountsKindsInOrderThenOther(t *testing.T) {
	var tally errorTally
	for i := 0; i < maxErrorKinds; i++ {
		assert.Equal(t, errorKind("kind "+string(rune('a'+i))), tally.add(errorKind("kind "+string(rune('a'+i)))))
	}
	assert.Equal(t, "kind a", tally.add("kind a"), "a kind already counted")
	assert.Equal(t, "other errors", tally.add("one kind too many"))
	assert.Equal(t, "other errors", tally.add("and another"))
	got := tally.counts()
	require.Len(t, got, maxErrorKinds+1)
	assert.Equal(t, evidence.ErrorCount{Error: "kind a", Count: 2}, got[0])
	assert.Equal(t, evidence.ErrorCount{Error: "kind b", Count: 1}, got[1])
	assert.Equal(t, evidence.ErrorCount{Error: "other errors", Count: 2}, got[maxErrorKinds])
}

// Every request of a run, token requests and API calls, says who called.
func TestEveryRequestCarriesTheUserAgent(t *testing.T) {
	var (
		mu     sync.Mutex
		agents = map[string][]string{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.URL.Path] = append(agents[r.URL.Path], r.Header.Get("User-Agent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"opaque","token_type":"Bearer","expires_in":1}`))
	}))
	defer srv.Close()
	for _, mode := range []Mode{ModeIssuance, ModeCached, ModeRamp} {
		cfg := validConfig(mode)
		cfg.TokenURL, cfg.APIURL, cfg.Duration = srv.URL+"/token", srv.URL+"/api", 1500*time.Millisecond
		cfg.Rate, cfg.From, cfg.To, cfg.Steps = vegeta.Rate{Freq: 20, Per: time.Second}, 10, 20, 1
		cfg.ClientID, cfg.ClientSecret = "ua-client", "ua-secret-value"
		cfg.Dir = filepath.Join(t.TempDir(), "load")
		_, err := Run(context.Background(), cfg)
		require.NoError(t, err, mode)
	}
	mu.Lock()
	defer mu.Unlock()
	want := buildinfo.UserAgent()
	require.Greater(t, len(agents["/token"]), 2, "token requests: the attacks, the preflights, the cache's fetches")
	require.NotEmpty(t, agents["/api"])
	for path, got := range agents {
		for _, ua := range got {
			assert.Equal(t, want, ua, path)
		}
	}
}
