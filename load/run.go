package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/tokencache"
)

// ErrUnreachable is returned (wrapped) when no request got an answer.
var ErrUnreachable = errors.New("the target could not be reached")

// PreflightError is the answer to the request made before the attack, when it shows the
// attack would be pointless: no answer (Unreachable) or credentials refused.
type PreflightError struct {
	Unreachable bool
	Msg         string
}

func (e *PreflightError) Error() string { return e.Msg }

// ParseRate reads a rate as Vegeta's command line does: "N" per second, or "N/DURATION"
// ("50/1s", "1/2s", "10/m"). 0 means as fast as possible.
func ParseRate(s string) (vegeta.Rate, error) {
	ps := strings.SplitN(strings.TrimSpace(s), "/", 2)
	if len(ps) == 1 {
		ps = append(ps, "1s")
	}
	n, err := strconv.Atoi(ps[0])
	if err != nil || n < 0 {
		return vegeta.Rate{}, fmt.Errorf("rate %q: want N or N/DURATION, e.g. 100 or 50/1s", s)
	}
	if n == 0 {
		return vegeta.Rate{}, nil
	}
	switch ps[1] {
	case "ns", "us", "µs", "ms", "s", "m", "h":
		ps[1] = "1" + ps[1]
	}
	per, err := time.ParseDuration(ps[1])
	if err != nil || per <= 0 {
		return vegeta.Rate{}, fmt.Errorf("rate %q: %q is not a positive duration", s, ps[1])
	}
	return vegeta.Rate{Freq: n, Per: per}, nil
}

// PerSecond is a rate in requests per second (0 for as fast as possible).
func PerSecond(r vegeta.Rate) float64 {
	if r.Freq <= 0 || r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

// newTransport is the HTTP transport of a run: no proxy, the run's roots, HTTP/2 only when asked,
// and every connection dialled through conns.
func newTransport(c *Config, conns *connTracker) *http.Transport {
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second, Timeout: c.Timeout}).DialContext
	}
	n := c.Connections
	if n <= 0 {
		n = vegeta.DefaultConnections
	}
	tr := &http.Transport{
		DialContext:         conns.dialer(dial),
		TLSClientConfig:     &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: n,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if c.HTTP2 {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return tr
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// errRunOver is the error of a dial after the run's connections were closed.
var errRunOver = errors.New("the run is over")

// connTracker knows every open connection of a run, so that a grace period after the run stops
// it can close them all and a hung request cannot hold up Ctrl-C for its whole timeout. It works
// per connection: a RoundTripper giving each request a cancellable context would cost every
// request a timer and a goroutine in net/http (it is not one of the transports net/http knows),
// about a tenth of the highest rate on a small machine.
type connTracker struct {
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func newConnTracker() *connTracker { return &connTracker{conns: map[*trackedConn]struct{}{}} }

type trackedConn struct {
	net.Conn
	t *connTracker
}

func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	delete(c.t.conns, c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}

func (t *connTracker) dialer(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, t: t}
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.closed {
			c.Close()
			return nil, errRunOver
		}
		t.conns[tc] = struct{}{}
		return tc, nil
	}
}

// closeAll closes every open connection and refuses new ones.
func (t *connTracker) closeAll() {
	t.mu.Lock()
	t.closed = true
	open := make([]net.Conn, 0, len(t.conns))
	for c := range t.conns {
		open = append(open, c.Conn)
	}
	clear(t.conns)
	t.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

// tokenTarget is the token request: POST, Basic auth (RFC 6749 §2.3.1 encoding), form body.
func tokenTarget(c *Config) vegeta.Target {
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ClientID) + ":" + url.QueryEscape(c.ClientSecret)))
	h := http.Header{}
	h.Set("Authorization", "Basic "+basic)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", c.UserAgent)
	return vegeta.Target{Method: http.MethodPost, URL: c.TokenURL, Body: []byte("grant_type=client_credentials"), Header: h}
}

// preflight sends one token request and refuses to start when nothing answers or the
// credentials are refused.
func preflight(ctx context.Context, hc *http.Client, t vegeta.Target) error {
	req, err := t.Request()
	if err != nil {
		return &PreflightError{Msg: fmt.Sprintf("token request: %v", err)}
	}
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return &PreflightError{Unreachable: true, Msg: fmt.Sprintf("the token endpoint did not answer: %v", err)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return &PreflightError{Msg: fmt.Sprintf("the token endpoint refused the credentials (%s %s): check the client ID and secret", resp.Status, e.Error)}
	}
	return nil
}

