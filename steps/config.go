// Package steps is the conformance runner: the godog step definitions behind the Gherkin suite
// in package features, the HTTP recorder that writes one redacted transcript per exchange, and
// the verdict logic that turns scenario outcomes into summary.json (CHECKS.md), cucumber.json
// and junit.xml. The command (cmd/authzcheck conformance) builds a Config and calls Run; tests
// call Run against the embedded mock or small loopback servers.
//
// State lives per scenario in the context godog passes from step to step; a Run shares nothing
// with another Run, so several may run at once in one process.
//
// Files by concern: run.go runs godog and its hooks (independent scenarios at once within
// Config.Concurrency, the ordered ones alone); tokenstore.go keeps tokens between runs
// (--token-store); plan.go decides what runs (the suite's
// areas of the catalogue, tags, needs, the preflight); index.go reads the feature files'
// scenarios; progress.go prints the marks; state.go is a scenario's state and judge; steps.go and
// wordings.go define the steps, most of them tables of wordings (step families); requests.go and
// api.go are the tables of token requests and API calls, cachesteps.go the actions that depend
// on time (asking again a second later, the two clients at once); assertions.go, jwtsteps.go,
// transport.go, wholerun.go and everytoken.go are the outcome families (jwt.go decodes and
// forges JWTs); recorder.go sends and writes transcripts, keeping of each token answer what
// tokenfacts.go works out; verdict.go, output.go and waivers.go make the
// evidence.
package steps

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/loopback"
)

// Config is everything a conformance run needs. Only TokenURL, ClientID and ClientSecret are
// required; a need whose field is empty is unmet and its checks are skipped with the reason.
type Config struct {
	// TokenURL is the token endpoint.
	TokenURL string
	// APIURL is a Bearer-protected API called with GET (the "api" need); "" leaves it unmet.
	APIURL string
	// OtherScopeURL is an API called with POST that needs a scope other than product.all
	// (BEARER-13; the mock's /shopping). "" takes it from APIURLFor, else skips BEARER-13.
	OtherScopeURL string
	// APIURLFor maps a scope to a Bearer-protected API that needs it (--api-url-for
	// SCOPE=URL). Under the derbysoft profile an API's name stands for its scope (APIScope).
	// The first URL, in scope order, of a scope other than product.all is BEARER-13's
	// OtherScopeURL.
	APIURLFor map[string]string
	// TokenStore is a directory outside OutDir where the run keeps the first token it obtains
	// for ClientID (mode 0600; the token and when it expires, never a secret; the bundle names
	// it by fingerprint only), and from which BEARER-11 takes one that has expired by now when
	// Control is unmet. "" keeps nothing.
	TokenStore string

	ClientID, ClientSecret string
	// Client2ID and Client2Secret are a second client (the "client2" need).
	Client2ID, Client2Secret string

	// Profile is catalog.ProfileDerbySoft (default) or catalog.ProfileRFC6749.
	Profile string

	// JWKSURL and PublicKey are the issuer's keys (the "keys" need); either is enough.
	JWKSURL   string
	PublicKey *rsa.PublicKey

	// Control mints tokens the target would never hand out (the "control" need); nil: unmet.
	Control Control

	// RootCAs are the roots TLS certificates must verify against; nil: the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds each HTTP exchange, including reading the body (default 10 s).
	Timeout time.Duration
	// MaxDuration bounds the whole run (default 5 min); checks not finished by then fail.
	MaxDuration time.Duration
	// MaxBody is the most of a response body that is read (default 1 MiB); the rest is
	// dropped and the transcript marked truncated.
	MaxBody int64
	// Concurrency bounds the requests in flight at once, and the independent scenarios run at
	// once (default 4 against a target that is not loopback, 8 against loopback; 1 runs one
	// request after another). The checks that depend on order (orderedCheck) always run one
	// after another, alone.
	Concurrency int

	// Tags is a godog tag expression selecting checks ("@must && ~@api", "@AUTH-02,@TOK-01").
	// @intrusive checks run only when the expression names @intrusive or their ID.
	Tags string
	// Strict makes a failed SHOULD check fail the run.
	Strict bool
	// Waivers excuse failures; an expired waiver (at the run's start) is not applied, and the
	// failed row names it (see ParseWaivers).
	Waivers []evidence.Waiver

	// OutDir receives summary.json, cucumber.json, junit.xml and transcripts/. It is created.
	OutDir string
	// Progress, when set, receives one line per area as its checks finish.
	Progress io.Writer
	// Now is the harness clock (default time.Now).
	Now func() time.Time

	// wait waits d or until ctx ends, for the checks that must look again later (CACHE-01,
	// CACHE-03); tests against the mock advance the mock's clock instead of waiting.
	wait func(ctx context.Context, d time.Duration) error
}

// Control is what the "control" need provides: tokens that only the issuer itself could mint.
// cmd adapts the mock's control API to it.
type Control interface {
	// ExpiredToken returns a token for clientID, signed by the issuer's real key, whose exp is
	// in the past.
	ExpiredToken(ctx context.Context, clientID string) (string, error)
}

// ControlFunc adapts a function to Control.
type ControlFunc func(ctx context.Context, clientID string) (string, error)

// ExpiredToken calls f.
func (f ControlFunc) ExpiredToken(ctx context.Context, clientID string) (string, error) {
	return f(ctx, clientID)
}

func (c *Config) setDefaults() {
	if c.Profile == "" {
		c.Profile = catalog.ProfileDerbySoft
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = 5 * time.Minute
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.OtherScopeURL == "" {
		c.OtherScopeURL = otherScopeURL(c.Profile, c.APIURLFor)
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency(c.TokenURL)
	}
	if c.wait == nil {
		c.wait = waitFor
	}
}

// derbysoftAPIScopes is the seed's mapping of the Ticket APIs to the scope each needs.
var derbysoftAPIScopes = map[string]string{"products": "product.all", "shopping": "shop.all", "livecheck": "livecheck.all"}

// baseScope is the scope the suite's scoped token asks for (BEARER-13): the products API's.
const baseScope = "product.all"

// APIScope is the scope an --api-url-for key names: under the derbysoft profile an API's name
// (products, shopping, livecheck) stands for its scope; anything else is the scope itself.
func APIScope(profile, key string) string {
	if s, ok := derbysoftAPIScopes[strings.ToLower(key)]; ok && profile != catalog.ProfileRFC6749 {
		return s
	}
	return key
}

// otherScopeURL is the URL of the first scope, in order, that is not baseScope.
func otherScopeURL(profile string, urls map[string]string) string {
	scopes := make([]string, 0, len(urls))
	for k := range urls {
		scopes = append(scopes, k)
	}
	sort.Strings(scopes)
	for _, k := range scopes {
		if APIScope(profile, k) != baseScope {
			return urls[k]
		}
	}
	return ""
}

// DefaultConcurrency is the bound on requests in flight when Config.Concurrency is 0: 4 against
// a target that is not loopback (a partner's server sees no more than a small client would
// send), 8 against loopback (the mock, or a tunnel to the target).
func DefaultConcurrency(tokenURL string) int {
	if loopback.URL(tokenURL) {
		return 8
	}
	return 4
}

// waitFor waits d, or until ctx ends.
func waitFor(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
