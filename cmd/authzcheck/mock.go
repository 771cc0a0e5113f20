package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/mock"
)

const mockUsage = `Usage: authzcheck mock [flags]

Serves the reference AuthZ mock (token endpoint, JWKS, sample Ticket API, control API) until
interrupted, then drains in-flight requests. Flags override the --config file.

Flags:
`

// multiFlag is a repeatable string flag (--client, --quirk, --threshold).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// runMock is the 'mock' subcommand.
func runMock(env *cli.Env) error {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		clients, quirks multiFlag
		addr            = fs.String("addr", "127.0.0.1:8080", "listen address (loopback unless --allow-remote)")
		allowRemote     = fs.Bool("allow-remote", false, "allow a non-loopback --addr (the control API stays loopback-only)")
		configFile      = fs.String("config", "", "JSON configuration file (see README, \"Mock\")")
		ttl             = fs.Duration("token-ttl", mock.DefaultTokenTTL, "token lifetime, whole seconds (expires_in)")
		keyFile         = fs.String("key", "", "RS256 signing key, PEM (PKCS#1 or PKCS#8, >= 2048 bits); default: generated")
		policy          = fs.String("policy", string(mock.PolicyReissue), "issuance policy: reissue (new token per request) or cached")
		revoke          = fs.Bool("revoke-previous", false, "a new token revokes the client's earlier ones at the sample API")
		latency         = fs.Duration("latency", 0, "fault: latency added to every token answer")
		jitter          = fs.Duration("latency-jitter", 0, "fault: plus a uniform random extra up to this")
		errorRate       = fs.Float64("error-rate", 0, "fault: share of token requests answered 500/503 (0..1)")
		rateLimitRate   = fs.Float64("rate-limit-rate", 0, "fault: share answered 429 with Retry-After (0..1)")
		retryAfter      = fs.Duration("retry-after", time.Second, "fault: the Retry-After of a 429")
		resetRate       = fs.Float64("reset-rate", 0, "fault: share of connections reset without an answer (0..1)")
		truncateRate    = fs.Float64("truncate-rate", 0, "fault: share of success answers cut off mid-JSON (0..1)")
		rotateEvery     = fs.Duration("rotate-key-every", 0, "fault: rotate the signing key this often (by the mock's clock)")
		rotateDropOld   = fs.Bool("rotate-drop-old", false, "fault: a rotation drops the previous keys (earlier tokens stop verifying)")
		listQuirks      = fs.Bool("list-quirks", false, "print every quirk with the checks it breaks, and exit")
		verbose         = fs.Bool("v", false, "log every request outcome (never secrets or tokens) to stderr")
	)
	fs.Var(&clients, "client", "a client ID:SECRET[:scope,...] (repeatable; replaces the demo clients)")
	fs.Var(&quirks, "quirk", "turn on a named deviation from the contract (repeatable; see --list-quirks)")
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, mockUsage)
			fs.SetOutput(env.Stdout)
			fs.PrintDefaults()
			return nil
		}
		return cli.Usagef("%v; run 'authzcheck mock -h' for the flags", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q; 'authzcheck mock' takes flags only", fs.Arg(0))
	}
	if *listQuirks {
		printQuirks(env.Stdout)
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var cfg mock.Config
	if *configFile != "" {
		f, err := os.Open(*configFile)
		if err != nil {
			return cli.Usagef("--config: %v", err)
		}
		c, err := mock.ReadConfig(f)
		f.Close()
		if err != nil {
			return cli.Usagef("--config %s: %v", *configFile, err)
		}
		cfg = *c
	}
	opts := []mock.Option{}
	listen := *addr
	if cfg.Addr != "" && !set["addr"] {
		listen = cfg.Addr
	}
	opts = append(opts, mock.WithAddr(listen), mock.WithAllowNonLoopback(*allowRemote))

	userClients := cfg.Clients
	if len(clients) > 0 {
		userClients = nil
		for _, s := range clients {
			c, err := mock.ParseClient(s)
			if err != nil {
				// The error names the client ID only, never the value: it holds a secret.
				return cli.Usagef("--client: %v", err)
			}
			userClients = append(userClients, c)
		}
	}
	if len(userClients) > 0 {
		opts = append(opts, mock.WithClients(userClients...))
	}

	tokenTTL := *ttl
	if !set["token-ttl"] {
		if d, _ := cfg.TTL(); d != 0 {
			tokenTTL = d
		}
	}
	if err := mock.ValidateTTL(tokenTTL); err != nil {
		return cli.Usagef("--token-ttl: %v", err)
	}
	opts = append(opts, mock.WithTokenTTL(tokenTTL))

	pol := *policy
	if !set["policy"] && cfg.Policy != "" {
		pol = string(cfg.Policy)
	}
	p, err := mock.ParsePolicy(pol)
	if err != nil {
		return cli.Usagef("--policy: %v", err)
	}
	opts = append(opts, mock.WithPolicy(p), mock.WithRevokePrevious(*revoke || (!set["revoke-previous"] && cfg.RevokePrevious)))

	kf := *keyFile
	if !set["key"] && cfg.KeyFile != "" {
		kf = cfg.KeyFile
	}
	if kf != "" {
		b, err := os.ReadFile(kf)
		if err != nil {
			return cli.Usagef("--key: %v", err)
		}
		k, err := mock.ParsePrivateKeyPEM(b)
		if err != nil {
			return cli.Usagef("--key %s: %v", kf, err)
		}
		opts = append(opts, mock.WithKey(k))
	}

	var faults mock.Faults
	if cfg.Faults != nil {
		faults = *cfg.Faults
	}
	for name, apply := range map[string]func(){
		"latency": func() { faults.Latency = *latency }, "latency-jitter": func() { faults.LatencyJitter = *jitter },
		"error-rate": func() { faults.ErrorRate = *errorRate }, "rate-limit-rate": func() { faults.RateLimitRate = *rateLimitRate },
		"retry-after": func() { faults.RetryAfter = *retryAfter }, "reset-rate": func() { faults.ResetRate = *resetRate },
		"truncate-rate":    func() { faults.TruncateRate = *truncateRate },
		"rotate-key-every": func() { faults.KeyRotateEvery = *rotateEvery }, "rotate-drop-old": func() { faults.KeyRotateDropOld = *rotateDropOld },
	} {
		if set[name] {
			apply()
		}
	}
	if err := faults.Validate(); err != nil {
		return cli.Usagef("--%v", strings.TrimPrefix(err.Error(), "fault "))
	}
	opts = append(opts, mock.WithFaults(faults))

	qs := append(append([]string(nil), cfg.Quirks...), quirks...)
	if err := mock.ValidateQuirks(qs); err != nil {
		return cli.Usagef("--quirk: %v", err)
	}
	opts = append(opts, mock.WithQuirks(qs...))
	if *verbose {
		opts = append(opts, mock.WithLogger(slog.New(slog.NewTextHandler(env.Stderr, nil))))
	}

	if env.Getenv("GOGC") == "" {
		// RSA signing allocates ~10 KB per token while the live heap stays a few MB: the default
		// GOGC=100 would collect several times a second under load. 400 quarters that.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	srv, err := mock.New(opts...)
	if err != nil {
		var opErr *net.OpError
		switch {
		case errors.Is(err, mock.ErrNotLoopback):
			return cli.Usagef("--addr %s is not a loopback address; add --allow-remote to serve other hosts", listen)
		case errors.As(err, &opErr):
			return cli.Unreachablef("%v", err)
		}
		return cli.Usagef("%v", err)
	}
	printBanner(env.Stdout, srv, userClients, qs, p, tokenTTL)

	<-env.Ctx.Done()
	fmt.Fprintln(env.Stdout, "authzcheck mock: shutting down, draining in-flight requests")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return cli.Unreachablef("shutdown: %v", err)
	}
	return nil
}

