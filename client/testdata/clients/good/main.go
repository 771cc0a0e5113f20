// Command good is the reference Go client of DerbySoft's Ticket APIs for `authzcheck client`: what
// a partner's integration should look like, and the fixture that must pass every MUST and SHOULD
// check of the CLIENT area.
//
// It gets tokens with golang.org/x/oauth2/clientcredentials (HTTP Basic, fixed), keeps them in a
// tokencache.Cache (refresh at about 80% of expires_in, one fetch for all workers, backoff that
// honours Retry-After, refetches after rejected tokens spaced) and sends them through
// tokencache.NewTransport (Bearer, one retry after a 401). Several workers call the sample
// Ticket API until SIGTERM or SIGINT.
//
// Environment (the contract of `authzcheck client`): AUTHZ_TOKEN_URL, AUTHZ_API_URL,
// AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET, and AUTHZ_CA_FILE (a PEM CA to trust, optional).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

func main() {
	workers := flag.Int("workers", 4, "concurrent API callers")
	pause := flag.Duration("pause", 50*time.Millisecond, "pause between one worker's calls")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if err := run(*workers, *pause); err != nil {
		// Errors name what is wrong; none of them carries the secret or a token.
		log.Print(err)
		os.Exit(1)
	}
}

func run(workers int, pause time.Duration) error {
	env := map[string]string{}
	for _, k := range []string{"AUTHZ_TOKEN_URL", "AUTHZ_API_URL", "AUTHZ_CLIENT_ID", "AUTHZ_CLIENT_SECRET"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			return fmt.Errorf("%s is not set: run me under `authzcheck client`", k)
		}
	}
	base, err := transport(os.Getenv("AUTHZ_CA_FILE"))
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	cfg := clientcredentials.Config{
		ClientID:     env["AUTHZ_CLIENT_ID"],
		ClientSecret: env["AUTHZ_CLIENT_SECRET"],
		TokenURL:     env["AUTHZ_TOKEN_URL"],
		// Fixed: auto-detection would resend a failed request with the secret in the body.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	tokenHTTP := &http.Client{
		Transport: base,
		Timeout:   10 * time.Second,
		// A token endpoint has no business redirecting: following would send the Basic
		// credential to wherever it points (Go keeps Authorization for the same host name on
		// another port). The 3xx reaches oauth2 as a failed fetch instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Not ctx: a fetch should finish even while we shut down, and Close discards it.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, tokenHTTP)
	// cfg.Token fetches on every call; the cache decides when to call it (and spaces the
	// refetches after rejected tokens, so an API rejecting every token causes no storm).
	src := tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(tokenCtx) })
	cache := tokencache.New(src, tokencache.Backoff(250*time.Millisecond, 5*time.Second))
	defer cache.Close()

	api := &http.Client{
		// Bearer and the 401 retry from the cache; a fresh echo-token on every attempt below it.
		Transport: tokencache.NewTransport(cache, echoTokens{base}),
		Timeout:   10 * time.Second,
	}
	c := &caller{api: api, base: strings.TrimRight(env["AUTHZ_API_URL"], "/"), distributor: env["AUTHZ_CLIENT_ID"]}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { c.work(ctx, w, pause) })
	}
	wg.Wait()
	st := cache.Stats()
	log.Printf("stopped: %d API calls, %d failed; %d token fetches, %d refreshes, %d 401 retries",
		c.calls.Load(), c.failed.Load(), st.Fetches, st.Refreshes, st.Retries401)
	return nil
}

// transport is http.DefaultTransport trusting caFile as well as the system's roots.
func transport(caFile string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("AUTHZ_CA_FILE: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("AUTHZ_CA_FILE %s: no PEM certificate in it", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// echoTokens sets DerbySoft's echo-token, unique per request sent (a 401 retry is a new one).
type echoTokens struct{ base http.RoundTripper }

func (e echoTokens) RoundTrip(req *http.Request) (*http.Response, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	r := req.Clone(req.Context()) // a RoundTripper must not modify its request
	r.Header.Set("echo-token", hex.EncodeToString(b[:]))
	return e.base.RoundTrip(r)
}

// call is one sample Ticket API operation.
type call struct {
	method, path, body string
}

var calls = []call{
	{http.MethodGet, "/products", ""},
	{http.MethodPost, "/shopping", `{"productId":"PRD-1001","dateRange":{"startDate":"2026-12-01","endDate":"2026-12-02"},"durationDays":1,"affiliation":"WEB"}`},
	{http.MethodPost, "/livecheck", `{"products":[{"productId":"PRD-1001","quantity":2}],"date":"2026-12-01"}`},
	{http.MethodPost, "/reservations", `{"products":[{"productId":"PRD-1001","quantity":2}],"date":"2026-12-01"}`},
}

type caller struct {
	api         *http.Client
	base        string
	distributor string
	calls       atomic.Int64
	failed      atomic.Int64
	gate        gate
}

// work calls the API until ctx is done, pausing between calls and backing off after failures.
func (c *caller) work(ctx context.Context, w int, pause time.Duration) {
	for i := w; ctx.Err() == nil; i++ {
		if !c.gate.wait(ctx) {
			return
		}
		wait, err := c.do(ctx, calls[i%len(calls)])
		c.calls.Add(1)
		switch {
		case err == nil:
			c.gate.ok()
		case ctx.Err() != nil:
			return
		default:
			c.failed.Add(1)
			log.Printf("worker %d: %v", w, err)
			c.gate.fail(wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// do makes one call; a failure may say how long the server asked us to wait (Retry-After).
func (c *caller) do(ctx context.Context, op call) (time.Duration, error) {
	var body io.Reader
	if op.body != "" {
		body = bytes.NewReader([]byte(op.body)) // replayable: http.NewRequest sets GetBody
	}
	req, err := http.NewRequestWithContext(ctx, op.method, c.base+op.path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("distributor-id", c.distributor)
	req.Header.Set("Accept", "application/json")
	if op.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if op.path == "/products" {
		req.Header.Set("supplier-id", "SUP-01")
	}
	resp, err := c.api.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", op.method, op.path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		// The transport already retried a 401 once with a new token: another 401 means the
		// API rejects every token, and hammering it (or the token endpoint) would not help.
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("%s %s: %s", op.method, op.path, resp.Status)
	}
	return 0, nil
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// gate is the workers' shared backoff: after a failure nobody calls until it opens again, so a
// rejected token or a failing API costs one call per round, not one per worker per pause.
type gate struct {
	mu    sync.Mutex
	until time.Time
	delay time.Duration
}

const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// wait blocks until the gate is open; false when ctx ended first.
func (g *gate) wait(ctx context.Context) bool {
	g.mu.Lock()
	d := time.Until(g.until)
	g.mu.Unlock()
	if d <= 0 {
		return true
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// fail closes the gate for the next backoff step, or for what the server asked if longer.
// Failures of calls made in the same round (the gate was already closed) count once.
func (g *gate) fail(serverWait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if now.Before(g.until) {
		return
	}
	g.delay = min(max(2*g.delay, minBackoff), maxBackoff)
	g.until = now.Add(max(g.delay, serverWait))
}

func (g *gate) ok() {
	g.mu.Lock()
	g.delay = 0
	g.mu.Unlock()
}
