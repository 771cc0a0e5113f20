// Command naive is a hand-written Ticket API client of the kind partners write without a token
// library, for `authzcheck client`. With -defect none it follows the contract; every other
// -defect value is one small change to that code that breaks one thing, the commonest integration
// mistakes, so a test can assert which checks catch each:
//
//	fetch-per-call      asks for a new token before every API call
//	hardcoded-28800     keeps a token for 28800 s whatever expires_in says
//	no-401-recovery     keeps using a token the API rejected with 401
//	retry-loop-401      after a 401, fetches new tokens and retries until one works
//	ignore-retry-after  retries a 429/503 token answer on its own schedule
//	creds-in-body       sends client_id and client_secret in the form body, not Basic
//	creds-in-query      sends client_id and client_secret in the token URL's query, not Basic
//	insecure-tls        skips TLS certificate verification
//	strict-expires-in   decodes expires_in as a JSON number only (the seed types it as a string)
//	follow-redirect     follows a redirect of its token request, Basic credential and all
//	                    (Go itself drops Authorization when a redirect leaves the host)
//	no-derby-headers    sends no echo-token or distributor-id
//
// Environment: AUTHZ_TOKEN_URL, AUTHZ_API_URL, AUTHZ_CLIENT_ID, AUTHZ_CLIENT_SECRET and
// AUTHZ_CA_FILE (optional). It calls the API with several workers until SIGTERM or SIGINT.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var defects = []string{"none", "fetch-per-call", "hardcoded-28800", "no-401-recovery", "retry-loop-401",
	"ignore-retry-after", "creds-in-body", "creds-in-query", "insecure-tls", "strict-expires-in",
	"follow-redirect", "no-derby-headers"}

