package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
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

Run 'authzcheck load MODE -h' for the flags of one mode, with an example.

Default target: the embedded mock. Against any other endpoint use the same flags and
environment as 'conformance' (AUTHZ_TOKEN_URL, AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET, ...);
a non-loopback target needs --allow-remote and is capped at --max-rate (20/s unless raised);
plain http to a non-loopback host is refused. Results go to DIR/load/: results.bin (Vegeta
encoding: 'vegeta report' reads it), summary.json, plot.html.

Exit codes: 0 thresholds held; 1 a threshold failed, the generator could not keep up with
--rate, the run aborted on errors, or (ramp) no step held; 2 bad usage; 3 the target could not
be reached, the run was interrupted, or the harness failed.

Flags:
`

// loadMemoryLimit is the Go runtime's soft memory limit during a load run (see tuneRuntime).
const loadMemoryLimit = 96 << 20

// loadGCPercent is the Go runtime's GOGC during a load run (see tuneRuntime).
const loadGCPercent = 400

// loadModeUsage is each mode's help: what it does and an example.
var loadModeUsage = map[load.Mode]string{
	load.ModeIssuance: `Usage: authzcheck load issuance [flags]

POST the token endpoint at --rate for --duration: latency, throughput, distinct tokens and the
server's policy (reissue or cached), expires_in drift, schedule lag.

Example:
  authzcheck load issuance --rate 200 --duration 30s --threshold 'p99<250ms' --threshold 'success>=0.999'
`,
	load.ModeCached: `Usage: authzcheck load cached [flags]

