package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"
	"golang.org/x/sync/semaphore"

	"github.com/authzcheck/authzcheck/features"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// ConfigError is a configuration that cannot run (a missing URL, a bad tag expression; also a
// client.Config, which returns it too); nothing was sent and nothing written. cmd maps it to
// exit code 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// UnreachableError says the target could not be reached, or stopped answering: the summary
// was written, but its verdicts are incomplete. cmd maps it to exit code 3.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return "target unreachable: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// wholeRunTag marks the checks that judge every exchange of the run; they run after all others.
const wholeRunTag = "whole-run"

// foreignKey is a key no issuer ever had (BEARER-16). It is made once per process, lazily:
// generating an RSA key costs more than the rest of a run against the mock.
var foreignKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// runner is the state of one Run, shared by its scenarios.
type runner struct {
	cfg    Config
	rec    *recorder
	red    *redact.Redactor
	index  map[string]scenarioInfo
	checks []catalog.Check   // the checks planned and reported; nil: Checks()
	skips  map[string]string // check ID -> why it does not run at all

	keysOnce sync.Mutex
	keys     *issuerKeys

	// stored is a token of an earlier run that has expired by now (--token-store), for
	// BEARER-11 when there is no control API; storedWhy says why there is none.
	stored    storedToken
	storedWhy string
	creds     credentials // the form of each client's credentials the target accepts (credentials.go)
	jku       jkuServer   // BEARER-16's jku variant

	legacyOnce sync.Once
	legacy     legacyProbe // SEC-03's TLS 1.0/1.1 handshake

	// alone is held with weight 1 by every running scenario, and whole (aloneWeight) by one
	// that must run with no other (a CACHE-03 that could not run as the second client:
	// ownClientCheck). A waiting whole hold keeps scenarios from starting (it is first in line);
	// every wait ends with the run's context.
	alone *semaphore.Weighted

	mu       sync.Mutex
	outcomes map[string][]outcome
	harness  []string // harness problems: undefined steps, panics
	progress progress
}

// outcome is what one scenario (one pickle) concluded.
type outcome struct {
	failures    []failure
	notes       []string
	transcripts []string
	skip        string
	info        bool // the scenario judged what is information only here (scenario.info)
	dur         time.Duration
}