// Run performs one load run, writing results.bin, summary.json and plot.html into cfg.Dir,
// and returns the summary. It stops early, still writing what it measured, when ctx is
// done (evidence.LoadSummary.Stopped "interrupted") or errors pass AbortErrorRate ("aborted"). The error is
// a *ConfigError when cfg is refused (nothing was dialled), a *PreflightError when the run did
// not start, wraps ErrUnreachable when nothing answered, and is anything else when the harness
// failed (files not written).
func Run(ctx context.Context, cfg Config) (*evidence.LoadSummary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output directory: %w", err)
	}
	sum := newSummary(&cfg)

	conns := newConnTracker()
	defer conns.closeAll()
	base := newTransport(&cfg, conns)
	plain := &http.Client{Transport: base, Timeout: cfg.Timeout, CheckRedirect: noRedirect}
	target, inner, cache, err := prepare(ctx, &cfg, sum, plain)
	if err != nil {
		return nil, err
	}
	var rt http.RoundTripper = base
	if cache != nil {
		defer cache.close()
		rt = cache.transport(base)
	}
	client := &http.Client{Transport: rt, Timeout: cfg.Timeout, CheckRedirect: noRedirect}

	out, err := newResultsFile(cfg.Dir)
	if err != nil {
		return nil, err
	}
	defer out.discard()
	pacer := newBackoffPacer(ctx, inner)
	col := newCollector(&cfg, pacer, vegeta.NewEncoder(out.w))
	sum.Started = time.Now().UTC()
	attack(ctx, &cfg, client, target, pacer, col, conns)
	sum.Finished = time.Now().UTC()

	// Files first: what was measured is kept whatever else happens.
	if err := out.keep(); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, evidence.ResultsFile)
	if err := col.writePlot(filepath.Join(cfg.Dir, evidence.PlotFile), cfg.Name); err != nil {
		sum.Problems = append(sum.Problems, "plot: "+err.Error())
	} else {
		sum.Files = append(sum.Files, evidence.PlotFile)
	}
	sum.Files = append(sum.Files, evidence.LoadSummaryName)

	col.finish(sum)
	if cache != nil {
		sum.Cache = cache.figures(sum.Requests, time.Duration(sum.DurationMS*float64(time.Millisecond)))
		if cfg.ServerCounters != nil {
			if sc, err := cfg.ServerCounters(context.Background()); err == nil {
				sum.Cache.Server = sc
			}
		}
	}
	switch {
	case ctx.Err() != nil:
		sum.Stopped = "interrupted"
	case col.aborted:
		sum.Stopped = "aborted"
	}
	decide(sum, &cfg, col)
	if err := sum.WriteJSON(filepath.Join(cfg.Dir, evidence.LoadSummaryName)); err != nil {
		return nil, err
	}
	if sum.Requests > 0 && uint64(sum.StatusCodes["0"]) == sum.Requests {
		return sum, fmt.Errorf("%w: none of %d requests got an answer (%s)", ErrUnreachable, sum.Requests, firstError(sum))
	}
	return sum, nil
}

// setDefaults fills the settings left zero with their defaults.
func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = string(c.Mode)
	}
	if c.AbortMinRequests <= 0 {
		c.AbortMinRequests = DefaultAbortMinRequests
	}
	if c.LateAfter <= 0 {
		c.LateAfter = DefaultLateAfter
	}
	if c.Workers == 0 {
		c.Workers = vegeta.DefaultWorkers
	}
	if c.Timeout <= 0 {
		c.Timeout = vegeta.DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = buildinfo.UserAgent() // once per run: it reads the build information
	}
	if c.RefreshAt > 0 {
		c.CacheOptions = append(c.CacheOptions[:len(c.CacheOptions):len(c.CacheOptions)], tokencache.RefreshAt(c.RefreshAt))
	}
}

