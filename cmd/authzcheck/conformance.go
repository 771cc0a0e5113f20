package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/steps"
)

const conformanceUsage = `Usage: authzcheck conformance [flags]

Runs the check catalogue (CHECKS.md) against a token endpoint and writes the evidence bundle.
With no configuration it starts the embedded mock and runs everything but @intrusive checks.
Against UAT:

  AUTHZ_TOKEN_URL=https://ticket-distributor-public.derbysoft-test.com/ticket-distributor-authorizer/token \
  AUTHZ_CLIENT_ID=... AUTHZ_CLIENT_SECRET=... authzcheck conformance

Exit codes: 0 every required check held; 1 a MUST check failed (or a SHOULD check with --strict);
2 bad usage or configuration; 3 the target could not be reached, or the harness failed.

Flags:
`

// runConformance is the 'conformance' subcommand: flags in, steps.Run, reports.Finalize,
// a short console report out.
func runConformance(env *cli.Env) error {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tf := addTargetFlags(fs)
	var (
		tags    = fs.String("tags", "", "godog tag expression selecting checks, e.g. '@must && ~@api' or '@AUTH-02,@TOK-01' (@intrusive runs only when named)")
		strict  = fs.Bool("strict", false, "a failed SHOULD check fails the run")
		waivers = fs.String("waivers", "", "file of waived check IDs: 'ID [YYYY-MM-DD] reason' per line, or a JSON array")
		out     = fs.String("out", "", "evidence directory (default evidence/<UTC timestamp>/)")
		signKey = fs.String("sign-key", "", "ed25519 private key (PEM) to sign the bundle's SHA256SUMS")
		quiet   = fs.Bool("quiet", false, "print only the result line and errors")
		store   = fs.String("token-store", "", "directory outside --out keeping a token of each run (mode 0600, no secret): a later run presents one that has expired by then (BEARER-11)")
		apiFor  = apiURLFlag{}
		conc    = fs.Int("concurrency", 0, "most requests in flight at once; independent checks run at once within it, CACHE and AUTH-17 alone (default 4 against a remote target, 8 against loopback; 1: one after another)")
	)
	fs.Var(apiFor, "api-url-for", "SCOPE=URL: a Bearer-protected API (called with POST) that needs SCOPE, repeatable; one needing a scope other than product.all runs BEARER-13 (derbysoft: products, shopping, livecheck name their scopes)")
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(env.Stdout, conformanceUsage, fs)
			return nil
		}
		return cli.Usagef("%v; run 'authzcheck conformance -h' for the flags", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q; run 'authzcheck conformance -h' for the flags", fs.Arg(0))
	}
	if *conc < 0 || (*conc == 0 && flagGiven(fs, "concurrency")) {
		return cli.Usagef("--concurrency %d: give at least 1 (1 sends one request after another)", *conc)
	}

	// Everything that can be wrong with the configuration is found before anything starts.
	ws, key, err := conformanceInputs(*waivers, *signKey)
	if err != nil {
		return err
	}
	dir := runDir(*out)
	if err := checkTokenStore(*store, dir); err != nil {
		return err
	}
	// The bundle is checked (and a sealed one verified) before any request is sent; the run
	// writes beside it and Seal puts it in place, so a run failing part-way changes nothing.
	stage, err := openBundle(dir, evidence.KindConformance)
	if err != nil {
		return err
	}
	defer stage.Close()

	t, err := tf.resolve(env)
	if err != nil {
		return err
	}
	defer t.Close()
	for _, w := range t.Warnings {
		fmt.Fprintf(env.Stderr, "authzcheck conformance: warning: %s\n", w)
	}
	cfg := conformanceConfig(t)
	cfg.Tags, cfg.Strict, cfg.Waivers, cfg.OutDir = *tags, *strict, ws, stage.Dir()
	cfg.Concurrency = *conc // 0: steps.DefaultConcurrency
	cfg.TokenStore, cfg.APIURLFor = *store, apiFor
	if !*quiet {
		fmt.Fprintf(env.Stdout, "authzcheck conformance: %s, profile %s\n", t, t.Profile)
		cfg.Progress = env.Stdout
	}

	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	started := time.Now()
	ws = evidence.MarkExpired(ws, started)
	warnExpired(env.Stderr, ws)
	sum, runErr := steps.Run(ctx, cfg)
	finished := time.Now()
	var ce *steps.ConfigError
	if errors.As(runErr, &ce) {
		return cli.Usagef("%v", ce)
	}
	if sum == nil {
		return cli.Unreachablef("%v", runErr)
	}

	run := evidence.RunInfo{RunID: reports.NewRunID(), Kind: evidence.KindConformance, Started: started, Finished: finished,
		Profile: t.Profile, Tags: *tags, Strict: *strict, Waivers: ws, TargetURL: t.TokenURL, APIURL: t.APIURL,
		ClientID: t.ClientID, Result: sum.Result}
	creds := []reports.Credential{{ID: t.ClientID, Secret: t.ClientSecret}, {ID: t.Client2ID, Secret: t.Client2Secret}}
	finErr := stage.Seal(run, reports.FinalizeOptions{SignKey: key, Credentials: creds})

	shown := dir
	if finErr != nil {
		shown = "" // nothing was put in place
	}
	printResults(env.Stdout, sum, shown, *quiet)
	return conformanceOutcome(sum, runErr, finErr, dir)
}

