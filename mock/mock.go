// Package mock is the reference AuthZ server: a faithful, strict-by-default stand-in for
// DerbySoft's OAuth 2.0 client-credentials token endpoint (RS256 JWTs) and a small sample Ticket
// API that accepts its tokens. The conformance suite and the load generator run against it, and
// partners use it from their own Go tests like an httptest.Server:
//
//	srv, err := mock.New()
//	defer srv.Close()
//	cfg := clientcredentials.Config{ClientID: mock.DefaultClientID, ClientSecret: mock.DefaultClientSecret,
//		TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}
//
// Named quirks (Quirks) and faults (Faults) turn it into a deliberately non-conforming or
// unreliable server, and a loopback-only control API (ControlClient) changes it while it runs.
package mock

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authzcheck/authzcheck/internal/loopback"
)

// Demo credentials: the mock's own published test clients. The secrets contain characters that
// form-urlencoding changes ('+', '/', '=', '%', '!'), so RFC 6749 §2.3.1 encoding is exercised.
const (
	DefaultClientID      = "DEMO"
	DefaultClientSecret  = "Demo+Secret/Key=42%!ok"
	DefaultClient2ID     = "DEMO2"
	DefaultClient2Secret = "Second+Demo/Key=7%!xy"
)

// Paths the mock serves.
const (
	TokenPath   = "/ticket-distributor-authorizer/token"
	JWKSPath    = "/.well-known/jwks.json"
	ControlPath = "/_control/"
	// Issuer is the iss claim of every token, as in the seed's example.
	Issuer = "https://www.derbysoft.com"
	// DefaultTokenTTL is the token lifetime (expires_in 28800).
	DefaultTokenTTL = 8 * time.Hour
	// ControlTokenHeader carries the control token on /_control/ requests.
	ControlTokenHeader = "X-Control-Token"
)

// DefaultScopes are the scopes a client gets when none are configured, in the seed's order.
var DefaultScopes = []string{"shop.all", "reservation.all", "product.all", "livecheck.all"}

// Client is one OAuth client the mock knows.
type Client struct {
	ID     string   `json:"id"`
	Secret string   `json:"secret"`
	Scopes []string `json:"scopes,omitempty"` // empty: DefaultScopes
	// Distributor is the dis claim; empty: the client ID.
	Distributor string `json:"distributor,omitempty"`
}

// Policy is how the token endpoint issues tokens.
type Policy string

const (
	// PolicyReissue issues a new token on every request.
	PolicyReissue Policy = "reissue"
	// PolicyCached returns the same token until it nears expiry, expires_in counting down.
	PolicyCached Policy = "cached"
)

// ParsePolicy reads "reissue" or "cached".
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case PolicyReissue, PolicyCached:
		return Policy(s), nil
	}
	return "", fmt.Errorf("unknown policy %q (want reissue or cached)", s)
}

// Option configures New: each sets fields of the server's Config.
type Option func(*Config)

// WithConfig sets every field c sets (see Config.Merge), over earlier options.
func WithConfig(c Config) Option { return func(d *Config) { d.Merge(c) } }

// WithClients replaces the default demo clients (DefaultClientID, DefaultClient2ID).
func WithClients(c ...Client) Option {
	return func(s *Config) { s.Clients = append(make([]Client, 0, len(c)), c...) }
}

// WithTokenTTL sets the token lifetime (default 8h, whole seconds, at least 1s).
func WithTokenTTL(d time.Duration) Option { return func(s *Config) { s.TokenTTL = &d } }

// WithPolicy sets the issuance policy (default PolicyReissue).
func WithPolicy(p Policy) Option { return func(s *Config) { s.Policy = &p } }

// WithRevokePrevious makes a new token revoke the client's earlier ones at the sample API.
func WithRevokePrevious(on bool) Option { return func(s *Config) { s.RevokePrevious = &on } }

// WithKey sets the RS256 signing key (default: a fresh 2048-bit key).
func WithKey(k *rsa.PrivateKey) Option { return func(s *Config) { s.Key = k } }

// WithQuirks turns on named deviations from the contract (see Quirks).
func WithQuirks(names ...string) Option {
	return func(s *Config) { s.Quirks = append(slices.Clip(s.Quirks), names...) }
}

// WithFaults injects latency, errors, rate limiting, resets and truncation on the token endpoint.
func WithFaults(f Faults) Option { return func(s *Config) { s.Faults = &f } }

// WithAddr sets the listen address (default "127.0.0.1:0"). A non-loopback address needs
// WithAllowNonLoopback(true).
func WithAddr(addr string) Option { return func(s *Config) { s.Addr = addr } }

// WithAllowNonLoopback permits listening on a non-loopback address. The control API still
// answers loopback peers only.
func WithAllowNonLoopback(on bool) Option { return func(s *Config) { s.AllowNonLoopback = on } }

// WithLogger sets the logger (default: discard). Secrets and tokens are never logged.
func WithLogger(l *slog.Logger) Option { return func(s *Config) { s.Logger = l } }

// WithNow sets the base clock (default time.Now); the control API's Advance adds to it.
func WithNow(now func() time.Time) Option { return func(s *Config) { s.Now = now } }

// WithControlToken sets the control token (default: 32 random hex characters).
func WithControlToken(tok string) Option { return func(s *Config) { s.ControlToken = tok } }

