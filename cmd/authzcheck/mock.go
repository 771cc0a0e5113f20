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
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

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

// mockFlagValues are the parsed flags of 'authzcheck mock'.
type mockFlagValues struct {
	addr, configFile, keyFile, policy             string
	allowRemote, tls, revoke, listQuirks, verbose bool
	ttl                                           time.Duration
	clients, quirks                               multiFlag
	faults                                        mock.Faults
}

// addMockFlags registers the flags of 'authzcheck mock' on fs.
func addMockFlags(fs *flag.FlagSet) *mockFlagValues {
	v := &mockFlagValues{}
	fs.StringVar(&v.addr, "addr", defaultMockAddr, "listen address (loopback unless --allow-remote)")
	fs.BoolVar(&v.allowRemote, "allow-remote", false, "allow a non-loopback --addr (the control API stays loopback-only)")
	fs.BoolVar(&v.tls, "tls", false, "serve HTTPS with a certificate from a CA generated at start (printed, for --ca-file)")
	fs.StringVar(&v.configFile, "config", "", "JSON configuration file (see README, \"Mock\")")
	fs.DurationVar(&v.ttl, "token-ttl", mock.DefaultTokenTTL, "token lifetime, whole seconds (expires_in)")
	fs.StringVar(&v.keyFile, "key", "", "RS256 signing key, PEM (PKCS#1 or PKCS#8, >= 2048 bits); default: generated")
	fs.StringVar(&v.policy, "policy", string(mock.PolicyReissue), "issuance policy: reissue (new token per request) or cached")
	fs.BoolVar(&v.revoke, "revoke-previous", false, "a new token revokes the client's earlier ones at the sample API")
	f := &v.faults
	fs.DurationVar(&f.Latency, "latency", 0, "fault: latency added to every token answer")
	fs.DurationVar(&f.LatencyJitter, "latency-jitter", 0, "fault: plus a uniform random extra up to this")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "fault: share of token requests answered 500/503 (0..1)")
	fs.Float64Var(&f.RateLimitRate, "rate-limit-rate", 0, "fault: share answered 429 with Retry-After (0..1)")
	fs.DurationVar(&f.RetryAfter, "retry-after", time.Second, "fault: the Retry-After of a 429")
	fs.Float64Var(&f.ResetRate, "reset-rate", 0, "fault: share of connections reset without an answer (0..1)")
	fs.Float64Var(&f.TruncateRate, "truncate-rate", 0, "fault: share of success answers cut off mid-JSON (0..1)")
	fs.DurationVar(&f.KeyRotateEvery, "rotate-key-every", 0, "fault: rotate the signing key this often (by the mock's clock)")
	fs.BoolVar(&f.KeyRotateDropOld, "rotate-drop-old", false, "fault: a rotation drops the previous keys (earlier tokens stop verifying)")
	fs.BoolVar(&v.listQuirks, "list-quirks", false, "print every quirk with the checks it breaks, and exit")
	fs.BoolVar(&v.verbose, "v", false, "log every request outcome (never secrets or tokens) to stderr")
	fs.Var(&v.clients, "client", "a client ID:SECRET[:scope,...] (repeatable; replaces the demo clients)")
	fs.Var(&v.quirks, "quirk", "turn on a named deviation from the contract (repeatable; see --list-quirks)")
	return v
}

// defaultMockAddr is where 'authzcheck mock' listens when neither --addr nor the file says.
const defaultMockAddr = "127.0.0.1:8080"

