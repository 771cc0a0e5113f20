package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/authzcheck/authzcheck/features"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/steps"
)

// Area is the catalogue area this package judges.
const Area = catalog.AreaClient

// scenarioInfo is what the client feature file says about one check.
type scenarioInfo struct {
	id       string
	title    string
	tags     []string
	sessions []string // the sessions its steps name ("every session": all)
}

var (
	sessionStepRe = regexp.MustCompile(`the "([^"]+)" session`)
)

// indexSuite reads the client suite's scenarios: check ID, title and tags (by the conformance
// index's rules, steps.ScenarioHeads), and the sessions each scenario's steps name.
func indexSuite() ([]scenarioInfo, error) {
	names, err := fs.Glob(features.ClientFS, "client/*.feature")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []scenarioInfo
	for _, name := range names {
		b, err := fs.ReadFile(features.ClientFS, name)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(string(b), "\n")
		heads := steps.ScenarioHeads(string(b))
		for k, h := range heads {
			sc := scenarioInfo{title: h.Title, tags: h.Tags}
			for _, t := range h.Tags {
				if c, ok := catalog.Lookup(t); ok && c.Area == Area {
					sc.id = t
				}
			}
			if sc.id == "" {
				return nil, fmt.Errorf("%s: scenario %q has no CLIENT check ID tag", name, sc.title)
			}
			end := len(lines)
			if k+1 < len(heads) {
				end = heads[k+1].Line
			}
			sc.sessions = sessionsNamed(lines[h.Line+1 : end])
			out = append(out, sc)
		}
	}
	return out, nil
}

// sessionsNamed are the sessions a scenario's step lines name ("every session" names all).
func sessionsNamed(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, "every session") {
			for _, d := range sessionDefs {
				out = append(out, d.name)
			}
			continue
		}
		for _, m := range sessionStepRe.FindAllStringSubmatch(l, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// judge is one run's judgement: the sessions' outcomes and what each check concluded.
type judge struct {
	outcomes map[string]*outcome
	red      *redact.Redactor
	mu       sync.Mutex
	states   map[string]*scenarioState
	harness  []string
	unserved string // why a session did not run under --serve
}

// Run certifies cfg.Command against the client catalogue: it runs every session the selected
// checks need (in parallel), judges the exchanges with the Gherkin of features/client and,
// when cfg.Dir is set, writes and seals the evidence bundle there. The summary is returned
// whenever the checks were judged, also with an error (a harness problem, a bundle that could
// not be sealed); a *steps.ConfigError means nothing ran (no command, a command that cannot
// be started, an unknown check).
func Run(ctx context.Context, cfg Config) (*evidence.Summary, error) {
	if err := cfg.validate(); err != nil {
		return nil, &steps.ConfigError{Err: err}
	}
	suite, pick, defs, err := plan(cfg.Only)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	outs, err := runSessions(ctx, &cfg, defs)
	if err != nil {
		return nil, err
	}
	return judgeAndWrite(ctx, &cfg, suite, pick, outs, started, "")
}

// judgeAndWrite judges the picked checks over the outcomes and, with cfg.Dir, writes the
// bundle. unserved says why a session absent from outs was not run ("" = not needed).
func judgeAndWrite(ctx context.Context, cfg *Config, suite, pick []scenarioInfo, outs map[string]*outcome, started time.Time, unserved string) (*evidence.Summary, error) {
	j := newJudge(outs)
	j.unserved = unserved
	cucumber, err := j.run(ctx, pick)
	if err != nil {
		return nil, err
	}
	finished := time.Now()
	sum := j.summary(suite, pick, cfg.Strict, started, finished)
	if cfg.Stdout != nil {
		fmt.Fprintf(cfg.Stdout, "  judged %d checks over %d sessions in %.1f s\n", len(pick), len(outs), finished.Sub(started).Seconds())
	}
	if cfg.Dir == "" {
		return sum, j.harnessErr()
	}
	if err := j.writeBundle(cfg, sum, cucumber, started, finished); err != nil {
		return sum, err
	}
	return sum, j.harnessErr()
}

// plan reads the suite and picks the checks only selects and the sessions they need.
func plan(only []string) (suite, pick []scenarioInfo, defs []sessionDef, err error) {
	suite, err = indexSuite()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the embedded client suite: %w", err)
	}
	filter, err := steps.ParseTags(strings.Join(only, ","))
	if err != nil {
		return nil, nil, nil, &steps.ConfigError{Err: err}
	}
	need := map[string]bool{}
	for _, sc := range suite {
		if filter.Match(sc.tags) {
			pick = append(pick, sc)
			for _, s := range sc.sessions {
				need[s] = true
			}
		}
	}
	if len(pick) == 0 {
		return nil, nil, nil, &steps.ConfigError{Err: fmt.Errorf("no client check matches %s; give CLIENT-NN IDs or tags like must", strings.Join(only, ","))}
	}
	for _, d := range sessionDefs {
		if need[d.name] {
			defs = append(defs, d)
		}
	}
	return suite, pick, defs, nil
}