// newSummary is the summary of a run about to start: what it was asked to do.
func newSummary(cfg *Config) *evidence.LoadSummary {
	sum := &evidence.LoadSummary{Schema: evidence.LoadSummarySchema, Mode: string(cfg.Mode), Name: cfg.Name, TokenURL: cfg.TokenURL, ClientID: cfg.ClientID,
		Plan: evidence.Plan{DurationMS: msOf(cfg.Duration), Workers: cfg.Workers, MaxWorkers: cfg.MaxWorkers, Connections: cfg.Connections, HTTP2: cfg.HTTP2}}
	if sum.Plan.Connections <= 0 {
		sum.Plan.Connections = vegeta.DefaultConnections
	}
	if cfg.Mode.Ramps() {
		sum.Plan.From, sum.Plan.To, sum.Plan.Steps = cfg.From, cfg.To, cfg.Steps
	} else {
		sum.Plan.Rate = fmt.Sprintf("%d/%s", cfg.Rate.Freq, cfg.Rate.Per)
	}
	return sum
}

// prepare checks the target answers (the preflight request, or warming the token caches of a
// cached run) and returns what the attack sends, at which pace, and the caches.
func prepare(ctx context.Context, cfg *Config, sum *evidence.LoadSummary, plain *http.Client) (vegeta.Target, vegeta.Pacer, *cacheRun, error) {
	var inner vegeta.Pacer = cfg.Rate
	if cfg.Mode.Ramps() {
		slope := (cfg.To - cfg.From) / cfg.Duration.Seconds()
		inner = vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: int(cfg.From * 1000), Per: 1000 * time.Second}, Slope: slope}
	}
	if !cfg.Mode.CallsAPI() {
		target := tokenTarget(cfg)
		sum.Target = cfg.TokenURL
		return target, inner, nil, preflight(ctx, plain, target)
	}
	target := vegeta.Target{Method: http.MethodGet, URL: cfg.APIURL,
		Header: http.Header{"Accept": {"application/json"}, "User-Agent": {cfg.UserAgent}}}
	sum.Target, sum.APIURL = cfg.APIURL, cfg.APIURL
	cache, err := startCaches(ctx, cfg, plain)
	if err != nil {
		return target, nil, nil, err
	}
	sum.Plan.Instances = len(cache.caches)
	return target, inner, cache, nil
}

// maxAnswerBody is how much of each answer Vegeta keeps for the analysis: a token answer is a
// few KB, and Vegeta's default (no limit) would hold a hostile server's 200 MB answer in memory
// once per request in flight. The rest of a larger answer is read and dropped.
const maxAnswerBody = 64 << 10

// attack runs Vegeta's attack and hands every result to col, until the duration is over, ctx
// is done (the attack stops; in-flight requests get requestGrace) or col says to abort.
func attack(ctx context.Context, cfg *Config, client *http.Client, target vegeta.Target, pacer *backoffPacer, col *collector, conns *connTracker) {
	opts := []func(*vegeta.Attacker){vegeta.Client(client), vegeta.Workers(cfg.Workers), vegeta.MaxBody(maxAnswerBody)}
	if cfg.MaxWorkers > 0 {
		opts = append(opts, vegeta.MaxWorkers(cfg.MaxWorkers))
	}
	atk := vegeta.NewAttacker(opts...) // a new Attacker per run: they cannot be reused
	var prog *progress
	if cfg.Progress != nil {
		prog = startProgress(cfg.Progress, cfg.ProgressEvery, cfg.Duration, col)
	}
	stop := func() {
		atk.Stop()
		time.AfterFunc(requestGrace, conns.closeAll)
	}
	stopAfter := context.AfterFunc(ctx, stop)
	defer stopAfter()
	results := atk.Attack(vegeta.NewStaticTargeter(target), pacer, cfg.Duration, cfg.Name)
	// A buffer between Vegeta's workers and the analysis: a worker hands its result over and
	// goes back to work at once instead of waiting for the one analysing goroutine.
	buffered := make(chan *vegeta.Result, resultBuffer)
	go func() {
		defer close(buffered)
		for r := range results {
			buffered <- r
		}
	}()
	for r := range buffered {
		if col.add(r) && !col.aborted {
			col.aborted = true
			stop()
		}
	}
	if prog != nil {
		col.publish()
		prog.stop()
	}
}

// resultsFile is results.bin being written: a temporary file renamed into place by keep, so a
// run that fails leaves no half-written results.bin.
type resultsFile struct {
	f *os.File
	w *bufio.Writer
}