// mockFlagFields maps each flag that sets a mock.Config field to that field's JSON name (as a
// mock.FieldError names it) and to how the flag's value sets it.
var mockFlagFields = []struct {
	flag, field string
	apply       func(c *mock.Config, v *mockFlagValues) error
}{
	{"addr", "addr", func(c *mock.Config, v *mockFlagValues) error { c.Addr = v.addr; return nil }},
	{"allow-remote", "allow_non_loopback", func(c *mock.Config, v *mockFlagValues) error { c.AllowNonLoopback = v.allowRemote; return nil }},
	{"tls", "tls", func(c *mock.Config, v *mockFlagValues) error { c.TLS = v.tls; return nil }},
	{"token-ttl", "token_ttl", func(c *mock.Config, v *mockFlagValues) error { c.TokenTTL = &v.ttl; return nil }},
	{"key", "key_file", func(c *mock.Config, v *mockFlagValues) error { c.KeyFile = v.keyFile; return nil }},
	{"policy", "policy", func(c *mock.Config, v *mockFlagValues) error { p := mock.Policy(v.policy); c.Policy = &p; return nil }},
	{"revoke-previous", "revoke_previous", func(c *mock.Config, v *mockFlagValues) error { c.RevokePrevious = &v.revoke; return nil }},
	{"client", "clients", applyClientFlags},
	{"quirk", "quirks", func(c *mock.Config, v *mockFlagValues) error {
		c.Quirks = append(slices.Clip(c.Quirks), v.quirks...) // added to the file's
		return nil
	}},
	{"latency", "faults", faultFlag(func(f, v *mock.Faults) { f.Latency = v.Latency })},
	{"latency-jitter", "faults", faultFlag(func(f, v *mock.Faults) { f.LatencyJitter = v.LatencyJitter })},
	{"error-rate", "faults", faultFlag(func(f, v *mock.Faults) { f.ErrorRate = v.ErrorRate })},
	{"rate-limit-rate", "faults", faultFlag(func(f, v *mock.Faults) { f.RateLimitRate = v.RateLimitRate })},
	{"retry-after", "faults", faultFlag(func(f, v *mock.Faults) { f.RetryAfter = v.RetryAfter })},
	{"reset-rate", "faults", faultFlag(func(f, v *mock.Faults) { f.ResetRate = v.ResetRate })},
	{"truncate-rate", "faults", faultFlag(func(f, v *mock.Faults) { f.TruncateRate = v.TruncateRate })},
	{"rotate-key-every", "faults", faultFlag(func(f, v *mock.Faults) { f.KeyRotateEvery = v.KeyRotateEvery })},
	{"rotate-drop-old", "faults", faultFlag(func(f, v *mock.Faults) { f.KeyRotateDropOld = v.KeyRotateDropOld })},
}

// faultFlag sets one fault of the configuration from the flags, keeping the file's others.
func faultFlag(set func(f, v *mock.Faults)) func(c *mock.Config, v *mockFlagValues) error {
	return func(c *mock.Config, v *mockFlagValues) error {
		f := mock.Faults{}
		if c.Faults != nil {
			f = *c.Faults
		}
		set(&f, &v.faults)
		c.Faults = &f
		return nil
	}
}

// applyClientFlags replaces the file's clients with the --client ones.
func applyClientFlags(c *mock.Config, v *mockFlagValues) error {
	c.Clients = nil
	for _, s := range v.clients {
		cl, err := mock.ParseClient(s)
		if err != nil {
			// The error names the client ID only, never the value: it holds a secret.
			return cli.Usagef("--client: %v", err)
		}
		c.Clients = append(c.Clients, cl)
	}
	return nil
}

// mockConfig is the one flag-over-config step: the --config file's settings, then every flag
// given on the command line over them, then the command's own default address. The result is
// checked; an error names the flag (or the file) that holds the bad value.
func mockConfig(v *mockFlagValues, set map[string]bool) (mock.Config, error) {
	var cfg mock.Config
	if v.configFile != "" {
		f, err := os.Open(v.configFile)
		if err != nil {
			return cfg, cli.Usagef("--config: %v", err)
		}
		c, err := mock.ReadConfig(f)
		f.Close()
		if err != nil {
			return cfg, cli.Usagef("--config %s: %v", v.configFile, err)
		}
		cfg = *c
	}
	for _, m := range mockFlagFields {
		if set[m.flag] {
			if err := m.apply(&cfg, v); err != nil {
				return cfg, err
			}
		}
	}
	if cfg.Addr == "" {
		cfg.Addr = defaultMockAddr
	}
	if err := cfg.Validate(); err != nil {
		return cfg, mockConfigError(err, v, set)
	}
	return cfg, nil
}