func (cfg *Config) validate() error {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return errNoCommand
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	prog := cfg.Command[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) && cfg.WorkDir != "" {
		prog = filepath.Join(cfg.WorkDir, prog)
	}
	if _, err := exec.LookPath(prog); err != nil {
		return fmt.Errorf("command %q cannot be started: %v; give a program on PATH or a path to an executable after --", cfg.Command[0], unwrapExec(err))
	}
	return nil
}

func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// runSessions runs the sessions, cfg.Parallel at a time, and returns their outcomes by name.
// A command that cannot be started in the first session is a usage error.
func runSessions(ctx context.Context, cfg *Config, defs []sessionDef) (map[string]*outcome, error) {
	tmp, err := os.MkdirTemp("", "authzcheck-client-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	par := cfg.Parallel
	if par <= 0 {
		par = len(defs)
	}
	sem := make(chan struct{}, par)
	budget := newRecordBudget(maxRunRecords, len(defs))
	outs := make(map[string]*outcome, len(defs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range defs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			s, err := runSession(ctx, d, cfg, tmp, budget)
			o := &outcome{def: d, s: s, startErr: err}
			if s != nil {
				o.started, o.ended, o.proc = s.started, s.ended, s.proc
			}
			mu.Lock()
			defer mu.Unlock()
			outs[d.name] = o
			if cfg.Stdout != nil {
				fmt.Fprintf(cfg.Stdout, "  session %-22s %s\n", d.name, sessionLine(o))
			}
		}()
	}
	wg.Wait()
	for _, d := range defs {
		o := outs[d.name]
		switch {
		case o == nil:
		case o.s == nil && o.startErr != nil:
			return nil, fmt.Errorf("session %s: %w", d.name, o.startErr)
		case o.startErr != nil:
			return nil, &steps.ConfigError{Err: fmt.Errorf("command %q cannot be started: %v", cfg.Command[0], unwrapExec(o.startErr))}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	return outs, nil
}

// sessionLine is the progress line of one session: what the client did.
func sessionLine(o *outcome) string {
	if o.s == nil {
		return "not run"
	}
	s := fmt.Sprintf("%d token requests, %d API calls", o.count("token"), o.count("api"))
	if o.startErr != nil {
		return s + ", the command could not be started"
	}
	if p := o.proc; p != nil && p.exited {
		s += fmt.Sprintf(", the client exited with code %d", p.exitCode)
	} else if p != nil && p.killed {
		s += ", the client ignored SIGTERM and was killed"
	}
	return s
}

func newJudge(outs map[string]*outcome) *judge {
	red := redact.New()
	var toks []string
	for _, o := range outs {
		if o.s == nil {
			continue
		}
		red.AddCredential(o.s.clientID, o.s.secret)
		for tok := range o.s.issuedTokens() {
			toks = append(toks, tok)
		}
	}
	red.AddToken(toks...) // once: each call sorts the redactor's whole token list again
	return &judge{outcomes: outs, red: red, states: map[string]*scenarioState{}}
}

// run judges the picked scenarios with godog and returns its cucumber JSON (redacted).
func (j *judge) run(ctx context.Context, pick []scenarioInfo) ([]byte, error) {
	var tags []string
	for _, sc := range pick {
		tags = append(tags, "@"+sc.id)
	}
	sub, err := fs.Sub(features.ClientFS, "client")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	suite := godog.TestSuite{
		Name:                "authzcheck client",
		ScenarioInitializer: j.initScenario,
		Options: &godog.Options{Format: "cucumber", Output: &out, Strict: true, NoColors: true,
			FS: sub, Paths: []string{"."}, Tags: strings.Join(tags, ","), DefaultContext: ctx, Concurrency: 1},
	}
	if suite.Run() == 2 {
		return nil, errors.New("godog could not run the embedded client suite (option error)")
	}
	return j.red.Bytes(out.Bytes()), nil
}

func (j *judge) initScenario(sc *godog.ScenarioContext) {
	sc.Before(func(ctx context.Context, p *godog.Scenario) (context.Context, error) {
		st := &scenarioState{started: time.Now()}
		for _, t := range p.Tags {
			if c, ok := catalog.Lookup(strings.TrimPrefix(t.Name, "@")); ok {
				st.id, st.level = c.ID, c.Derbysoft
			}
		}
		if st.id == "" {
			return ctx, fmt.Errorf("scenario %q has no check ID tag", p.Name)
		}
		return context.WithValue(ctx, stateKey{}, st), nil
	})
	sc.After(func(ctx context.Context, p *godog.Scenario, err error) (context.Context, error) {
		st := stateOf(ctx)
		if st == nil {
			j.problem(fmt.Sprintf("scenario %q lost its state", p.Name))
			return ctx, nil
		}
		if err != nil && !errors.Is(err, godog.ErrSkip) {
			j.problem(fmt.Sprintf("%s: %v", st.id, err))
			st.fail("the harness could not run this check: %s", clip(j.red.String(err.Error()), 200))
		}
		j.mu.Lock()
		j.states[st.id] = st
		j.mu.Unlock()
		if err == nil && len(st.fails) > 0 {
			return ctx, errors.New(j.red.String(st.fails[0]))
		}
		return ctx, nil
	})
	j.registerSteps(sc)
}

func (j *judge) problem(p string) {
	j.mu.Lock()
	j.harness = append(j.harness, j.red.String(p))
	j.mu.Unlock()
}

func (j *judge) harnessErr() error {
	if len(j.harness) == 0 {
		return nil
	}
	return fmt.Errorf("harness: %s", strings.Join(j.harness, "; "))
}

// summary builds summary.json: one row per CLIENT check in catalogue order; checks not picked
// are skipped with the reason.
func (j *judge) summary(suite, pick []scenarioInfo, strict bool, started, finished time.Time) *evidence.Summary {
	titles := map[string]string{}
	for _, sc := range suite {
		titles[sc.id] = sc.title
	}
	picked := map[string]bool{}
	for _, sc := range pick {
		picked[sc.id] = true
	}
	var rows []evidence.CheckResult
	for _, c := range catalog.All() {
		if c.Area != Area {
			continue
		}
		row := evidence.CheckResult{ID: c.ID, Title: titles[c.ID], Level: string(c.Derbysoft), Transcripts: []string{}}
		st := j.states[c.ID]
		switch {
		case !picked[c.ID]:
			row.Status, row.Reason = evidence.StatusSkipped, "not selected"
		case st == nil:
			row.Status, row.Reason = evidence.StatusSkipped, "not run"
		case st.missing != "" && j.unserved != "":
			row.Status, row.Reason = evidence.StatusSkipped, "the "+st.missing+" session "+j.unserved
		case st.missing != "":
			row.Status, row.Reason = evidence.StatusSkipped, "the "+st.missing+" session did not run"
		default:
			row.DurationMS = time.Since(st.started).Milliseconds()
			row.Notes = redactAll(j.red, st.notes)
			row.Level = string(st.level)
			if len(st.fails) > 0 && st.level != catalog.Info {
				row.Status = evidence.StatusFailed
				rs := redactAll(j.red, st.fails)
				if len(rs) > 3 {
					rs = append(rs[:3], fmt.Sprintf("and %d more", len(rs)-3))
				}
				row.Reason = strings.Join(rs, "; ")
			} else {
				row.Status = evidence.StatusPassed
				for _, f := range st.fails {
					row.Notes = append(row.Notes, "finding (INFO): "+j.red.String(f))
				}
			}
			if d := droppedNote(st.outs); d != "" {
				row.Notes = append(row.Notes, d)
			}
		}
		rows = append(rows, row)
	}
	result, counts := steps.Summarize(rows, strict)
	return &evidence.Summary{Result: result, Profile: catalog.ProfileDerbySoft, Target: "authzcheck client: the partner's program against the embedded mock",
		Started: started.UTC(), Finished: finished.UTC(), Counts: counts, Checks: rows}
}

func redactAll(red *redact.Redactor, xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, red.String(x))
	}
	return out
}

// writeBundle writes summary.json, junit.xml, cucumber.json and the cited transcripts into
// cfg.Dir and seals it (cfg.Seal).
func (j *judge) writeBundle(cfg *Config, sum *evidence.Summary, cucumber []byte, started, finished time.Time) error {
	tdir := filepath.Join(cfg.Dir, "transcripts")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return fmt.Errorf("evidence directory: %w", err)
	}
	names := map[cite]string{}
	for i := range sum.Checks {
		row := &sum.Checks[i]
		st := j.states[row.ID]
		if st == nil {
			continue
		}
		for _, c := range st.cites {
			name, ok := names[c]
			if !ok {
				o := j.outcomes[c.sess]
				rec, found := o.find(c.seq)
				if !found {
					continue
				}
				name = fmt.Sprintf("%04d.json", len(names)+1)
				names[c] = name
				b, err := json.MarshalIndent(j.transcript(o, rec, len(names), row.ID), "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(tdir, name), append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("writing transcript: %w", err)
				}
			}
			if !slices.Contains(row.Transcripts, name) {
				row.Transcripts = append(row.Transcripts, name)
			}
		}
	}
	if err := steps.WriteOutputs(cfg.Dir, sum, [][]byte{cucumber}); err != nil {
		return err
	}
	if err := j.writeTimeline(cfg.Dir); err != nil {
		return fmt.Errorf("writing the timeline: %w", err)
	}
	var creds []reports.Credential
	clientID := ""
	for _, o := range j.outcomes {
		if o.s != nil {
			creds = append(creds, reports.Credential{ID: o.s.clientID, Secret: o.s.secret})
			clientID = o.s.clientID
		}
	}
	run := evidence.RunInfo{RunID: reports.NewRunID(), Kind: evidence.KindConformance, Started: started, Finished: finished,
		Profile: catalog.ProfileDerbySoft, Tags: strings.Join(cfg.Only, ","), Strict: cfg.Strict,
		TargetURL: "client: " + strings.Join(cfg.Command, " "), ClientID: clientID, Result: sum.Result}
	seal := cfg.Seal
	if seal == nil {
		seal = func(run evidence.RunInfo, opts reports.FinalizeOptions) error {
			return reports.Finalize(cfg.Dir, run, opts)
		}
	}
	if err := seal(run, reports.FinalizeOptions{SignKey: cfg.SignKey, Credentials: creds}); err != nil {
		return fmt.Errorf("sealing the evidence: %w", err)
	}
	return nil
}

