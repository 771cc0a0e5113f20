package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/mock"
)

// targetFlags are the flags that name a target and its credentials, shared by 'conformance' and
// 'load' (DESIGN.md, "Command line"). Register them with addTargetFlags, then call resolve after
// parsing. Every URL and credential flag has an environment variable; a flag given on the
// command line wins over its variable.
type targetFlags struct {
	tokenURL, target, apiURL            string
	clientID, clientSecret, secretFile  string
	client2ID, client2Secret            string
	profile, jwksURL, publicKey, caFile string
	timeout                             time.Duration
}

// addTargetFlags registers --token-url/--target, --api-url, --client-id, --client-secret,
// --client-secret-file, --client2-id, --client2-secret, --profile, --jwks-url, --public-key,
// --ca-file and --timeout on fs.
func addTargetFlags(fs *flag.FlagSet) *targetFlags {
	f := &targetFlags{}
	fs.StringVar(&f.tokenURL, "token-url", "", "token endpoint URL, or 'mock' for the embedded mock (env AUTHZ_TOKEN_URL; default mock)")
	fs.StringVar(&f.target, "target", "", "same as --token-url ('mock' starts the embedded mock)")
	fs.StringVar(&f.apiURL, "api-url", "", "a Bearer-protected Ticket API URL for the BEARER checks (env AUTHZ_API_URL)")
	fs.StringVar(&f.clientID, "client-id", "", "client ID (env AUTHZ_CLIENT_ID)")
	fs.StringVar(&f.clientSecret, "client-secret", "", "client secret; prefer env AUTHZ_CLIENT_SECRET or --client-secret-file (argv is visible to other users)")
	fs.StringVar(&f.secretFile, "client-secret-file", "", "file holding the client secret (first line)")
	fs.StringVar(&f.client2ID, "client2-id", "", "a second client's ID, for CACHE-05 (env AUTHZ_CLIENT2_ID)")
	fs.StringVar(&f.client2Secret, "client2-secret", "", "the second client's secret; prefer env AUTHZ_CLIENT2_SECRET")
	fs.StringVar(&f.profile, "profile", "", "derbysoft or rfc6749 (env AUTHZ_PROFILE; default derbysoft)")
	fs.StringVar(&f.jwksURL, "jwks-url", "", "the issuer's JWKS URL (JWT-09, BEARER-10)")
	fs.StringVar(&f.publicKey, "public-key", "", "PEM file with the issuer's RSA public key (JWT-09, BEARER-10)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of CA certificates to trust instead of the system roots")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "per-request timeout")
	return f
}

// target is a resolved target: where to send requests, with which credentials, and how to
// trust it. It never prints its secrets (see String).
type target struct {
	TokenURL      string
	APIURL        string // "" when no API is known (BEARER checks are skipped)
	ClientID      string
	ClientSecret  string
	Client2ID     string // "" when no second client is known (CACHE-05 is skipped)
	Client2Secret string
	Profile       string // catalog.ProfileDerbySoft or catalog.ProfileRFC6749
	JWKSURL       string
	PublicKey     *rsa.PublicKey // from --public-key, or the embedded mock's key
	RootCAs       *x509.CertPool // nil: the system roots
	Timeout       time.Duration  // per request
	// Mock is the embedded mock when the target is "mock", else nil. Close stops it.
	Mock *mock.Server
	// Warnings are one-line notes for the console (a secret given on argv, ...).
	Warnings []string
}

// String describes the target without any secret.
func (t *target) String() string {
	s := t.TokenURL + " as client " + t.ClientID
	if t.Mock != nil {
		s = "the embedded mock (" + s + ")"
	}
	return s
}

// Close stops the embedded mock, if one was started. The run is over by then, so it waits only
// briefly for connections to drain (a server still reading a large refused body would
// otherwise hold the command up to its drain timeout).
func (t *target) Close() {
	if t.Mock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = t.Mock.Shutdown(ctx)
	}
}

// IsMock reports whether the target is the embedded mock.
func (t *target) IsMock() bool { return t.Mock != nil }

