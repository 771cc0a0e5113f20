package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/load"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/tokencache"
)

const loadUsage = `Usage: authzcheck load issuance|cached|ramp [flags]

  issuance  POST the token endpoint at --rate for --duration: latency, throughput, distinct
            tokens and the server's policy (reissue or cached), expires_in drift, schedule lag
  cached    GET a Bearer API (--api-url; the mock's /products by default) through tokencache:
            token fetches per API call, refresh lead times, stalls, 401 retries
  ramp      the token endpoint at a rate rising linearly --from to --to over --duration, in
            --steps; the highest rate at which the thresholds held

Default target: the embedded mock. Against any other endpoint use the same flags and
environment as 'conformance' (AUTHZ_TOKEN_URL, AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET, ...);
a non-loopback target needs --allow-remote and is capped at --max-rate (20/s unless raised).
Results go to DIR/load/: results.bin (Vegeta encoding: 'vegeta report' reads it),
summary.json, plot.html.

Exit codes: 0 thresholds held; 1 a threshold failed, the run aborted on errors, or (ramp) no
step held; 2 bad usage; 3 the target could not be reached, the run was interrupted, or the
harness failed.

Flags:
`

// loadMemoryLimit is the Go runtime's soft memory limit during a load run (see runLoad).
const loadMemoryLimit = 96 << 20

// loadGCPercent is the Go runtime's GOGC during a load run (see runLoad).
const loadGCPercent = 400

