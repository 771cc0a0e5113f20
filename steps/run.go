package steps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/authzcheck/authzcheck/features"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/reports"
)

// ConfigError is a Config that cannot run (a missing URL, a bad tag expression); nothing was
// sent and nothing written. cmd maps it to exit code 2.
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
	cfg   Config
	rec   *recorder
	red   *redact.Redactor
	index map[string]scenarioInfo
	skips map[string]string // check ID -> why it does not run at all

	keysOnce sync.Mutex
	keys     *issuerKeys

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
	dur         time.Duration
}

// Run runs the conformance suite against cfg's target and writes summary.json, cucumber.json,
// junit.xml and transcripts/ into cfg.OutDir. The summary is returned whenever it was written,
// also together with an *UnreachableError; a *ConfigError means nothing ran.
func Run(ctx context.Context, cfg Config) (*reports.Summary, error) {
	cfg.setDefaults()
	sel, err := validate(&cfg)
	if err != nil {
		return nil, &ConfigError{err}
	}
	index, err := indexScenarios(features.FS)
	if err != nil {
		return nil, fmt.Errorf("the embedded suite: %w", err)
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
		progress: progress{w: cfg.Progress},
	}
	go func() { _, _ = foreignKey() }() // made while the first checks run

	started := cfg.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxDuration)
	defer cancel()

	run := r.plan(sel)
	var unreachable error
	if len(run) > 0 {
		if why, blocked := r.preflight(ctx); blocked != nil {
			unreachable = blocked
			for _, c := range catalog.All() {
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
	for _, pass := range [][]string{filterIDs(run, index, false), filterIDs(run, index, true)} {
		if len(pass) == 0 {
			continue
		}
		out, err := r.godog(ctx, pass)
		if err != nil {
			_ = r.rec.close()
			return nil, err
		}
		cucumber = append(cucumber, out)
	}
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
		sum.Result = "failed" // what was not judged did not pass
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

// validate checks the configuration before anything is sent and parses the tag filter.
func validate(cfg *Config) (tagExpr, error) {
	if cfg.Profile != catalog.ProfileDerbySoft && cfg.Profile != catalog.ProfileRFC6749 {
		return nil, fmt.Errorf("profile %q: use derbysoft or rfc6749", cfg.Profile)
	}
	for name, v := range map[string]string{"token URL": cfg.TokenURL, "API URL": cfg.APIURL,
		"JWKS URL": cfg.JWKSURL, "other-scope API URL": cfg.OtherScopeURL} {
		if v == "" && name != "token URL" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s %q: want an http(s) URL", name, v)
		}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("the client ID and secret are required")
	}
	if cfg.OutDir == "" {
		return nil, errors.New("no output directory")
	}
	return parseTagExpr(cfg.Tags)
}

// plan decides which checks run and why the others do not.
func (r *runner) plan(sel tagExpr) []string {
	var run []string
	local := loopback.URL(r.cfg.TokenURL)
	for _, c := range catalog.All() {
		info := r.index[c.ID]
		switch {
		case !sel.match(info.tags):
			r.skips[c.ID] = "not selected by --tags " + sel.String()
		case c.Need(catalog.NeedIntrusive) && !sel.names(catalog.NeedIntrusive, c.ID):
			if local {
				r.skips[c.ID] = "intrusive: runs only when selected with --tags @intrusive"
			} else {
				r.skips[c.ID] = "intrusive: never runs against a remote target unless selected with --tags @intrusive"
			}
		default:
			run = append(run, c.ID)
		}
	}
	// Plain HTTP to a remote host: no credential may be sent, so only SEC-01 runs (and fails).
	if u, _ := url.Parse(r.cfg.TokenURL); u.Scheme == "http" && !local {
		for _, id := range run {
			if id != "SEC-01" {
				r.skips[id] = "not run: the token URL is plain HTTP to a host that is not loopback, so no credential was sent (SEC-01)"
			}
		}
		if contains(run, "SEC-01") {
			return []string{"SEC-01"}
		}
		return nil
	}
	return run
}

// preflight connects to the token endpoint once, without sending anything, so that an
// unreachable target or an untrusted certificate is known before any credential is sent.
// It returns why the run cannot go on and, when so, the error to return.
func (r *runner) preflight(ctx context.Context) (string, error) {
	u, _ := url.Parse(r.cfg.TokenURL)
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return "", nil // never dialled: plan() already kept only SEC-01
	}
	d := &net.Dialer{Timeout: r.cfg.Timeout}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", host)
	if err != nil {
		return "the token endpoint could not be reached: " + shortErr(r.red, err), errors.New(shortErr(r.red, err))
	}
	defer conn.Close()
	if u.Scheme != "https" {
		return "", nil
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: r.cfg.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS10})
	err = tc.HandshakeContext(dctx)
	var cve *tls.CertificateVerificationError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &cve):
		// The certificate is the target's failure (SEC-02), not unreachability: SEC-01 and
		// SEC-02 run (the handshake fails again before anything is sent), the rest is skipped.
		for _, c := range catalog.All() {
			if c.ID != "SEC-01" && c.ID != "SEC-02" {
				r.skips[c.ID] = "not run: the token endpoint's TLS certificate did not verify, so no credential was sent (SEC-02)"
			}
		}
		return "", nil
	default:
		return "the TLS handshake with the token endpoint failed: " + shortErr(r.red, err), errors.New(shortErr(r.red, err))
	}
}