func printBanner(w io.Writer, srv *mock.Server, userClients []mock.Client, quirks []string, p mock.Policy, ttl time.Duration) {
	fmt.Fprintf(w, "authzcheck mock listening on %s\n", srv.URL())
	fmt.Fprintf(w, "  token URL    %s\n", srv.TokenURL())
	fmt.Fprintf(w, "  API URL      %s (also POST /shopping, /livecheck, /reservations)\n", srv.APIURL())
	fmt.Fprintf(w, "  JWKS URL     %s\n", srv.JWKSURL())
	fmt.Fprintf(w, "  metrics      %s/metrics\n", srv.URL())
	fmt.Fprintf(w, "  policy       %s, token lifetime %s\n", p, ttl)
	if len(userClients) == 0 {
		// The demo credentials are the mock's own published test clients, safe to print.
		fmt.Fprintf(w, "  demo client  %s / %s\n", mock.DefaultClientID, mock.DefaultClientSecret)
		fmt.Fprintf(w, "  demo client2 %s / %s\n", mock.DefaultClient2ID, mock.DefaultClient2Secret)
	} else {
		ids := make([]string, len(userClients))
		for i, c := range userClients {
			ids[i] = c.ID
		}
		fmt.Fprintf(w, "  clients      %s (secrets as configured, not shown)\n", strings.Join(ids, ", "))
	}
	if len(quirks) > 0 {
		fmt.Fprintf(w, "  quirks       %s\n", strings.Join(quirks, ", "))
	}
	fmt.Fprintf(w, "  control      %s/_control/ with %s: %s\n", srv.URL(), mock.ControlTokenHeader, srv.ControlToken())
}

func printQuirks(w io.Writer) {
	qs := mock.Quirks()
	sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	for _, q := range qs {
		fmt.Fprintf(w, "%-30s breaks %-40s %s\n", q.Name, strings.Join(q.Breaks, ","), q.Description)
	}
}