// runLoad is the 'load' subcommand: flags in, load.Run, reports.Finalize, the text report out.
func runLoad(env *cli.Env) error {
	if len(env.Args) == 0 {
		return cli.Usagef("missing the load mode: issuance, cached or ramp; run 'authzcheck load -h'")
	}
	mode := env.Args[0]
	switch mode {
	case "-h", "--help", "help":
		fs, _ := loadFlags()
		printFlags(env.Stdout, loadUsage, fs)
		return nil
	case load.ModeIssuance, load.ModeCached, load.ModeRamp:
	default:
		return cli.Usagef("unknown load mode %q; want issuance, cached or ramp", mode)
	}
	fs, lf := loadFlags()
	if err := fs.Parse(env.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(env.Stdout, loadUsage, fs)
			return nil
		}
		return cli.Usagef("%v; run 'authzcheck load -h' for the flags", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q; run 'authzcheck load -h' for the flags", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := load.Config{Mode: mode, Duration: lf.duration, From: lf.from, To: lf.to, Steps: lf.steps,
		Workers: lf.workers, MaxWorkers: lf.maxWorkers, Connections: lf.connections, HTTP2: lf.http2,
		Instances: lf.instances, AbortErrorRate: lf.abortErrorRate, Name: lf.name}
	rate, err := load.ParseRate(lf.rate)
	if err != nil {
		return cli.Usagef("--rate: %v", err)
	}
	cfg.Rate = rate
	if cfg.Thresholds, err = load.ParseThresholds(lf.thresholds, mode); err != nil {
		return cli.Usagef("--threshold: %v", err)
	}
	if lf.duration <= 0 {
		return cli.Usagef("--duration %v: must be positive, e.g. --duration 30s", lf.duration)
	}
	if lf.abortErrorRate < 0 || lf.abortErrorRate > 1 {
		return cli.Usagef("--abort-error-rate %v: want a share between 0 (off) and 1", lf.abortErrorRate)
	}
	if mode == load.ModeRamp && (lf.from <= 0 || lf.to <= lf.from || lf.steps <= 0) {
		return cli.Usagef("ramp needs 0 < --from < --to and --steps > 0 (got --from %v --to %v --steps %d)", lf.from, lf.to, lf.steps)
	}
	if cfg.Rate.Freq == 0 && mode != load.ModeRamp && lf.maxWorkers == 0 {
		return cli.Usagef("--rate 0 (as fast as possible) needs --max-workers")
	}
	if lf.instances < 1 {
		return cli.Usagef("--instances %d: at least 1", lf.instances)
	}
	if set["refresh-at"] {
		if mode != load.ModeCached {
			return cli.Usagef("--refresh-at applies only to 'load cached'")
		}
		if !(lf.refreshAt > tokencache.DefaultJitter && lf.refreshAt <= 1) {
			return cli.Usagef("--refresh-at %v: want a share of the lifetime above %v and at most 1, e.g. 0.8", lf.refreshAt, tokencache.DefaultJitter)
		}
		cfg.CacheOptions = append(cfg.CacheOptions, tokencache.RefreshAt(lf.refreshAt))
	}
	mockOpts, usedMock, err := lf.mockOptions(set)
	if err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if lf.signKey != "" {
		if key, err = reports.ReadPrivateKeyFile(lf.signKey); err != nil {
			return cli.Usagef("--sign-key: %v", err)
		}
	}
	dir := lf.out
	if dir == "" {
		dir = filepath.Join("evidence", time.Now().UTC().Format("20060102T150405Z"))
	}
	loadDir := filepath.Join(dir, "load")
	// Checked (a sealed bundle verified) before anything is sent; the run writes beside it.
	stage, err := openBundle(dir, reports.KindLoad)
	if err != nil {
		return err
	}
	defer stage.Close()

	t, err := lf.target.resolve(env, mockOpts...)
	if err != nil {
		return err
	}
	defer t.Close()
	if usedMock != "" && !t.IsMock() {
		return cli.Usagef("%s applies only to the embedded mock (--target mock)", usedMock)
	}
	if err := checkSafety(t, &cfg, lf, set); err != nil {
		return err
	}
	for _, w := range t.Warnings {
		fmt.Fprintf(env.Stderr, "authzcheck load: warning: %s\n", w)
	}
	cfg.TokenURL, cfg.APIURL, cfg.ClientID, cfg.ClientSecret = t.TokenURL, t.APIURL, t.ClientID, t.ClientSecret
	cfg.Timeout, cfg.RootCAs, cfg.Dir = t.Timeout, t.RootCAs, filepath.Join(stage.Dir(), "load")
	if t.IsMock() {
		ctl, id := t.Mock.Control(), t.ClientID
		cfg.ServerCounters = func(ctx context.Context) (*load.ServerCounters, error) {
			cs, err := ctl.Counters(ctx)
			if err != nil {
				return nil, err
			}
			c := cs[id]
			return &load.ServerCounters{TokenRequests: c.TokenRequests, TokensIssued: c.TokensIssued, APICalls: c.APICalls, Rejections: c.Rejections}, nil
		}
	}
	if !lf.quiet {
		what := t.TokenURL
		if mode == load.ModeCached {
			what = t.APIURL + " (tokens from " + t.TokenURL + ")"
		}
		if t.IsMock() {
			what += ", the embedded mock"
		}
		fmt.Fprintf(env.Stdout, "authzcheck load %s: %s for %s\n", mode, what, lf.duration)
		if env.IsTerminal {
			cfg.Progress = env.Stdout
		}
	}

	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if env.Getenv == nil || env.Getenv("GOMEMLIMIT") == "" {
		// A soft limit keeps the heap from doubling while the end of a long run renders the plot
		// and Finalize reads results.bin (tens of MB after 10 minutes at 1,000/s); the runtime
		// collects harder near it instead of growing. GOMEMLIMIT overrides it.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(loadMemoryLimit))
	}
	if env.Getenv == nil || env.Getenv("GOGC") == "" {
		// Each request allocates ~7 KB in net/http and Vegeta while the live heap stays near
		// 1 MB: with the default GOGC=100 the runtime collects twice a second even at 500/s, and
		// the requests a collection overlaps make up the p99 (the harness's p99 ran 5-15% above
		// the Vegeta command line's side by side). 400 quarters the collections; the soft limit
		// above still bounds the heap. GOGC overrides it.
		defer debug.SetGCPercent(debug.SetGCPercent(loadGCPercent))
	}
	sum, runErr := load.Run(ctx, cfg)
	var pe *load.PreflightError
	if errors.As(runErr, &pe) {
		if pe.Unreachable {
			return cli.Unreachablef("%v", pe)
		}
		return cli.Usagef("%v", pe)
	}
	if sum == nil {
		return cli.Unreachablef("load: %v", runErr)
	}
	run := reports.RunInfo{RunID: reports.NewRunID(), Kind: reports.KindLoad, Started: sum.Started, Finished: sum.Finished,
		TargetURL: t.TokenURL, ClientID: t.ClientID, Result: sum.Result}
	if mode == load.ModeCached {
		run.APIURL = t.APIURL
	}
	finErr := stage.Seal(run, reports.FinalizeOptions{SignKey: key,
		Credentials: []reports.Credential{{ID: t.ClientID, Secret: t.ClientSecret}, {ID: t.Client2ID, Secret: t.Client2Secret}}})

	if !lf.quiet {
		fmt.Fprintln(env.Stdout)
		_ = sum.WriteText(env.Stdout)
	}
	fmt.Fprintf(env.Stdout, "%s: %s load, %d requests; evidence: %s\n", strings.ToUpper(sum.Result), mode, sum.Requests, loadDir)
	switch {
	case runErr != nil && errors.Is(runErr, load.ErrUnreachable):
		return cli.Unreachablef("%v (what was measured is in %s)", runErr, loadDir)
	case runErr != nil:
		return cli.Unreachablef("%v", runErr)
	case sum.Stopped == "interrupted":
		return cli.Unreachablef("interrupted after %d requests; what was measured is in %s", sum.Requests, loadDir)
	case finErr != nil:
		return cli.Unreachablef("sealing the evidence: %v", finErr)
	case sum.Result != "passed":
		return cli.Failedf("%s", sum.Reason)
	}
	return nil
}