func newResultsFile(dir string) (*resultsFile, error) {
	f, err := os.CreateTemp(dir, "."+evidence.ResultsFile+".*")
	if err != nil {
		return nil, err
	}
	return &resultsFile{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// keep flushes and renames the file into place as results.bin.
func (r *resultsFile) keep() error {
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", evidence.ResultsFile, err)
	}
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", evidence.ResultsFile, err)
	}
	return os.Rename(r.f.Name(), filepath.Join(filepath.Dir(r.f.Name()), evidence.ResultsFile))
}

// discard removes the temporary file (nothing once kept).
func (r *resultsFile) discard() {
	r.f.Close()
	os.Remove(r.f.Name())
}

func firstError(s *evidence.LoadSummary) string {
	if len(s.Errors) > 0 {
		return s.Errors[0].Error
	}
	return "no error recorded"
}

// decide evaluates the thresholds, and whether the generator kept up, and sets Result and
// Reason.
func decide(sum *evidence.LoadSummary, cfg *Config, col *collector) {
	var failed []string
	if cfg.Mode.Ramps() {
		sum.Steps, sum.HighestRate = col.rampSteps(cfg)
		if sum.HighestRate == nil || *sum.HighestRate == 0 {
			failed = append(failed, "no ramp step held its thresholds")
		}
	} else {
		for _, t := range cfg.Thresholds {
			c := t.Evaluate(sum)
			sum.Thresholds = append(sum.Thresholds, c)
			if !c.Held {
				failed = append(failed, fmt.Sprintf("threshold %s failed: measured %s", c.Expr, c.Measured))
			}
		}
		if sum.Stopped == "" { // a stopped run fails anyway, for its own reason
			if unsent, active, ok := col.pacer.unsent(cfg.Duration, sum.Requests); ok {
				p := pace{asked: PerSecond(cfg.Rate), active: active, sent: sum.Requests, unsent: unsent, lag: sum.ScheduleLag}
				if why := p.shortfall(cfg.Thresholds); why != "" {
					failed = append(failed, why)
				}
			}
		}
	}
	switch sum.Stopped {
	case "interrupted":
		failed = append([]string{"interrupted before the planned duration"}, failed...)
	case "aborted":
		failed = append([]string{fmt.Sprintf("stopped after %d requests: more than %.0f%% of the last %d failed (--abort-error-rate)", sum.Requests, cfg.AbortErrorRate*100, abortWindow)}, failed...)
	}
	sum.Result = evidence.Passed
	if len(failed) > 0 {
		sum.Result = evidence.Failed
		sum.Reason = strings.Join(failed, "; ")
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 1 s when absent or bad.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Second
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return time.Second
		}
		return time.Duration(min(n, 3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, time.Hour)
		}
		return 0
	}
	return time.Second
}

// collector analyses each result as it arrives, streams it to results.bin without its body
// and headers, and keeps only bounded state.
type collector struct {
	cfg      *Config
	pacer    *backoffPacer
	enc      vegeta.Encoder
	encErr   error
	m        vegeta.Metrics
	plot     *plot.Plot
	errs     errorTally
	lag      vegeta.LatencyMetrics
	lagN     int64
	late     int64
	tokens   *tokenStats
	window   [abortWindow]bool
	wn, wbad int
	aborted  bool
	steps    []*stepStats
	began    time.Time // the attack's start (ramp), once known: it never changes once set

	mu   sync.Mutex // guards snap
	snap snapshot
	last time.Time
}

type snapshot struct {
	requests, ok uint64
	p99          time.Duration
}

type stepStats struct {
	m    vegeta.Metrics
	lag  vegeta.LatencyMetrics // schedule lag, for a lag_p99 threshold
	lagN int64
}

func newCollector(cfg *Config, p *backoffPacer, enc vegeta.Encoder) *collector {
	c := &collector{cfg: cfg, pacer: p, enc: enc,
		plot: plot.New(plot.Title("authzcheck load "+string(cfg.Mode)), plot.Downsample(4000))}
	if !cfg.Mode.CallsAPI() {
		c.tokens = newTokenStats()
	}
	if cfg.Mode.Ramps() {
		c.steps = make([]*stepStats, cfg.Steps)
		for i := range c.steps {
			c.steps[i] = &stepStats{}
		}
	}
	return c
}