func main() {
	defect := flag.String("defect", "none", "the one thing to get wrong: "+strings.Join(defects, ", "))
	workers := flag.Int("workers", 4, "concurrent API callers")
	pause := flag.Duration("pause", 50*time.Millisecond, "pause between one worker's calls")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if !slices.Contains(defects, *defect) {
		log.Printf("-defect %q: want one of %s", *defect, strings.Join(defects, ", "))
		os.Exit(2)
	}
	if err := run(*defect, *workers, *pause); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(defect string, workers int, pause time.Duration) error {
	env := map[string]string{}
	for _, k := range []string{"AUTHZ_TOKEN_URL", "AUTHZ_API_URL", "AUTHZ_CLIENT_ID", "AUTHZ_CLIENT_SECRET"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			return fmt.Errorf("%s is not set: run me under `authzcheck client`", k)
		}
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if defect == "insecure-tls" {
		tlsConf.InsecureSkipVerify = true // the defect: any certificate will do
	} else if ca := os.Getenv("AUTHZ_CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return fmt.Errorf("AUTHZ_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("AUTHZ_CA_FILE %s: no PEM certificate in it", ca)
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tokenHTTP := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	tokenHTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if defect == "follow-redirect" {
		// The defect, a common "fix" for a token endpoint behind a redirect: Go drops
		// Authorization when a redirect leaves the host, so this puts it back, wherever it goes.
		tokenHTTP.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			req.Header.Set("Authorization", via[0].Header.Get("Authorization"))
			return nil
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	c := &client{
		defect:      defect,
		api:         &http.Client{Transport: tr, Timeout: 10 * time.Second},
		apiBase:     strings.TrimRight(env["AUTHZ_API_URL"], "/"),
		distributor: env["AUTHZ_CLIENT_ID"],
		tokens: &tokens{defect: defect, hc: tokenHTTP, url: env["AUTHZ_TOKEN_URL"],
			id: env["AUTHZ_CLIENT_ID"], secret: env["AUTHZ_CLIENT_SECRET"]},
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { c.work(ctx, w, pause) })
	}
	wg.Wait()
	log.Print("stopped")
	return nil
}

// tokens is the hand-written token cache: one token, replaced at 80% of its lifetime.
type tokens struct {
	defect         string
	hc             *http.Client
	url, id        string
	secret         string
	mu             sync.Mutex // held across a fetch, so concurrent callers share it
	tok            string
	renew, expires time.Time
	notBefore      time.Time // no fetch before this after a failure
	fetched        time.Time // when the last fetch ended
	delay          time.Duration
}

// get returns a token to use now.
func (t *tokens) get(ctx context.Context) (string, error) {
	if t.defect == "fetch-per-call" {
		tok, _, err := t.fetch(ctx) // the defect: nothing is kept
		return tok, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.tok != "" && now.Before(t.renew) {
		return t.tok, nil
	}
	valid := t.tok != "" && now.Before(t.expires)
	if now.Before(t.notBefore) {
		if valid {
			return t.tok, nil
		}
		return "", fmt.Errorf("token endpoint failing; next attempt in %s", t.notBefore.Sub(now).Round(time.Millisecond))
	}
	// Never two fetches within 300 ms: when the API rejects every token, workers whose calls
	// overlap would each reject the token another just fetched, at the pace of the calls.
	if !sleep(ctx, time.Until(t.fetched.Add(300*time.Millisecond))) {
		return "", ctx.Err()
	}
	tok, lifetime, err := t.fetch(ctx)
	t.fetched = time.Now()
	if err != nil {
		t.delay = min(max(2*t.delay, 250*time.Millisecond), 5*time.Second)
		wait := t.delay
		var ra retryAfterError
		if errors.As(err, &ra) && ra.after > wait && t.defect != "ignore-retry-after" {
			wait = ra.after
		}
		t.notBefore = t.fetched.Add(wait) // Retry-After counts from the answer, not from the ask
		if valid {
			return t.tok, nil
		}
		return "", err
	}
	if t.defect == "hardcoded-28800" {
		lifetime = 28800 * time.Second // the defect: "it is always 8 hours"
	}
	t.delay = 0
	t.tok, t.expires, t.renew = tok, now.Add(lifetime), now.Add(lifetime*8/10)
	return tok, nil
}

// invalidate drops tok after the API rejected it, unless it was already replaced.
func (t *tokens) invalidate(tok string) {
	t.mu.Lock()
	if t.tok == tok {
		t.tok = ""
	}
	t.mu.Unlock()
}

type retryAfterError struct {
	status int
	after  time.Duration
}

func (e retryAfterError) Error() string {
	return fmt.Sprintf("token endpoint answered %d %s", e.status, http.StatusText(e.status))
}

// fetch asks the token endpoint for a new token.
func (t *tokens) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	u := t.url
	basic := true
	switch t.defect {
	case "creds-in-body":
		form.Set("client_id", t.id)
		form.Set("client_secret", t.secret)
		basic = false
	case "creds-in-query":
		u += "?" + url.Values{"client_id": {t.id}, "client_secret": {t.secret}}.Encode()
		basic = false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("token request: %w", err)
	}
	if basic {
		req.SetBasicAuth(t.id, t.secret) // base64(client_id:client_secret), as the seed shows
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := t.hc.Do(req)
	if err != nil {
		// Go's error names the URL: with creds-in-query that is the secret, so not this one.
		return "", 0, errors.New("token request failed")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", 0, fmt.Errorf("token answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, retryAfterError{status: resp.StatusCode, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	if t.defect == "strict-expires-in" {
		var tr struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"` // the defect: "28800" (a string) fails here
		}
		if err := json.Unmarshal(body, &tr); err != nil {
			return "", 0, fmt.Errorf("token answer: %w", err)
		}
		return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
	}
	var tr struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"` // 3600 or "3600"
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, fmt.Errorf("token answer: %w", err)
	}
	secs, err := tr.ExpiresIn.Float64()
	if tr.AccessToken == "" || err != nil || secs <= 0 {
		return "", 0, errors.New("token answer: no access_token or no positive expires_in")
	}
	return tr.AccessToken, time.Duration(secs * float64(time.Second)), nil
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

type client struct {
	defect      string
	api         *http.Client
	apiBase     string
	distributor string
	tokens      *tokens

	mu        sync.Mutex
	pausedTil time.Time // the workers' shared backoff after a failed call
	delay     time.Duration
}

var calls = []struct{ method, path, body string }{
	{http.MethodGet, "/products", ""},
	{http.MethodPost, "/shopping", `{"productId":"PRD-1001","dateRange":{"startDate":"2026-12-01","endDate":"2026-12-02"},"durationDays":1,"affiliation":"WEB"}`},
	{http.MethodPost, "/livecheck", `{"products":[{"productId":"PRD-1001","quantity":2}],"date":"2026-12-01"}`},
	{http.MethodPost, "/reservations", `{"products":[{"productId":"PRD-1001","quantity":2}],"date":"2026-12-01"}`},
}

func (c *client) work(ctx context.Context, w int, pause time.Duration) {
	for i := w; ctx.Err() == nil; i++ {
		c.mu.Lock()
		wait := time.Until(c.pausedTil)
		c.mu.Unlock()
		if !sleep(ctx, max(wait, pause)) {
			return
		}
		op := calls[i%len(calls)]
		err := c.call(ctx, op.method, op.path, op.body)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if err == nil {
			c.delay = 0
		} else if time.Now().After(c.pausedTil) {
			c.delay = min(max(2*c.delay, 250*time.Millisecond), 2*time.Second)
			c.pausedTil = time.Now().Add(c.delay)
		}
		c.mu.Unlock()
		if err != nil {
			log.Printf("worker %d: %s %s: %v", w, op.method, op.path, err)
		}
	}
}

// call makes one API call, with one new token and one retry after a 401.
func (c *client) call(ctx context.Context, method, path, body string) error {
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			return err
		}
		status, err := c.send(ctx, tok, method, path, body)
		if err != nil || status/100 == 2 {
			return err
		}
		if status != http.StatusUnauthorized || c.defect == "no-401-recovery" {
			return fmt.Errorf("%d %s", status, http.StatusText(status))
		}
		if c.defect == "retry-loop-401" {
			// The defect: a new token straight from the endpoint, again and again, until one
			// is accepted.
			for status == http.StatusUnauthorized {
				if tok, _, err = c.tokens.fetch(ctx); err != nil {
					return err
				}
				if status, err = c.send(ctx, tok, method, path, body); err != nil {
					return err
				}
			}
			return nil
		}
		if attempt == 2 {
			// A new token was rejected too: the API refuses every token, and fetching
			// another one for each call would only load the token endpoint.
			return fmt.Errorf("%d %s after a new token", status, http.StatusText(status))
		}
		c.tokens.invalidate(tok)
	}
}

func (c *client) send(ctx context.Context, tok, method, path, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.apiBase+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.defect != "no-derby-headers" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		req.Header.Set("echo-token", hex.EncodeToString(b[:]))
		req.Header.Set("distributor-id", c.distributor)
	}
	resp, err := c.api.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sleep waits d, or less if ctx ends first (then false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
