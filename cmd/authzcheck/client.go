package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/client"
	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/steps"
)

const clientUsage = `Usage: authzcheck client [flags] -- COMMAND [ARG...]
       authzcheck client --serve [--addr HOST:PORT] [--duration D] [flags]

Certifies a partner's OAuth 2.0 client-credentials client (the CLIENT checks of CHECKS.md). For
each scenario it starts an embedded mock with fresh credentials and tokens of a few seconds, runs
COMMAND with AUTHZ_TOKEN_URL, AUTHZ_API_URL, AUTHZ_CLIENT_ID and AUTHZ_CLIENT_SECRET (TLS
scenarios add AUTHZ_CA_FILE, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE), stops it
(SIGTERM, then SIGKILL after --grace) and judges what the mock saw. {token_url}, {api_url} and
{client_id} in ARGs are replaced; the secret is only ever in the environment.

  authzcheck client -- ./my-client --workers 4
  authzcheck client -- python3 client.py {token_url}

--serve is for a client that cannot be started as a command: it prints the URLs and
credentials, runs the scenarios one after another on one mock and judges what it saw.

Exit codes: 0 every MUST check held; 1 a MUST check failed (or a SHOULD check with --strict);
2 bad usage, or COMMAND cannot be started; 3 the harness failed.

Flags:
`

// runClient is the 'client' subcommand: flags in, client.Run (or client.Serve), a short
// console report out.
func runClient(env *cli.Env) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		tags     = fs.String("tags", "", "check IDs or a tag expression as for conformance, e.g. 'CLIENT-04,CLIENT-05' or '@must && ~@CLIENT-14' (default: all)")
		strict   = fs.Bool("strict", false, "a failed SHOULD check fails the run")
		out      = fs.String("out", "", "evidence directory (default evidence/<UTC timestamp>/)")
		signKey  = fs.String("sign-key", "", "ed25519 private key (PEM) to sign the bundle's SHA256SUMS")
		grace    = fs.Duration("grace", 2*time.Second, "how long COMMAND has to exit after SIGTERM before SIGKILL")
		parallel = fs.Int("parallel", 0, "sessions run at once (0: all of them)")
		quiet    = fs.Bool("quiet", false, "print only the result line and errors")
		serve    = fs.Bool("serve", false, "serve the scenarios for a client started elsewhere, instead of starting COMMAND")
		addr     = fs.String("addr", "127.0.0.1:0", "--serve: listen address (loopback unless --allow-non-loopback)")
		remote   = fs.Bool("allow-non-loopback", false, "--serve: listen on an address other machines reach (plain HTTP: test credentials only)")
		duration = fs.Duration("duration", 0, "--serve: time per scenario (default: each scenario's own, 6 to 13 s)")
	)
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(env.Stdout, clientUsage, fs)
			return nil
		}
		return cli.Usagef("%v; run 'authzcheck client -h' for the flags", err)
	}
	command := fs.Args()
	if err := checkClientArgs(command, *serve, *grace, *parallel, *duration); err != nil {
		return err
	}
	var key ed25519.PrivateKey
	if *signKey != "" {
		k, err := reports.ReadPrivateKeyFile(*signKey)
		if err != nil {
			return cli.Usagef("--sign-key: %v", err)
		}
		key = k
	}
	dir := runDir(*out)
	// As for conformance: the bundle is checked (a sealed one verified) before COMMAND starts,
	// the run writes beside it, and only a sealed run is put in place.
	stage, err := openBundle(dir, evidence.KindConformance)
	if err != nil {
		return err
	}
	defer stage.Close()
	sealed := false
	seal := func(run evidence.RunInfo, opts reports.FinalizeOptions) error {
		err := stage.Seal(run, opts)
		sealed = err == nil
		return err
	}
	var only []string
	for _, t := range strings.Split(*tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			only = append(only, t)
		}
	}
	cfg := client.Config{Command: command, Dir: stage.Dir(), Seal: seal, Only: only, Grace: *grace, Parallel: *parallel,
		Strict: *strict, SignKey: key, Stderr: env.Stderr}
	if !*quiet {
		cfg.Stdout = env.Stdout
	}
	ctx := env.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	var (
		sum    *evidence.Summary
		runErr error
	)
	if *serve {
		sum, runErr = client.Serve(ctx, client.ServeConfig{Config: cfg, Addr: *addr, AllowNonLoopback: *remote,
			Duration: *duration, Status: env.IsTerminal})
	} else {
		if !*quiet {
			fmt.Fprintf(env.Stdout, "authzcheck client: %s\n", strings.Join(command, " "))
		}
		sum, runErr = client.Run(ctx, cfg)
	}
	var ce *steps.ConfigError
	if errors.As(runErr, &ce) {
		return cli.Usagef("%v", ce)
	}
	if sum == nil {
		return cli.Unreachablef("%v", runErr)
	}
	shown := dir
	if !sealed {
		shown = "" // nothing was put in place
	}
	printResults(env.Stdout, sum, shown, *quiet)
	return clientOutcome(sum, runErr, dir)
}

// checkClientArgs refuses a COMMAND with --serve, none without it, and out-of-range durations.
func checkClientArgs(command []string, serve bool, grace time.Duration, parallel int, duration time.Duration) error {
	switch {
	case serve && len(command) > 0:
		return cli.Usagef("--serve takes no COMMAND: start your client yourself against the URLs it prints")
	case !serve && len(command) == 0:
		return cli.Usagef("no COMMAND: authzcheck client [flags] -- COMMAND [ARG...] (or --serve)")
	case grace <= 0:
		return cli.Usagef("--grace %s: must be positive", grace)
	case parallel < 0:
		return cli.Usagef("--parallel %d: must not be negative", parallel)
	case duration < 0:
		return cli.Usagef("--duration %s: must not be negative", duration)
	}
	return nil
}

// clientOutcome is the exit of a judged client run: 3 when the harness failed, 1 when a MUST
// check failed (or a SHOULD under --strict).
func clientOutcome(sum *evidence.Summary, runErr error, dir string) error {
	if runErr != nil {
		return cli.Unreachablef("%v", runErr)
	}
	return verdictOutcome(sum, dir)
}