GET a Bearer API (--api-url; the mock's /products by default) through tokencache at --rate for
--duration: token fetches per API call, refresh lead times, stalls, 401 retries.

Example:
  authzcheck load cached --rate 50 --duration 20s --mock-token-ttl 2s --threshold 'fetches_per_call<0.05'
`,
	load.ModeRamp: `Usage: authzcheck load ramp [flags]

The token endpoint at a rate rising linearly --from to --to over --duration, judged in --steps:
the highest rate at which the thresholds held.

Example:
  authzcheck load ramp --from 50 --to 2000 --duration 60s --steps 6 --threshold 'p99<50ms'
`,
}

// loadCommonUsage follows every mode's usage.
const loadCommonUsage = `
Default target: the embedded mock. Against any other endpoint use the same flags and
environment as 'conformance' (AUTHZ_TOKEN_URL, AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET, ...);
a non-loopback target needs --allow-remote and is capped at --max-rate (20/s unless raised);
plain http to a non-loopback host is refused. Results go to DIR/load/.

Exit codes: 0 thresholds held; 1 a threshold failed, the generator could not keep up, the run
aborted on errors, or (ramp) no step held; 2 bad usage; 3 unreachable, interrupted, or the
harness failed.

Flags:
`

// loadFlagModes are the flags that apply to some modes only; the others apply to every mode.
// A mode's help lists only the flags that apply to it.
var loadFlagModes = map[string][]load.Mode{
	"rate": {load.ModeIssuance, load.ModeCached}, "api-url": {load.ModeCached},
	"instances": {load.ModeCached}, "refresh-at": {load.ModeCached},
	"from": {load.ModeRamp}, "to": {load.ModeRamp}, "steps": {load.ModeRamp},
	// Target flags 'load' shares with 'conformance' but does not use: accepted, not listed.
	"profile": nil, "jwks-url": nil, "public-key": nil, "client2-id": nil, "client2-secret": nil,
}

// loadFlagOf is the flag that sets each load.Config field a load.ConfigError may name.
var loadFlagOf = map[string]string{
	"Mode": "the load mode", "Rate": "--rate", "Duration": "--duration", "From": "--from", "To": "--to",
	"Steps": "--steps", "MaxWorkers": "--max-workers", "AbortErrorRate": "--abort-error-rate",
	"Instances": "--instances", "RefreshAt": "--refresh-at", "Thresholds": "--threshold", "Dir": "--out",
	"TokenURL": "--token-url", "APIURL": "--api-url", "AllowRemote": "--allow-remote", "MaxRate": "--max-rate",
}

// loadDialContext, when set, opens every connection of a load run (tests count them).
var loadDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

// runLoad is the 'load' subcommand: flags in, load.Run, reports.Finalize, the text report out.
func runLoad(env *cli.Env) error {
	lf, err := parseLoad(env)
	if err != nil || lf == nil {
		return err // nil, nil: help was printed
	}
	cfg, err := lf.config()
	if err != nil {
		return err
	}
	mockOpts, usedMock, err := lf.mockOptions()
	if err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if lf.signKey != "" {
		if key, err = reports.ReadPrivateKeyFile(lf.signKey); err != nil {
			return cli.Usagef("--sign-key: %v", err)
		}
	}
	// The output directory is chosen and checked here, once, before anything is started: a
	// sealed bundle is verified, and the run writes beside it (reports.Open).
	stage, err := loadOutput(lf.out)
	if err != nil {
		return err
	}
	defer stage.Close()
	cfg.Dir = filepath.Join(stage.Dir(), "load")

	t, err := lf.target.resolve(env, mockOpts...)
	if err != nil {
		return err
	}
	defer t.Close()
	if usedMock != "" && !t.IsMock() {
		return cli.Usagef("%s applies only to the embedded mock (--target mock)", usedMock)
	}
	wireTarget(&cfg, t)
	if err := cfg.Validate(); err != nil {
		return loadConfigError(err)
	}
	for _, w := range t.Warnings {
		fmt.Fprintf(env.Stderr, "authzcheck load: warning: %s\n", w)
	}
	if !lf.quiet {
		announceLoad(env, &cfg, t)
	}
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	defer tuneRuntime(env)()
	sum, runErr := load.Run(ctx, cfg)
	if sum == nil {
		return loadRunError(runErr)
	}
	run := evidence.RunInfo{RunID: reports.NewRunID(), Kind: evidence.KindLoad, Started: sum.Started, Finished: sum.Finished,
		TargetURL: t.TokenURL, ClientID: t.ClientID, Result: sum.Result}
	if cfg.Mode.CallsAPI() {
		run.APIURL = t.APIURL
	}
	finErr := stage.Seal(run, reports.FinalizeOptions{SignKey: key,
		Credentials: []reports.Credential{{ID: t.ClientID, Secret: t.ClientSecret}, {ID: t.Client2ID, Secret: t.Client2Secret}}})
	if !lf.quiet {
		fmt.Fprintln(env.Stdout)
		_ = sum.WriteText(env.Stdout)
	}
	loadDir := filepath.Join(stage.Final(), "load")
	fmt.Fprintf(env.Stdout, "%s: %s load, %d requests; evidence: %s\n", strings.ToUpper(sum.Result), cfg.Mode, sum.Requests, loadDir)
	return loadOutcome(sum, runErr, finErr, loadDir)
}

// parseLoad reads the mode and the flags; it prints the help and returns nil, nil when asked.
func parseLoad(env *cli.Env) (*loadFlagValues, error) {
	if len(env.Args) == 0 {
		return nil, cli.Usagef("missing the load mode: issuance, cached or ramp; run 'authzcheck load -h'")
	}
	fs, lf := loadFlags()
	switch env.Args[0] {
	case "-h", "--help", "help":
		printFlags(env.Stdout, loadUsage, fs)
		return nil, nil
	}
	mode, err := load.ParseMode(env.Args[0])
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	lf.mode = mode
	if err := fs.Parse(env.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(env.Stdout, loadModeUsage[mode]+loadCommonUsage, modeFlags(fs, mode))
			return nil, nil
		}
		return nil, cli.Usagef("%v; run 'authzcheck load %s -h' for the flags", err, mode)
	}
	if fs.NArg() > 0 {
		return nil, cli.Usagef("unexpected argument %q; run 'authzcheck load %s -h' for the flags", fs.Arg(0), mode)
	}
	lf.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { lf.set[f.Name] = true })
	return lf, nil
}

// modeFlags is the flags of fs that apply to mode, for its help.
func modeFlags(fs *flag.FlagSet, mode load.Mode) *flag.FlagSet {
	out := flag.NewFlagSet("load "+string(mode), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if modes, only := loadFlagModes[f.Name]; !only || slices.Contains(modes, mode) {
			out.Var(f.Value, f.Name, f.Usage)
			out.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	return out
}

// config is the load.Config the flags ask for; load.Config.Validate judges it once the target
// is known.
func (lf *loadFlagValues) config() (load.Config, error) {
	cfg := load.Config{Mode: lf.mode, Duration: lf.duration, From: lf.from, To: lf.to, Steps: lf.steps,
		Workers: lf.workers, MaxWorkers: lf.maxWorkers, Connections: lf.connections, HTTP2: lf.http2,
		Instances: lf.instances, AbortErrorRate: lf.abortErrorRate, Name: lf.name,
		AllowRemote: lf.allowRemote, DialContext: loadDialContext}
	var err error
	if cfg.Rate, err = load.ParseRate(lf.rate); err != nil {
		return cfg, cli.Usagef("--rate: %v", err)
	}
	if cfg.Thresholds, err = load.ParseThresholds(lf.thresholds, lf.mode); err != nil {
		return cfg, cli.Usagef("--threshold: %v", err)
	}
	// load.Config takes 0 for "the default" in these fields; given as 0 on the command line they
	// would silently mean the default, so 0 is refused, as the flags' ranges start above it.
	for _, f := range []struct {
		name string
		zero bool
	}{{"instances", lf.instances == 0}, {"refresh-at", lf.refreshAt == 0}, {"max-rate", lf.maxRate == 0}} {
		if lf.set[f.name] && f.zero {
			return cfg, cli.Usagef("--%s 0: must be positive", f.name)
		}
	}
	if lf.set["refresh-at"] {
		cfg.RefreshAt = lf.refreshAt
	}
	if lf.set["max-rate"] {
		cfg.MaxRate = lf.maxRate // unset: the cap applies to a remote target only
	}
	return cfg, nil
}

// loadOutput opens the evidence bundle of the run (--out, or a new one under evidence/): new,
// empty, or a sealed bundle that verifies and holds no load run yet (reports.Open). Anything
// else is a usage error, before anything is started.
func loadOutput(out string) (*reports.Stage, error) {
	return openBundle(runDir(out), evidence.KindLoad)
}

// wireTarget points cfg at the resolved target, and at the embedded mock's own counters.
func wireTarget(cfg *load.Config, t *target) {
	cfg.TokenURL, cfg.APIURL, cfg.ClientID, cfg.ClientSecret = t.TokenURL, t.APIURL, t.ClientID, t.ClientSecret
	cfg.Timeout, cfg.RootCAs = t.Timeout, t.RootCAs
	if !t.IsMock() {
		return
	}
	ctl, id := t.Mock.Control(), t.ClientID
	cfg.ServerCounters = func(ctx context.Context) (*evidence.ServerCounters, error) {
		cs, err := ctl.Counters(ctx)
		if err != nil {
			return nil, err
		}
		c := cs[id]
		return &evidence.ServerCounters{TokenRequests: c.TokenRequests, TokensIssued: c.TokensIssued, APICalls: c.APICalls, Rejections: c.Rejections}, nil
	}
}

// loadConfigError is a refused load.Config as a usage error naming the flags.
func loadConfigError(err error) error {
	var ce *load.ConfigError
	if !errors.As(err, &ce) {
		return cli.Usagef("%v", err)
	}
	return cli.Usagef("%s", ce.Render(func(field string) string {
		if f, ok := loadFlagOf[field]; ok {
			return f
		}
		return field
	}))
}

// announceLoad prints what is about to be loaded, and draws the progress line on a terminal.
func announceLoad(env *cli.Env, cfg *load.Config, t *target) {
	what := t.TokenURL
	if cfg.Mode.CallsAPI() {
		what = t.APIURL + " (tokens from " + t.TokenURL + ")"
	}
	if t.IsMock() {
		what += ", the embedded mock"
	}
	fmt.Fprintf(env.Stdout, "authzcheck load %s: %s for %s\n", cfg.Mode, what, cfg.Duration)
	if env.IsTerminal {
		cfg.Progress = env.Stdout
	}
}

// tuneRuntime sets the garbage collector for a load run, unless GOMEMLIMIT or GOGC say
// otherwise; the returned function restores it.
func tuneRuntime(env *cli.Env) func() {
	unset := func(name string) bool { return env.Getenv == nil || env.Getenv(name) == "" }
	var restore []func()
	if unset("GOMEMLIMIT") {
		// A soft limit keeps the heap from doubling while the end of a long run renders the plot
		// and Finalize reads results.bin (tens of MB after 10 minutes at 1,000/s); the runtime
		// collects harder near it instead of growing.
		was := debug.SetMemoryLimit(loadMemoryLimit)
		restore = append(restore, func() { debug.SetMemoryLimit(was) })
	}
	if unset("GOGC") {
		// Each request allocates ~7 KB in net/http and Vegeta while the live heap stays near
		// 1 MB: with the default GOGC=100 the runtime collects twice a second even at 500/s, and
		// the requests a collection overlaps make up the p99 (the harness's p99 ran 5-15% above
		// the Vegeta command line's side by side). 400 quarters the collections; the soft limit
		// above still bounds the heap.
		was := debug.SetGCPercent(loadGCPercent)
		restore = append(restore, func() { debug.SetGCPercent(was) })
	}
	return func() {
		for _, f := range restore {
			f()
		}
	}
}

// loadRunError is the exit of a run that produced no summary.
func loadRunError(err error) error {
	var pe *load.PreflightError
	var ce *load.ConfigError
	switch {
	case errors.As(err, &pe) && pe.Unreachable:
		return cli.Unreachablef("%v", pe)
	case errors.As(err, &pe):
		return cli.Usagef("%v", pe)
	case errors.As(err, &ce):
		return loadConfigError(ce)
	}
	return cli.Unreachablef("%v", err)
}

// loadOutcome is the exit of a run that produced a summary.
func loadOutcome(sum *evidence.LoadSummary, runErr, finErr error, loadDir string) error {
	switch {
	case runErr != nil && errors.Is(runErr, load.ErrUnreachable):
		return cli.Unreachablef("%v (what was measured is in %s)", runErr, loadDir)
	case runErr != nil:
		return cli.Unreachablef("%v", runErr)
	case sum.Stopped == "interrupted":
		return cli.Unreachablef("interrupted after %d requests; what was measured is in %s", sum.Requests, loadDir)
	case finErr != nil:
		return cli.Unreachablef("sealing the evidence: %v", finErr)
	case sum.Result != evidence.Passed:
		return cli.Failedf("%s", sum.Reason)
	}
	return nil
}

// loadFlagValues are the load flags besides the shared target flags.
type loadFlagValues struct {
	mode                             load.Mode
	set                              map[string]bool // the flags given
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
	fs.Float64Var(&lf.maxRate, "max-rate", load.DefaultMaxRate, "highest rate per second allowed against a non-loopback target (applies to loopback only when given)")
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
func (lf *loadFlagValues) mockOptions() ([]mock.Option, string, error) {
	var opts []mock.Option
	used := ""
	for name := range lf.set {
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