func (o *outcome) find(seq int) (record, bool) {
	for _, r := range o.recs("") {
		if r.Seq == seq {
			return r, true
		}
	}
	return record{}, false
}

// transcript is a record as written evidence: redacted, tokens as fingerprints.
func (j *judge) transcript(o *outcome, r record, seq int, check string) evidence.Transcript {
	base := o.s.base
	if r.Origin == "other" {
		base = o.s.otherURL
	}
	u := base + r.Path
	if r.RawQuery != "" {
		u += "?" + r.RawQuery
	}
	t := evidence.Transcript{Seq: seq, Checks: []string{check}, Started: r.Start.UTC(),
		DurationMS: float64(r.End.Sub(r.Start).Microseconds()) / 1000,
		Request:    evidence.TranscriptRequest{Method: r.Method, URL: j.red.String(u), Header: j.headers(r.Header), Body: j.red.String(string(r.Body))}}
	if r.Status != 0 {
		resp := &evidence.TranscriptResponse{Status: r.Status, Header: j.headers(r.ResponseHeader), Body: j.red.String(string(r.Answer))}
		if r.IssuedToken != "" {
			resp.Tokens = append(resp.Tokens, redact.Token(r.IssuedToken))
		}
		t.Response = resp
	}
	if r.Status == 0 && r.Error != "" {
		t.Error = j.red.String(r.Error)
	}
	return t
}

func (j *judge) headers(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		for _, v := range vs {
			out[k] = append(out[k], j.red.Header(k, v))
		}
	}
	return out
}