// conformanceInputs reads the --waivers and --sign-key files: a bad one is a usage error before
// anything starts, not a run thrown away at the end.
func conformanceInputs(waivers, signKey string) ([]evidence.Waiver, ed25519.PrivateKey, error) {
	var ws []evidence.Waiver
	if waivers != "" {
		b, err := os.ReadFile(waivers)
		if err != nil {
			return nil, nil, cli.Usagef("--waivers: %v", err)
		}
		if ws, err = steps.ParseWaivers(b); err != nil {
			return nil, nil, cli.Usagef("--waivers %s: %v", waivers, err)
		}
	}
	if signKey == "" {
		return ws, nil, nil
	}
	key, err := reports.ReadPrivateKeyFile(signKey)
	if err != nil {
		return nil, nil, cli.Usagef("--sign-key: %v", err)
	}
	return ws, key, nil
}

// conformanceOutcome turns the run's and the seal's outcome into the exit code's error.
func conformanceOutcome(sum *evidence.Summary, runErr, finErr error, dir string) error {
	switch {
	case runErr != nil:
		var ue *steps.UnreachableError
		if errors.As(runErr, &ue) {
			return cli.Unreachablef("%v; the checks it could not judge are skipped (evidence in %s)", ue, dir)
		}
		return cli.Unreachablef("%v", runErr)
	case finErr != nil:
		return cli.Unreachablef("sealing the evidence: %v", finErr)
	}
	return verdictOutcome(sum, dir)
}

// verdictOutcome is the exit of a run whose checks were judged: 1 when a MUST check failed (or a
// SHOULD under --strict), nil when it passed.
func verdictOutcome(sum *evidence.Summary, dir string) error {
	switch {
	case sum.Result == evidence.Passed:
		return nil
	case sum.Counts.FailedMust > 0:
		return cli.Failedf("%d MUST check(s) failed; see %s", sum.Counts.FailedMust, filepath.Join(dir, evidence.SummaryFile))
	}
	return cli.Failedf("%d SHOULD check(s) failed under --strict; see %s", sum.Counts.FailedShould, filepath.Join(dir, evidence.SummaryFile))
}

// conformanceConfig turns a resolved target into the runner's Config. The embedded mock serves
// HTTPS itself (see startMock), and its control API mints the expired tokens BEARER-11 needs.
func conformanceConfig(t *target) steps.Config {
	cfg := steps.Config{
		TokenURL: t.TokenURL, APIURL: t.APIURL,
		ClientID: t.ClientID, ClientSecret: t.ClientSecret,
		Client2ID: t.Client2ID, Client2Secret: t.Client2Secret,
		Profile: t.Profile, JWKSURL: t.JWKSURL, PublicKey: t.PublicKey,
		RootCAs: t.RootCAs, Timeout: t.Timeout,
	}
	if t.Mock == nil {
		return cfg
	}
	cfg.OtherScopeURL = t.Mock.URL() + "/shopping"
	ctl := t.Mock.Control()
	cfg.Control = steps.ControlFunc(func(ctx context.Context, clientID string) (string, error) {
		return ctl.Mint(ctx, mock.MintRequest{ClientID: clientID, Expired: true})
	})
	return cfg
}