// Server is a running mock. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config // the configuration New was given, after defaults (Reset returns to it)
	ln      net.Listener
	hs      *http.Server
	url     string
	log     *slog.Logger
	logOn   bool // a logger was given (the hot path skips building log records otherwise)
	clock   *clock
	metrics *metrics
	control *ControlClient
	// ctlTransport carries Control()'s requests; its idle connections close with the server.
	ctlTransport *http.Transport
	initKeys     *keySet
	tls          *serverTLS // nil without WithTLS

	st   atomic.Pointer[state]
	keys atomic.Pointer[keySet]
	mu   sync.Mutex // serialises writers of st and keys

	issued *tokenRing
	cache  tokenCache
	latest sync.Map // client ID -> revocation: its newest token (revoke-previous, late-revoke-previous)
	scopes sync.Map // token -> []string, for tokens issued without a scope claim (quirk); bounded by issued
	opaque sync.Map // token -> opaqueEntry (quirk opaque-token); bounded by issued

	// perSecond is scope -> perSecondEntry (quirk shared-token-per-second): one entry per scope.
	perSecond sync.Map

	inFlight   atomic.Int64
	peak       atomic.Int64   // the most requests handled at once since the start (MaxInFlight)
	lastRotate atomic.Int64   // mock-clock UnixNano of the last key rotation (fault KeyRotateEvery)
	rotating   atomic.Bool    // a background rotation is running
	bg         sync.WaitGroup // background work Shutdown waits for
	closeOnce  sync.Once
	serveErr   chan error
}

// ErrNotLoopback is wrapped by New's error when WithAddr names a non-loopback address and
// WithAllowNonLoopback was not given.
var ErrNotLoopback = errors.New("not loopback")

// New starts a mock on 127.0.0.1:0 (or WithAddr) and returns once it accepts connections. An
// error wraps ErrNotLoopback for a refused address, and a *net.OpError when listening failed
// (the address is taken or cannot be bound); anything else is bad configuration.
func New(opts ...Option) (*Server, error) {
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.ControlToken == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		cfg.ControlToken = hex.EncodeToString(b[:])
	}
	st, err := newState(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		cfg.Key = k
	}
	ks, err := newKeySet(cfg.Key, nil)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Addr) // Validate checked its form
	if !cfg.AllowNonLoopback && !loopback.Host(host) {
		return nil, fieldErr("addr", fmt.Errorf("listen address %q is %w; allow it explicitly to serve other hosts", cfg.Addr, ErrNotLoopback))
	}
	var stls *serverTLS
	if cfg.TLS {
		if stls, err = newServerTLS(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		log:      cfg.Logger,
		clock:    &clock{base: cfg.Now},
		metrics:  newMetrics(),
		initKeys: ks,
		tls:      stls,
		issued:   newTokenRing(maxIssuedTokens),
		serveErr: make(chan error, 1),
	}
	s.logOn = cfg.Logger.Handler().Enabled(context.Background(), slog.LevelInfo)
	s.publish(st)
	s.keys.Store(ks)
	s.lastRotate.Store(s.clock.now().UnixNano())
	s.url = "http://" + ln.Addr().String()
	s.ctlTransport = &http.Transport{MaxIdleConnsPerHost: 4}
	if stls != nil {
		s.url = "https://" + ln.Addr().String()
		s.ctlTransport.TLSClientConfig = &tls.Config{RootCAs: stls.pool, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, stls.config)
	}
	s.control = NewControlClient(s.url, cfg.ControlToken, &http.Client{Transport: s.ctlTransport, Timeout: 30 * time.Second})
	s.hs = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	// The TLS listener's connections are *tls.Conn, so Serve handshakes them and sets r.TLS.
	go func() { s.serveErr <- s.hs.Serve(ln) }()
	return s, nil
}

// DemoClients returns the two demo clients with their published secrets and the default scopes.
func DemoClients() []Client {
	return []Client{
		{ID: DefaultClientID, Secret: DefaultClientSecret, Scopes: append([]string(nil), DefaultScopes...), Distributor: DefaultClientID},
		{ID: DefaultClient2ID, Secret: DefaultClient2Secret, Scopes: append([]string(nil), DefaultScopes...), Distributor: DefaultClient2ID},
	}
}

// URL is the server's base URL, "http://127.0.0.1:PORT" ("https://..." WithTLS).
func (s *Server) URL() string { return s.url }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.url + TokenPath }

// APIURL is the default Bearer-protected sample API (GET /products).
func (s *Server) APIURL() string { return s.url + "/products" }

// JWKSURL is the JSON Web Key Set of the signing keys.
func (s *Server) JWKSURL() string { return s.url + JWKSPath }

// PublicKey is the current signing key's public half.
func (s *Server) PublicKey() *rsa.PublicKey { return &s.keys.Load().current.priv.PublicKey }

// ControlToken is the secret the control API wants in X-Control-Token.
func (s *Server) ControlToken() string { return s.cfg.ControlToken }

// Control is a ControlClient bound to this server.
func (s *Server) Control() *ControlClient { return s.control }

// Now is the mock's clock: the base clock plus every Advance.
func (s *Server) Now() time.Time { return s.clock.now() }

// Shutdown stops accepting connections and waits for in-flight requests to finish, or ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.ctlTransport.CloseIdleConnections()
		err = s.hs.Shutdown(ctx)
		if serr := <-s.serveErr; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		s.bg.Wait()
	})
	return err
}

// Close drains in-flight requests (up to 10 s) and stops the server.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		_ = s.hs.Close()
	}
}

// clock is the mock's injectable clock: a base plus an offset the control API advances.
type clock struct {
	base   func() time.Time
	offset atomic.Int64
}

func (c *clock) now() time.Time          { return c.base().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *clock) reset()                  { c.offset.Store(0) }