// loadFlagValues are the load flags besides the shared target flags.
type loadFlagValues struct {
	target                           *targetFlags
	rate, out, name, signKey         string
	duration                         time.Duration
	from, to                         float64
	steps, connections, instances    int
	workers, maxWorkers              uint64
	http2, quiet, allowRemote        bool
	maxRate, abortErrorRate          float64
	refreshAt                        float64
	thresholds                       multiFlag
	mockTTL, mockRetryAfter, mockLat time.Duration
	mockPolicy                       string
	mockRevoke                       bool
	mockRateLimit, mockErrorRate     float64
}

func loadFlags() (*flag.FlagSet, *loadFlagValues) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lf := &loadFlagValues{target: addTargetFlags(fs)}
	fs.StringVar(&lf.rate, "rate", "50", "requests per second, or N/DURATION as Vegeta writes it (50/1s); 0 = as fast as possible (needs --max-workers)")
	fs.DurationVar(&lf.duration, "duration", 30*time.Second, "how long to send requests")
	fs.Float64Var(&lf.from, "from", 10, "ramp: starting rate per second")
	fs.Float64Var(&lf.to, "to", 100, "ramp: final rate per second")
	fs.IntVar(&lf.steps, "steps", 5, "ramp: steps the ramp is judged in")
	fs.StringVar(&lf.out, "out", "", "evidence directory; results go to DIR/load/ (default evidence/<UTC timestamp>/)")
	fs.StringVar(&lf.name, "name", "", "attack name in results.bin, e.g. gen-3 when merging several generators (default: the mode)")
	fs.StringVar(&lf.signKey, "sign-key", "", "ed25519 private key (PEM) to sign the bundle's SHA256SUMS")
	fs.BoolVar(&lf.quiet, "quiet", false, "no progress line and no text report: only the result line and errors")
	fs.Var(&lf.thresholds, "threshold", "pass/fail condition, repeatable: 'p99<250ms', 'success>=0.999', '429_rate<1%', 'fetches_per_call<=0.01' (metrics: "+load.ThresholdMetrics+")")
	fs.BoolVar(&lf.allowRemote, "allow-remote", false, "allow a non-loopback target (capped at --max-rate)")
	fs.Float64Var(&lf.maxRate, "max-rate", 20, "highest rate per second allowed against a non-loopback target (applies to loopback only when given)")
	fs.Float64Var(&lf.abortErrorRate, "abort-error-rate", 0.5, "stop when more than this share of the last 200 requests failed (429s excluded), after 100; 0 = never")
	fs.Uint64Var(&lf.workers, "workers", 10, "initial Vegeta workers")
	fs.Uint64Var(&lf.maxWorkers, "max-workers", 0, "most Vegeta workers (0 = no limit, Vegeta's default)")
	fs.IntVar(&lf.connections, "connections", 10000, "idle connections kept per host")
	fs.BoolVar(&lf.http2, "http2", false, "use HTTP/2 when the TLS server offers it (off: HTTP/1.1)")
	fs.IntVar(&lf.instances, "instances", 1, "cached: token caches sharing the credentials, like replicas of one service")
	fs.Float64Var(&lf.refreshAt, "refresh-at", tokencache.DefaultRefreshAt, "cached: refresh each token at this share of its lifetime (the cache's RefreshAt; jitter starts it up to 0.05 earlier)")
	fs.DurationVar(&lf.mockTTL, "mock-token-ttl", 0, "embedded mock: token lifetime, whole seconds (default 8h)")
	fs.StringVar(&lf.mockPolicy, "mock-policy", "", "embedded mock: reissue or cached")
	fs.BoolVar(&lf.mockRevoke, "mock-revoke-previous", false, "embedded mock: a new token revokes the client's earlier ones")
	fs.Float64Var(&lf.mockRateLimit, "mock-rate-limit", 0, "embedded mock: share of token requests answered 429 with Retry-After (0..1)")
	fs.DurationVar(&lf.mockRetryAfter, "mock-retry-after", time.Second, "embedded mock: the Retry-After of its 429s")
	fs.Float64Var(&lf.mockErrorRate, "mock-error-rate", 0, "embedded mock: share of token requests answered 500/503 (0..1)")
	fs.DurationVar(&lf.mockLat, "mock-latency", 0, "embedded mock: latency added to every token answer")
	return fs, lf
}