// resolve turns the parsed flags and the environment into a target. When the token URL is
// "mock" or unset it starts the embedded mock with mockOpts and its demo clients, keys and
// sample API. Bad values are usage errors (exit 2) naming the flag; a secret given on argv is
// accepted with a warning.
func (f *targetFlags) resolve(env *cli.Env, mockOpts ...mock.Option) (*target, error) {
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	pick := func(flagVal, envName string) string {
		if flagVal != "" {
			return flagVal
		}
		return strings.TrimSpace(getenv(envName))
	}
	t := &target{Timeout: f.timeout, JWKSURL: f.jwksURL}
	if t.Timeout <= 0 {
		return nil, cli.Usagef("--timeout %v: must be positive, e.g. --timeout 10s", f.timeout)
	}
	var err error
	if t.Profile, err = profileOf(pick(f.profile, "AUTHZ_PROFILE")); err != nil {
		return nil, err
	}
	if f.tokenURL != "" && f.target != "" && f.tokenURL != f.target {
		return nil, cli.Usagef("--token-url and --target disagree; give only one")
	}
	tokenURL := f.tokenURL
	if tokenURL == "" {
		tokenURL = pick(f.target, "AUTHZ_TOKEN_URL")
	}
	if err := f.readTrust(t); err != nil {
		return nil, err
	}
	if err := f.readCredentials(t, pick); err != nil {
		return nil, err
	}
	t.APIURL = pick(f.apiURL, "AUTHZ_API_URL")
	if err := refuseCleartext(tokenURL, t.APIURL, t.JWKSURL); err != nil {
		return nil, err
	}
	if tokenURL == "" || tokenURL == "mock" {
		if err := t.startMock(mockOpts); err != nil {
			return nil, err
		}
		return t, nil
	}
	t.TokenURL = tokenURL
	if err := t.checkRemote(); err != nil {
		return nil, err
	}
	return t, nil
}

// profileOf is the --profile (or AUTHZ_PROFILE) value, derbysoft when empty.
func profileOf(p string) (string, error) {
	switch p {
	case "":
		return catalog.ProfileDerbySoft, nil
	case catalog.ProfileDerbySoft, catalog.ProfileRFC6749:
		return p, nil
	}
	return "", cli.Usagef("--profile %q: use derbysoft or rfc6749", p)
}

// readTrust reads --ca-file and --public-key into t.
func (f *targetFlags) readTrust(t *target) error {
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return cli.Usagef("--ca-file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cli.Usagef("--ca-file %s: no PEM certificate found", f.caFile)
		}
		t.RootCAs = pool
	}
	if f.publicKey != "" {
		k, err := readRSAPublicKey(f.publicKey)
		if err != nil {
			return cli.Usagef("--public-key: %v", err)
		}
		t.PublicKey = k
	}
	return nil
}

// readCredentials reads both clients' credentials from the flags, the environment and
// --client-secret-file into t, warning of a secret given on argv.
func (f *targetFlags) readCredentials(t *target, pick func(flagVal, envName string) string) error {
	if f.clientSecret != "" {
		t.Warnings = append(t.Warnings, "--client-secret on the command line is visible to other users of this machine; prefer AUTHZ_CLIENT_SECRET or --client-secret-file")
	}
	if f.client2Secret != "" {
		t.Warnings = append(t.Warnings, "--client2-secret on the command line is visible to other users of this machine; prefer AUTHZ_CLIENT2_SECRET")
	}
	secret := pick(f.clientSecret, "AUTHZ_CLIENT_SECRET")
	if f.secretFile != "" {
		if f.clientSecret != "" {
			return cli.Usagef("--client-secret and --client-secret-file both given; give only one")
		}
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return cli.Usagef("--client-secret-file: %v", err)
		}
		secret = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
		if secret == "" {
			return cli.Usagef("--client-secret-file %s: the first line is empty", f.secretFile)
		}
	}
	t.ClientID = pick(f.clientID, "AUTHZ_CLIENT_ID")
	t.ClientSecret = secret
	t.Client2ID = pick(f.client2ID, "AUTHZ_CLIENT2_ID")
	t.Client2Secret = pick(f.client2Secret, "AUTHZ_CLIENT2_SECRET")
	return nil
}