// mockConfigError turns a mock.FieldError into a usage error naming the flag that set the
// field, or the --config file when no flag did.
func mockConfigError(err error, v *mockFlagValues, set map[string]bool) error {
	var fe *mock.FieldError
	if !errors.As(err, &fe) {
		return cli.Usagef("%v", err)
	}
	if fe.Field == "faults" {
		// Faults name the fault in flag form: "fault error-rate 1.5: must be between 0 and 1".
		name, _, _ := strings.Cut(strings.TrimPrefix(fe.Err.Error(), "fault "), " ")
		if set[name] || v.configFile == "" {
			return cli.Usagef("--%s", strings.TrimPrefix(fe.Err.Error(), "fault "))
		}
	}
	for _, m := range mockFlagFields {
		if m.field == fe.Field && m.field != "faults" && (set[m.flag] || v.configFile == "") {
			return cli.Usagef("--%s: %v", m.flag, fe.Err)
		}
	}
	if v.configFile != "" {
		return cli.Usagef("--config %s: %v", v.configFile, fe)
	}
	return cli.Usagef("%v", fe)
}

// warnShortSecrets warns, one line per client, of a secret the harness would refuse to run
// with (minSecretLength). The mock still serves it: a partner's own tests may want one.
func warnShortSecrets(w io.Writer, clients []mock.Client) {
	for _, c := range clients {
		if n := utf8.RuneCountInString(c.Secret); n < minSecretLength {
			fmt.Fprintf(w, "authzcheck mock: warning: client %q has a %d-character secret; served, but 'authzcheck conformance' and 'load' refuse secrets under %d characters\n", c.ID, n, minSecretLength)
		}
	}
}

// runMock is the 'mock' subcommand.
func runMock(env *cli.Env) error {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := addMockFlags(fs)
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(env.Stdout, mockUsage, fs)
			return nil
		}
		return cli.Usagef("%v; run 'authzcheck mock -h' for the flags", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q; 'authzcheck mock' takes flags only", fs.Arg(0))
	}
	if v.listQuirks {
		printQuirks(env.Stdout)
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg, err := mockConfig(v, set)
	if err != nil {
		return err
	}
	if v.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(env.Stderr, nil))
	}
	warnShortSecrets(env.Stderr, cfg.Clients)
	if env.Getenv("GOGC") == "" {
		// RSA signing allocates ~10 KB per token while the live heap stays a few MB: the default
		// GOGC=100 would collect several times a second under load. 400 quarters that.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	srv, err := mock.New(mock.WithConfig(cfg))
	if err != nil {
		var opErr *net.OpError
		switch {
		case errors.Is(err, mock.ErrNotLoopback):
			return cli.Usagef("--addr %s is not a loopback address; add --allow-remote to serve other hosts", cfg.Addr)
		case errors.As(err, &opErr):
			return cli.Unreachablef("%v", err)
		}
		return mockConfigError(err, v, set)
	}
	printBanner(env.Stdout, srv, cfg)

	<-env.Ctx.Done()
	fmt.Fprintln(env.Stdout, "authzcheck mock: shutting down, draining in-flight requests")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return cli.Unreachablef("shutdown: %v", err)
	}
	return nil
}

func printBanner(w io.Writer, srv *mock.Server, cfg mock.Config) {
	userClients, quirks := cfg.Clients, cfg.Quirks
	p, ttl := mock.PolicyReissue, mock.DefaultTokenTTL
	setIf(&p, cfg.Policy)
	setIf(&ttl, cfg.TokenTTL)
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
	if ca := srv.CACertPEM(); ca != nil {
		fmt.Fprintf(w, "  TLS CA       the certificate below; save it to trust the mock (authzcheck --ca-file)\n%s", ca)
	}
}

func printQuirks(w io.Writer) {
	qs := mock.Quirks()
	sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	for _, q := range qs {
		fmt.Fprintf(w, "%-30s breaks %-40s %s\n", q.Name, strings.Join(q.Breaks, ","), q.Description)
	}
}

// setIf sets *dst to *v when v is not nil.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