// mockOptions turns the --mock-* flags into mock options; it names one of them when any was given.
func (lf *loadFlagValues) mockOptions(set map[string]bool) ([]mock.Option, string, error) {
	var opts []mock.Option
	used := ""
	for name := range set {
		if strings.HasPrefix(name, "mock-") {
			used = "--" + name
		}
	}
	if lf.mockTTL != 0 {
		if err := mock.ValidateTTL(lf.mockTTL); err != nil {
			return nil, "", cli.Usagef("--mock-token-ttl: %v", err)
		}
		opts = append(opts, mock.WithTokenTTL(lf.mockTTL))
	}
	if lf.mockPolicy != "" {
		p, err := mock.ParsePolicy(lf.mockPolicy)
		if err != nil {
			return nil, "", cli.Usagef("--mock-policy %q: use reissue or cached", lf.mockPolicy)
		}
		opts = append(opts, mock.WithPolicy(p))
	}
	if lf.mockRevoke {
		opts = append(opts, mock.WithRevokePrevious(true))
	}
	f := mock.Faults{RateLimitRate: lf.mockRateLimit, RetryAfter: lf.mockRetryAfter, ErrorRate: lf.mockErrorRate, Latency: lf.mockLat}
	if err := f.Validate(); err != nil {
		return nil, "", cli.Usagef("--mock-*: %v", err)
	}
	if f != (mock.Faults{RetryAfter: lf.mockRetryAfter}) {
		opts = append(opts, mock.WithFaults(f))
	}
	return opts, used, nil
}

// checkSafety refuses a non-loopback target without --allow-remote, and a rate above
// --max-rate (always for a remote target; for loopback only when --max-rate was given).
func checkSafety(t *target, cfg *load.Config, lf *loadFlagValues, set map[string]bool) error {
	urls := []string{t.TokenURL}
	if cfg.Mode == load.ModeCached {
		urls = append(urls, t.APIURL)
	}
	remote := ""
	for _, u := range urls {
		if !loopback.URL(u) {
			remote = u
		}
	}
	if remote != "" && !lf.allowRemote {
		return cli.Usagef("refusing to load %s: it is not a loopback address; pass --allow-remote if you may load it (the rate is then capped at --max-rate, %g/s by default)", remote, lf.maxRate)
	}
	if remote == "" && !set["max-rate"] {
		return nil
	}
	peak := load.PerSecond(cfg.Rate)
	if cfg.Mode == load.ModeRamp {
		peak = lf.to
	}
	if peak == 0 {
		return cli.Usagef("--rate 0 (as fast as possible) is refused under --max-rate %g; give a rate", lf.maxRate)
	}
	if peak > lf.maxRate {
		return cli.Usagef("the rate %g/s is above --max-rate %g/s; raise --max-rate explicitly if the target's owner agreed", peak, lf.maxRate)
	}
	return nil
}