// Run runs the conformance suite against cfg's target and writes summary.json, cucumber.json,
// junit.xml and transcripts/ into cfg.OutDir. The summary is returned whenever it was written,
// also together with an *UnreachableError; a *ConfigError means nothing ran.
func Run(ctx context.Context, cfg Config) (*evidence.Summary, error) {
	cfg.setDefaults()
	sel, err := validate(&cfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	index, err := indexScenarios(features.FS)
	if err != nil {
		return nil, fmt.Errorf("the embedded suite: %w", err)
	}
	var store *tokenStore
	if cfg.TokenStore != "" {
		if store, err = openTokenStore(cfg.TokenStore, cfg.OutDir, cfg.TokenURL, cfg.ClientID); err != nil {
			return nil, &ConfigError{err}
		}
	}
	tdir := filepath.Join(cfg.OutDir, "transcripts")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return nil, fmt.Errorf("evidence directory: %w", err)
	}

	red := redact.New()
	red.AddCredential(cfg.ClientID, cfg.ClientSecret)
	red.AddCredential(cfg.Client2ID, cfg.Client2Secret)
	r := &runner{
		cfg:      cfg,
		red:      red,
		rec:      newRecorder(&cfg, red, tdir),
		index:    index,
		skips:    map[string]string{},
		outcomes: map[string][]outcome{},
		alone:    semaphore.NewWeighted(aloneWeight),
		progress: progress{w: cfg.Progress},
	}
	r.rec.store = store
	r.storedWhy = "needs an expired token: give --token-store DIR; a later run with the same DIR presents a token this run keeps there once it has expired (the embedded mock mints one)"
	if store != nil {
		if r.stored, r.storedWhy = store.expired(cfg.Now()); r.stored.Token != "" {
			red.AddToken(r.stored.Token) // presented, so redacted like every token
		}
	}
	go func() { _, _ = foreignKey() }() // made while the first checks run
	defer r.jku.close()

	started := cfg.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()

	run := r.plan(sel)
	var unreachable error
	if len(run) > 0 {
		if why, blocked := r.preflight(ctx); blocked != nil {
			unreachable = blocked
			for _, c := range r.catalogue() {
				r.skips[c.ID] = "not run: " + why
			}
			run = nil
		}
		var left []string
		for _, id := range run {
			if _, skipped := r.skips[id]; !skipped {
				left = append(left, id)
			}
		}
		run = left
	}
	var cucumber [][]byte
	independent, ordered := r.splitOrdered(filterIDs(run, index, false))
	r.progress.buffered = cfg.Concurrency > 1
	// Scenarios at once: as many as requests may be in flight (the recorder holds that bound),
	// and one more for ownClientCheck, which waits a second with no request in flight.
	atOnce := cfg.Concurrency
	if atOnce > 1 && slices.Contains(independent, ownClientCheck) {
		atOnce++
	}
	for _, pass := range []struct {
		ids []string
		n   int
	}{
		{independent, atOnce}, // at once, within the bound on requests in flight
		{ordered, 1},          // alone, one after another: what they judge is the order
		// Last, at once: each judges the exchanges of the checks before (runExchanges).
		{filterIDs(run, index, true), cfg.Concurrency},
	} {
		if len(pass.ids) == 0 {
			continue
		}
		out, err := r.godog(ctx, pass.ids, pass.n)
		if err != nil {
			_ = r.rec.close()
			return nil, err
		}
		cucumber = append(cucumber, out)
		if pass.n == 1 {
			r.progress.flush(r.catalogue())
		}
	}
	r.progress.flush(r.catalogue())
	r.progress.done()
	if unreachable == nil {
		if down := r.rec.downReason(); down != nil {
			unreachable = down
		}
	}
	if ctx.Err() != nil && unreachable == nil {
		unreachable = fmt.Errorf("the run did not finish within %v", cfg.MaxDuration)
		if errors.Is(ctx.Err(), context.Canceled) {
			unreachable = errors.New("the run was interrupted")
		}
	}

	werr := r.rec.close()
	sum := r.summary(started, cfg.Now())
	if unreachable != nil {
		sum.Result = evidence.Failed // what was not judged did not pass
	}
	for i := range cucumber {
		cucumber[i] = red.Bytes(cucumber[i])
	}
	if err := writeOutputs(cfg.OutDir, sum, cucumber); err != nil {
		return nil, err
	}
	if werr != nil {
		return sum, werr
	}
	if len(r.harness) > 0 {
		return sum, fmt.Errorf("harness: %s", strings.Join(r.harness, "; "))
	}
	if unreachable != nil {
		return sum, &UnreachableError{unreachable}
	}
	return sum, nil
}

// orderedCheck reports whether a check judges the order or the timing of its own requests, so
// that no other scenario's request may come between them: the CACHE checks (the tokens a client
// receives one after another, their lifetimes, several alive at once) and AUTH-17 (a lockout
// after failures in a row, which would also refuse the other scenarios' requests). CACHE-03
// runs alongside the others when it has a client of its own (ownClient).
func (r *runner) orderedCheck(id string) bool {
	c, _ := catalog.Lookup(id)
	if id == ownClientCheck && r.ownClient() != "" {
		return false
	}
	return c.Area == "CACHE" || id == "AUTH-17"
}

// splitOrdered splits ids into the checks that may run at once and those that run alone, one
// after another (orderedCheck), keeping the order of each.
func (r *runner) splitOrdered(ids []string) (independent, ordered []string) {
	for _, id := range ids {
		if r.orderedCheck(id) {
			ordered = append(ordered, id)
		} else {
			independent = append(independent, id)
		}
	}
	return independent, ordered
}