// add takes one result; it reports whether the run should abort.
func (c *collector) add(r *vegeta.Result) bool {
	if r.Code == http.StatusTooManyRequests {
		c.pacer.RetryAfter(retryAfter(r.Headers, time.Now()))
	}
	if c.tokens != nil && r.Code == http.StatusOK {
		c.tokens.add(r.Body, r.End())
	}
	lag, lagOK := time.Duration(0), false
	if at, ok := c.pacer.planned(r.Seq); ok {
		lag, lagOK = max(r.Timestamp.Sub(at), 0), true
		c.lag.Add(lag)
		c.lagN++
		if lag > c.cfg.LateAfter {
			c.late++
		}
	}
	r.Body, r.Headers = nil, nil
	if r.Error != "" {
		// Bounded and folded before anything is written: results.bin keeps no more of an error
		// than the summary does.
		r.Error = errorKind(r.Error)
	}
	if c.encErr == nil {
		c.encErr = c.enc.Encode(r)
	}
	if r.Error != "" {
		r.Error = c.errs.add(r.Error)
	}
	c.m.Add(r)
	_ = c.plot.Add(r)
	if c.steps != nil {
		if c.began.IsZero() {
			c.began, _ = c.pacer.begun()
		}
		if !c.began.IsZero() {
			i := int(float64(r.Timestamp.Sub(c.began)) / float64(c.cfg.Duration) * float64(len(c.steps)))
			i = min(max(i, 0), len(c.steps)-1)
			st := c.steps[i]
			st.m.Add(r)
			if lagOK {
				st.lag.Add(lag)
				st.lagN++
			}
		}
	}
	if c.cfg.Progress != nil {
		if now := time.Now(); now.Sub(c.last) >= 200*time.Millisecond {
			c.last = now
			c.publish()
		}
	}
	// The abort window: did this result fail (429s excluded, they are backed off from)?
	bad := (r.Code < 200 || r.Code >= 400) && r.Code != http.StatusTooManyRequests
	if c.wn >= abortWindow {
		if c.window[c.wn%abortWindow] {
			c.wbad--
		}
	}
	c.window[c.wn%abortWindow] = bad
	if bad {
		c.wbad++
	}
	c.wn++
	if c.cfg.AbortErrorRate > 0 && c.wn >= c.cfg.AbortMinRequests {
		n := min(c.wn, abortWindow)
		return float64(c.wbad)/float64(n) > c.cfg.AbortErrorRate
	}
	return false
}

func (c *collector) publish() {
	s := snapshot{requests: c.m.Requests, p99: c.m.Latencies.Quantile(0.99)}
	for code, n := range c.m.StatusCodes {
		if len(code) == 3 && (code[0] == '2' || code[0] == '3') {
			s.ok += uint64(n)
		}
	}
	c.mu.Lock()
	c.snap = s
	c.mu.Unlock()
}

func (c *collector) snapshot() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