// printResults prints the failed and warned checks with their reasons, the counts, and where
// the evidence is. Reasons are already free of secrets and tokens.
func printResults(w io.Writer, sum *evidence.Summary, dir string, quiet bool) {
	if !quiet {
		var rows []evidence.CheckResult
		for _, c := range sum.Checks {
			if c.Status == evidence.StatusFailed || c.Status == evidence.StatusWaived {
				rows = append(rows, c)
			}
		}
		if len(rows) > 0 {
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CHECK\tLEVEL\tSTATUS\tREASON")
			for _, c := range rows {
				status := string(c.Status)
				if c.Status == evidence.StatusFailed && catalog.Level(c.Level) == catalog.Should {
					status = "warning"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, strings.ToUpper(c.Level), status, clip(c.Reason, 160))
			}
			_ = tw.Flush()
		}
		fmt.Fprintln(w)
	}
	n := sum.Counts
	fmt.Fprintf(w, "%s: %d checks: %d passed, %d failed (%d MUST, %d SHOULD), %d skipped, %d waived\n",
		strings.ToUpper(sum.Result), n.Total, n.Passed, n.Failed, n.FailedMust, n.FailedShould, n.Skipped, n.Waived)
	if dir == "" {
		fmt.Fprintln(w, "evidence: not written (see the error below)")
		return
	}
	fmt.Fprintf(w, "evidence: %s (report.html, summary.json, junit.xml)\n", dir)
}

// runDir is a run's --out directory: out, or a new one under evidence/ named for the time.
func runDir(out string) string {
	if out != "" {
		return out
	}
	return filepath.Join("evidence", time.Now().UTC().Format("20060102T150405Z"))
}

// openBundle opens the --out directory of a run of kind (reports.Open): a refused directory is a
// usage error (exit 2), anything else a harness failure (exit 3).
func openBundle(dir, kind string) (*reports.Stage, error) {
	stage, err := reports.Open(dir, kind)
	switch {
	case errors.Is(err, reports.ErrRefused):
		return nil, cli.Usagef("%s", strings.TrimSuffix(err.Error(), ": "+reports.ErrRefused.Error()))
	case err != nil:
		return nil, cli.Unreachablef("%v", err)
	}
	return stage, nil
}

// warnExpired names each waiver whose expiry has come: it is listed in the evidence as expired,
// and not applied.
func warnExpired(w io.Writer, ws []evidence.Waiver) {
	for _, x := range ws {
		if x.Expired {
			fmt.Fprintf(w, "authzcheck conformance: warning: the waiver for %s expired on %s: it is not applied (listed as expired in the report)\n", x.ID, x.Expires)
		}
	}
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// apiURLFlag is --api-url-for SCOPE=URL, repeatable: the scope's URL.
type apiURLFlag map[string]string

func (f apiURLFlag) String() string { return "" }

// Set refuses, as the other URL flags do, what is not an http(s) URL, a URL carrying
// credentials, and plain HTTP to a host that is not loopback (a token would travel in clear).
func (f apiURLFlag) Set(v string) error {
	scope, u, ok := strings.Cut(v, "=")
	if !ok || scope == "" || u == "" {
		return fmt.Errorf("want SCOPE=URL, e.g. shop.all=https://host/path/shopping")
	}
	if err := checkURL("--api-url-for "+scope, u, "https://host/path"); err != nil {
		return err
	}
	if err := loopback.Cleartext(u); err != nil {
		return err
	}
	if _, dup := f[scope]; dup {
		return fmt.Errorf("scope %s given twice", scope)
	}
	f[scope] = u
	return nil
}

// checkTokenStore refuses a --token-store that overlaps the evidence directory: its tokens
// would enter the bundle.
func checkTokenStore(store, out string) error {
	if store == "" {
		return nil
	}
	s, err1 := filepath.Abs(store)
	o, err2 := filepath.Abs(out)
	if err := errors.Join(err1, err2); err != nil {
		return cli.Usagef("--token-store %s: %v", store, err)
	}
	inside := func(p, dir string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if inside(s, o) || inside(o, s) {
		return cli.Usagef("--token-store %s overlaps the evidence directory %s: give a directory outside it, so that no token enters the bundle", store, out)
	}
	return nil
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// printFlags prints a usage text and the flag set's defaults.
func printFlags(w io.Writer, usage string, fs *flag.FlagSet) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