// godog runs the scenarios of ids, concurrency of them at once, and returns godog's cucumber
// JSON.
func (r *runner) godog(ctx context.Context, ids []string, concurrency int) ([]byte, error) {
	var filter []string
	for _, id := range ids {
		filter = append(filter, "@"+id)
	}
	// godog starts scenarios in the order of the feature files: the one that waits longest
	// (ownClientCheck, a second) starts first, so that its wait overlaps the others.
	paths := featurePaths()
	if slices.Contains(ids, ownClientCheck) {
		first := r.index[ownClientCheck].feature
		paths = append([]string{first}, slices.DeleteFunc(paths, func(p string) bool { return p == first })...)
	}
	var out bytes.Buffer
	suite := godog.TestSuite{
		Name:                "authzcheck",
		ScenarioInitializer: r.initScenario,
		Options: &godog.Options{
			Format:         "cucumber",
			Output:         &out,
			Strict:         true,
			NoColors:       true,
			FS:             features.FS,
			Paths:          paths,
			Tags:           strings.Join(filter, ","),
			DefaultContext: ctx,
			Concurrency:    concurrency,
		},
	}
	if st := suite.Run(); st == 2 {
		return nil, errors.New("godog could not run the embedded suite (option error)")
	}
	return out.Bytes(), nil
}

// initScenario registers the steps and the hooks that keep each scenario's state in its ctx.
func (r *runner) initScenario(sc *godog.ScenarioContext) {
	sc.Before(func(ctx context.Context, p *godog.Scenario) (context.Context, error) {
		s := &scenario{r: r, started: time.Now()}
		for _, t := range p.Tags {
			name := strings.TrimPrefix(t.Name, "@")
			s.tags = append(s.tags, name)
			if c, ok := catalog.Lookup(name); ok && s.id == "" {
				s.id, s.check = name, c
			}
		}
		s.level = s.check.Level(r.cfg.Profile)
		ctx = context.WithValue(ctx, scenarioKey{}, s)
		if s.id == "" {
			return ctx, fmt.Errorf("scenario %q has no check ID tag", p.Name)
		}
		if why := r.unmet(s.tags); why != "" {
			s.skip = why
			return ctx, godog.ErrSkip
		}
		if err := r.alone.Acquire(ctx, 1); err != nil {
			return ctx, fmt.Errorf("could not start: %w", err)
		}
		s.hold, s.started = shared, time.Now() // a wait for a scenario running alone is not this one's time
		if s.id == ownClientCheck {
			if s.as = r.ownClient(); s.as != "" {
				s.note("ran as the second client, alongside the other checks: none of them asks for its tokens")
			}
		}
		return ctx, nil
	})
	sc.StepContext().Before(func(ctx context.Context, st *godog.Step) (context.Context, error) {
		if s := stateOf(ctx); s != nil {
			s.part, _ = parseModifiers(st.Text)
		}
		return ctx, nil
	})
	sc.After(func(ctx context.Context, p *godog.Scenario, err error) (context.Context, error) {
		s := stateOf(ctx)
		if s == nil {
			r.harnessProblem(fmt.Sprintf("scenario %q lost its state", p.Name))
			return ctx, nil
		}
		switch s.hold {
		case shared:
			r.alone.Release(1)
		case exclusive:
			r.alone.Release(aloneWeight)
		}
		s.hold = notHeld
		if err != nil && !errors.Is(err, godog.ErrSkip) && !s.stopped && s.skip == "" {
			// Not a recorded failure: an undefined or pending step, a panic, a bad hook.
			r.harnessProblem(fmt.Sprintf("%s: %v", s.id, err))
			s.failures = append(s.failures, failure{level: catalog.Must, reason: "the harness could not run this check: " + oneLine(err.Error())})
		}
		r.collect(s)
		if err == nil && s.skip == "" && len(s.failures) > 0 {
			// A failed SHOULD part let the scenario go on; make cucumber.json show it failed.
			return ctx, errors.New(s.failures[0].reason)
		}
		return ctx, nil
	})
	registerSteps(sc)
}

func (r *runner) collect(s *scenario) {
	o := outcome{failures: s.failures, notes: s.notes, transcripts: s.transcripts, skip: s.skip, info: s.info, dur: time.Since(s.started)}
	r.mu.Lock()
	r.outcomes[s.id] = append(r.outcomes[s.id], o)
	r.mu.Unlock()
	area := s.check.Area
	if contains(s.tags, wholeRunTag) {
		area = "RUN" // the checks over every exchange of the run
	}
	r.progress.add(area, o)
}

// harnessProblem records a problem of the harness; it reaches the console (Run's error), so it
// is redacted like everything else the run writes.
func (r *runner) harnessProblem(p string) {
	p = r.red.String(p)
	r.mu.Lock()
	r.harness = append(r.harness, p)
	r.mu.Unlock()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