func (c *collector) writePlot(path, title string) error {
	if c.encErr != nil {
		return fmt.Errorf("results were not all written: %w", c.encErr)
	}
	c.plot.Close()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriter(f)
	if _, err := c.plot.WriteTo(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// finish fills sum with the collected figures.
func (c *collector) finish(sum *evidence.LoadSummary) {
	c.m.Close()
	pauses, paused := c.pacer.stats()
	sum.RateLimited = evidence.RateLimited{Pauses: pauses, PausedMS: msOf(paused)}
	fillFromMetrics(sum, &c.m)
	sum.Errors = c.errs.counts()
	if c.lagN > 0 {
		sum.ScheduleLag = &evidence.ScheduleLag{P50MS: msOf(c.lag.Quantile(0.5)), P99MS: msOf(c.lag.Quantile(0.99)), MaxMS: msOf(c.lag.Max),
			Late: c.late, LateAfterMS: msOf(c.cfg.LateAfter)}
	}
	if c.tokens != nil {
		sum.Tokens = c.tokens.figures()
	}
	if c.encErr != nil {
		sum.Problems = append(sum.Problems, "results.bin: "+c.encErr.Error())
	}
}

// rampSteps evaluates each ramp step against the thresholds (and whether it kept up with its
// planned rate) and returns the steps and the highest rate that held.
func (c *collector) rampSteps(cfg *Config) ([]evidence.Step, *float64) {
	stepDur := cfg.Duration / time.Duration(len(c.steps))
	slope := (cfg.To - cfg.From) / cfg.Duration.Seconds()
	var out []evidence.Step
	highest := 0.0
	holding := true
	thresholds := cfg.Thresholds
	if len(thresholds) == 0 {
		thresholds = DefaultRampThresholds()
	}
	for i, st := range c.steps {
		st.m.Close()
		lo := cfg.From + slope*stepDur.Seconds()*float64(i)
		hi := cfg.From + slope*stepDur.Seconds()*float64(i+1)
		s := evidence.Step{Index: i, FromRate: lo, ToRate: hi, Requests: st.m.Requests, Success: st.m.Success, LatencyMS: latenciesOf(&st.m)}
		s.AchievedRate = float64(st.m.Requests) / stepDur.Seconds()
		view := &evidence.LoadSummary{LatencyMS: s.LatencyMS, Success: st.m.Success, Throughput: st.m.Throughput, Rate: s.AchievedRate}
		if st.m.Requests > 0 {
			view.RateLimited.Ratio = float64(st.m.StatusCodes[code429]) / float64(st.m.Requests)
		}
		if st.lagN > 0 {
			view.ScheduleLag = &evidence.ScheduleLag{P50MS: msOf(st.lag.Quantile(0.5)), P99MS: msOf(st.lag.Quantile(0.99)), MaxMS: msOf(st.lag.Max)}
		}
		if want := (lo + hi) / 2; s.AchievedRate < 0.95*want {
			s.Failed = append(s.Failed, fmt.Sprintf("sent %.1f/s of a planned %.1f/s", s.AchievedRate, want))
		}
		for _, t := range thresholds {
			if ch := t.Evaluate(view); !ch.Held {
				s.Failed = append(s.Failed, fmt.Sprintf("%s (measured %s)", ch.Expr, ch.Measured))
			}
		}
		s.Held = len(s.Failed) == 0 && st.m.Requests > 0
		if !s.Held {
			holding = false
		}
		if holding {
			highest = hi
		}
		out = append(out, s)
	}
	return out, &highest
}

// start is when the attack began, once known.
func (b *backoffPacer) begun() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.began, !b.began.IsZero()
}

// DefaultRampThresholds are a ramp step's thresholds when none are given: success>=0.99.
func DefaultRampThresholds() []Threshold {
	t, _ := ParseThreshold("success>=0.99")
	return []Threshold{t}
}

var (
	digits     = regexp.MustCompile(`[0-9]+`)
	statusLine = regexp.MustCompile(`^[1-5][0-9][0-9] [A-Za-z -]+$`)
)

// errorTally counts errors by kind, in the order first seen; kinds beyond maxErrorKinds are
// counted together as "other errors".
type errorTally struct {
	n     map[string]int64
	order []string
	other int64
}

// add counts one error of kind (an errorKind) and returns the kind it was counted under.
func (t *errorTally) add(kind string) string {
	if n, ok := t.n[kind]; ok {
		t.n[kind] = n + 1
		return kind
	}
	if len(t.order) >= maxErrorKinds {
		t.other++
		return otherErrors
	}
	if t.n == nil {
		t.n = map[string]int64{}
	}
	t.n[kind] = 1
	t.order = append(t.order, kind)
	return kind
}

// counts lists the kinds and their counts, "other errors" last.
func (t *errorTally) counts() []evidence.ErrorCount {
	var out []evidence.ErrorCount
	for _, e := range t.order {
		out = append(out, evidence.ErrorCount{Error: e, Count: t.n[e]})
	}
	if t.other > 0 {
		out = append(out, evidence.ErrorCount{Error: otherErrors, Count: t.other})
	}
	return out
}

const otherErrors = "other errors"

// errorKind folds the numbers of an error message (ports, times, counts) so that errors of one
// kind are counted together: "read tcp 127.0.0.1:N->..." is one kind however many ports.
func errorKind(e string) string {
	if len(e) > 300 {
		e = e[:300]
	}
	if statusLine.MatchString(e) {
		return e // Vegeta's "429 Too Many Requests": the status is the kind
	}
	return digits.ReplaceAllString(e, "N")
}