// checkRemote checks a target that is not the embedded mock: its URLs and its credentials.
func (t *target) checkRemote() error {
	if err := checkURL("--token-url", t.TokenURL, "https://host/ticket-distributor-authorizer/token, or 'mock'"); err != nil {
		return err
	}
	for _, u := range []struct{ flag, url string }{{"--api-url", t.APIURL}, {"--jwks-url", t.JWKSURL}} {
		if u.url == "" {
			continue
		}
		if err := checkURL(u.flag, u.url, "https://host/path"); err != nil {
			return err
		}
	}
	if t.ClientID == "" || t.ClientSecret == "" {
		return cli.Usagef("--token-url is set but the credentials are not: set AUTHZ_CLIENT_ID and AUTHZ_CLIENT_SECRET (or --client-id and --client-secret-file)")
	}
	if (t.Client2ID == "") != (t.Client2Secret == "") {
		return cli.Usagef("give both the second client's ID and secret (AUTHZ_CLIENT2_ID, AUTHZ_CLIENT2_SECRET) or neither")
	}
	for _, c := range []struct{ name, secret string }{{"client secret", t.ClientSecret}, {"second client's secret", t.Client2Secret}} {
		if n := utf8.RuneCountInString(c.secret); c.secret != "" && n < minSecretLength {
			return cli.Usagef("the %s is %d characters: evidence is redacted by searching for the secret, which needs at least %d, or ordinary text would match it (give a test server a longer secret)", c.name, n, minSecretLength)
		}
	}
	return nil
}

// refuseCleartext refuses, for every subcommand and before anything is started or dialled, a
// plain-HTTP URL to a host that is not loopback: a Basic credential, a client secret or a Bearer
// token would travel there in clear (loopback.Cleartext, the project's one rule).
func refuseCleartext(tokenURL, apiURL, jwksURL string) error {
	for _, u := range []struct{ flag, url string }{{"--token-url", tokenURL}, {"--api-url", apiURL}, {"--jwks-url", jwksURL}} {
		if err := loopback.Cleartext(u.url); err != nil {
			return cli.Usagef("%s: %v", u.flag, err)
		}
	}
	return nil
}

// minSecretLength is the shortest client secret accepted. Redaction finds a secret by its text
// in every output; a short one ("secret", "x") also matches ordinary words, so output would be
// garbled and the evidence bundle refused as holding the secret.
const minSecretLength = 8

// checkURL refuses anything but an absolute http(s) URL, and one carrying a user or password:
// those would travel with every request and be written into the evidence. The message shows the
// URL with its password masked.
func checkURL(flagName, raw, example string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if err == nil && u.User != nil {
			raw = u.Redacted()
		}
		return cli.Usagef("%s %q: want an http(s) URL like %s", flagName, raw, example)
	}
	if u.User != nil {
		return cli.Usagef("%s %s: credentials in the URL are not accepted; give them as AUTHZ_CLIENT_ID and AUTHZ_CLIENT_SECRET", flagName, u.Redacted())
	}
	return nil
}

// startMock starts the embedded mock and points the target at it, with its demo clients, its
// keys and its sample API. It serves HTTPS itself, trusted through its own CA only, so a run
// against it takes the same TLS path as one against UAT (SEC-02..04 are judged, not skipped)
// and the URLs recorded are the ones every request went to. Credentials given for another
// target are not used against it.
func (t *target) startMock(opts []mock.Option) error {
	if t.ClientID != "" || t.ClientSecret != "" || t.Client2ID != "" {
		t.Warnings = append(t.Warnings, "the target is the embedded mock: its demo clients are used, the given credentials are ignored")
	}
	s, err := mock.New(append(slices.Clip(opts), mock.WithTLS())...)
	if err != nil {
		return cli.Unreachablef("starting the embedded mock: %v", err)
	}
	t.Mock = s
	t.RootCAs = s.RootCAs()
	t.TokenURL = s.TokenURL()
	if t.APIURL == "" {
		t.APIURL = s.APIURL()
	}
	if t.JWKSURL == "" && t.PublicKey == nil {
		t.JWKSURL = s.JWKSURL()
		t.PublicKey = s.PublicKey()
	}
	t.ClientID, t.ClientSecret = mock.DefaultClientID, mock.DefaultClientSecret
	t.Client2ID, t.Client2Secret = mock.DefaultClient2ID, mock.DefaultClient2Secret
	return nil
}

// readRSAPublicKey reads an RSA public key from a PEM file: PUBLIC KEY (PKIX), RSA PUBLIC KEY
// (PKCS #1) or a CERTIFICATE.
func readRSAPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
			return k, nil
		}
		return nil, fmt.Errorf("%s: the certificate's key is not RSA", path)
	}
	k, err := jwt.ParseRSAPublicKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v (want a PEM RSA public key)", path, err)
	}
	return k, nil
}
