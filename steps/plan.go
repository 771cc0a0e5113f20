package steps

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/authzcheck/authzcheck/features"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/loopback"
)

// Checks are the checks a conformance run plans and reports, in catalogue order: those of the
// catalogue areas whose feature file the embedded suite has (the token endpoint's and the APIs'
// areas). Other areas of the catalogue (CLIENT, certifying a client) are run by other means.
func Checks() []catalog.Check { c, _ := suiteCatalogue(); return c }

// suiteCatalogue is Checks and their areas, worked out once.
var suiteCatalogue = sync.OnceValues(func() ([]catalog.Check, []catalog.Area) {
	return suiteChecks(catalog.All(), catalog.Areas(), features.FS)
})

// suiteChecks keeps the checks and areas of a catalogue whose area has its feature file,
// <area>.feature in lower case, at the root of fsys.
func suiteChecks(all []catalog.Check, areas []catalog.Area, fsys fs.FS) ([]catalog.Check, []catalog.Area) {
	has := map[string]bool{}
	var keptAreas []catalog.Area
	for _, a := range areas {
		if _, err := fs.Stat(fsys, featureFile(a.Code)); err == nil {
			has[a.Code] = true
			keptAreas = append(keptAreas, a)
		}
	}
	var kept []catalog.Check
	for _, c := range all {
		if has[c.Area] {
			kept = append(kept, c)
		}
	}
	return kept, keptAreas
}

// catalogue is the checks the run plans: Checks, unless a test gave the runner others.
func (r *runner) catalogue() []catalog.Check {
	if r.checks != nil {
		return r.checks
	}
	return Checks()
}

// featureFile is the feature file of a catalogue area.
func featureFile(area string) string { return strings.ToLower(area) + ".feature" }

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
	for scope, v := range cfg.APIURLFor {
		u, err := url.Parse(v)
		if scope == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("API URL for scope %q %q: want a scope and an http(s) URL", scope, v)
		}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("the client ID and secret are required")
	}
	if cfg.OutDir == "" {
		return nil, errors.New("no output directory")
	}
	if cfg.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency %d: want at least 1 request in flight", cfg.Concurrency)
	}
	return parseTagExpr(cfg.Tags)
}

// plan decides which checks run and why the others do not.
func (r *runner) plan(sel tagExpr) []string {
	var run []string
	local := loopback.URL(r.cfg.TokenURL)
	for _, c := range r.catalogue() {
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

// dialTokenEndpoint opens a TCP connection to the token endpoint u (its port, or the scheme's),
// within ctx and the run's timeout, without sending anything.
func (r *runner) dialTokenEndpoint(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	return (&net.Dialer{Timeout: r.cfg.Timeout}).DialContext(ctx, "tcp", host)
}

// preflight connects to the token endpoint once, without sending anything, so that an
// unreachable target or an untrusted certificate is known before any credential is sent.
// It returns why the run cannot go on and, when so, the error to return.
func (r *runner) preflight(ctx context.Context) (string, error) {
	u, _ := url.Parse(r.cfg.TokenURL)
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return "", nil // never dialled: plan() already kept only SEC-01
	}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	conn, err := r.dialTokenEndpoint(dctx, u)
	if err != nil {
		return "the token endpoint could not be reached: " + shortErr(r.red, err), errors.New(shortErr(r.red, err))
	}
	defer conn.Close()
	if u.Scheme != "https" {
		return "", nil
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: r.cfg.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
	err = tc.HandshakeContext(dctx)
	var cve *tls.CertificateVerificationError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &cve):
		// The certificate is the target's failure (SEC-02), not unreachability: SEC-01 and
		// SEC-02 run (the handshake fails again before anything is sent), the rest is skipped.
		for _, c := range r.catalogue() {
			if c.ID != "SEC-01" && c.ID != "SEC-02" {
				r.skips[c.ID] = "not run: the token endpoint's TLS certificate did not verify, so no credential was sent (SEC-02)"
			}
		}
		return "", nil
	case r.legacyTLS(ctx).version != 0:
		// The endpoint speaks only TLS 1.0/1.1: no credential may go over it (RFC 8996). SEC-01
		// and SEC-03 run (SEC-03 fails with the version), the rest is skipped.
		why := "not run: the token endpoint offers only " + tls.VersionName(r.legacyTLS(ctx).version) +
			", below TLS 1.2, so no credential was sent (SEC-03)"
		for _, c := range r.catalogue() {
			if c.ID != "SEC-01" && c.ID != "SEC-03" {
				r.skips[c.ID] = why
			}
		}
		return "", nil
	default:
		return "the TLS handshake with the token endpoint failed: " + shortErr(r.red, err), errors.New(shortErr(r.red, err))
	}
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
			if c.Control == nil && r.stored.Token == "" {
				return r.storedWhy
			}
		}
	}
	return ""
}