// godog runs the scenarios of ids and returns godog's cucumber JSON.
func (r *runner) godog(ctx context.Context, ids []string) ([]byte, error) {
	var filter []string
	for _, id := range ids {
		filter = append(filter, "@"+id)
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
			Paths:          featurePaths(),
			Tags:           strings.Join(filter, ","),
			DefaultContext: ctx,
			Concurrency:    1,
		},
	}
	if st := suite.Run(); st == 2 {
		return nil, errors.New("godog could not run the embedded suite (option error)")
	}
	return out.Bytes(), nil
}

// featurePaths lists the feature files in catalogue order.
func featurePaths() []string {
	var ps []string
	for _, a := range catalog.Areas() {
		ps = append(ps, strings.ToLower(a.Code)+".feature")
	}
	return ps
}

// filterIDs keeps the IDs that are (wholeRun) or are not (!wholeRun) whole-run checks.
func filterIDs(ids []string, index map[string]scenarioInfo, wholeRun bool) []string {
	var out []string
	for _, id := range ids {
		if contains(index[id].tags, wholeRunTag) == wholeRun {
			out = append(out, id)
		}
	}
	return out
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

// unmet says why a scenario with tags cannot run here, or "".
func (r *runner) unmet(tags []string) string {
	c := r.cfg
	for _, t := range tags {
		switch t {
		case catalog.NeedAPI:
			if c.APIURL == "" {
				return "needs a Bearer-protected API URL (--api-url / AUTHZ_API_URL)"
			}
			if u, _ := url.Parse(c.APIURL); u.Scheme == "http" && !loopback.Host(u.Hostname()) {
				return "the API URL is plain HTTP to a host that is not loopback; no token is sent over it"
			}
		case catalog.NeedClient2:
			if c.Client2ID == "" || c.Client2Secret == "" {
				return "needs a second client (AUTHZ_CLIENT2_ID, AUTHZ_CLIENT2_SECRET)"
			}
		case catalog.NeedKeys:
			if c.JWKSURL == "" && c.PublicKey == nil {
				return "needs the issuer's public key (--jwks-url or --public-key)"
			}
		case catalog.NeedControl:
			if c.Control == nil {
				return "needs the mock's control API (minting expired tokens): runs only against the embedded mock"
			}
		}
	}
	return ""
}

func (r *runner) collect(s *scenario) {
	o := outcome{failures: s.failures, notes: s.notes, transcripts: s.transcripts, skip: s.skip, dur: time.Since(s.started)}
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

// scenarioInfo is what the feature files say about one check ID.
type scenarioInfo struct {
	title   string
	feature string
	tags    []string // scenario-level tags without "@" (the ID, level, needs, whole-run)
}

// indexScenarios reads the feature files' scenario titles and tags, keyed by check ID. Each
// check ID must tag exactly one scenario (or outline).
func indexScenarios(fsys fs.FS) (map[string]scenarioInfo, error) {
	idx := map[string]scenarioInfo{}
	names, err := fs.Glob(fsys, "*.feature")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, sc := range parseScenarioHeads(string(b)) {
			var id string
			for _, t := range sc.tags {
				if _, ok := catalog.Lookup(t); ok {
					if id != "" {
						return nil, fmt.Errorf("%s: scenario %q carries two check IDs (%s, %s)", name, sc.title, id, t)
					}
					id = t
				}
			}
			if id == "" {
				return nil, fmt.Errorf("%s: scenario %q has no check ID tag", name, sc.title)
			}
			if prev, dup := idx[id]; dup {
				return nil, fmt.Errorf("%s: %s tags two scenarios (%q in %s, and %q)", name, id, prev.title, prev.feature, sc.title)
			}
			idx[id] = scenarioInfo{title: sc.title, feature: name, tags: sc.tags}
		}
	}
	return idx, nil
}

// scenarioHead is a scenario's title and the tags on the lines right above it.
type scenarioHead struct {
	title string
	tags  []string
}

// parseScenarioHeads finds the scenarios of a feature file: "Scenario:" and "Scenario Outline:"
// lines with the tag lines right above them. Tags above "Examples:" belong to the examples and
// are not included. It reads only what the index needs; godog parses the files in full.
func parseScenarioHeads(src string) []scenarioHead {
	var (
		out  []scenarioHead
		tags []string
	)
	for _, line := range strings.Split(src, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "@"):
			for _, f := range strings.Fields(l) {
				if strings.HasPrefix(f, "#") {
					break
				}
				if t := strings.TrimPrefix(f, "@"); t != f && t != "" {
					tags = append(tags, t)
				}
			}
		case strings.HasPrefix(l, "Scenario:"), strings.HasPrefix(l, "Scenario Outline:"),
			strings.HasPrefix(l, "Scenario Template:"), strings.HasPrefix(l, "Example:"):
			_, title, _ := strings.Cut(l, ":")
			out = append(out, scenarioHead{title: strings.TrimSpace(title), tags: tags})
			tags = nil
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			tags = nil
		}
	}
	return out
}

// progress prints one line per area: a mark per finished scenario.
type progress struct {
	w    io.Writer
	mu   sync.Mutex
	area string
}

func (p *progress) add(area string, o outcome) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if area != p.area {
		if p.area != "" {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "  %-7s", area)
		p.area = area
	}
	mark := "."
	switch {
	case o.skip != "":
		mark = "s"
	case worst(o.failures) == catalog.Must:
		mark = "F"
	case worst(o.failures) == catalog.Should:
		mark = "w"
	}
	fmt.Fprint(p.w, mark)
}

func (p *progress) done() {
	if p.w != nil && p.area != "" {
		fmt.Fprintln(p.w)
	}
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
