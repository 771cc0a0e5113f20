package tokencache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

var (
	// ErrClosed is returned by Token after Close.
	ErrClosed = errors.New("tokencache: cache is closed")
	// ErrWaitTimeout is wrapped by the error Token returns when a fetch took longer than
	// MaxWait.
	ErrWaitTimeout = errors.New("tokencache: timed out waiting for the token endpoint")
)

// A Cache is an [oauth2.TokenSource] that fetches tokens from another source ahead of need and
// hands the current one to every caller. It is safe for concurrent use. Build one with New and
// stop it with Close.
type Cache struct {
	// cur is the token being served, nil when there is none valid (cold start, expired,
	// invalidated, closed). It is the whole hit path.
	cur atomic.Pointer[entry]
	st  counters

	src oauth2.TokenSource
	cfg config

	mu       sync.Mutex
	last     *entry  // the newest token, even if expired; nil before the first or after Invalidate
	fl       *flight // the fetch in progress, if any
	failures int     // consecutive failed fetches
	lastErr  error   // the last fetch's error while failures > 0
	nextTry  time.Time
	invFetch time.Time // when the last fetch Invalidate caused started; zero before the first
	refreshT Timer
	expiryT  Timer
	retryT   Timer
	spacedT  Timer // starts a fetch Invalidate deferred (RefetchSpacing); never stopped but by Close
	closed   bool
	closedCh chan struct{}
}

// flight is one fetch in progress; waiters block on done, then read tok and err.
type flight struct {
	done       chan struct{}
	background bool
	start      time.Time
	replaces   *entry // the token this fetch replaces, for RefreshEvent; nil on a cold start
	tok        *oauth2.Token
	err        error
}

// SourceFunc adapts a function to an oauth2.TokenSource, typically the clientcredentials
// Config.Token method, which requests a new token on every call:
//
//	src := tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(ctx) })
type SourceFunc func() (*oauth2.Token, error)

// Token calls f.
func (f SourceFunc) Token() (*oauth2.Token, error) { return f() }

// New returns a Cache over src, whose Token must fetch a new token on every call: wrap
// clientcredentials.Config.Token in a SourceFunc. Do not pass Config.TokenSource, which is
// already an oauth2.ReuseTokenSource and would hand back its own cached token when this cache
// asks for a fresh one. The first fetch happens on the first Token call. New panics if src is
// nil or the options are inconsistent.
func New(src oauth2.TokenSource, opts ...Option) *Cache {
	if src == nil {
		panic("tokencache: New needs a token source, got nil")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.jitter >= cfg.refreshAt {
		panic(fmt.Sprintf("tokencache: Jitter (%v) must be less than RefreshAt (%v)", cfg.jitter, cfg.refreshAt))
	}
	return &Cache{src: src, cfg: cfg, closedCh: make(chan struct{})}
}

// Token returns the current token, fetching one only when there is no valid token (the first
// call, after expiry or Invalidate); concurrent callers then share one fetch and wait at most
// MaxWait. While a valid token is cached it returns at once, with no lock and no allocation.
//
// The returned token is shared by every caller and must not be modified.
func (c *Cache) Token() (*oauth2.Token, error) {
	return c.TokenContext(context.Background())
}

// TokenContext is Token, except that a caller waiting for a fetch also stops waiting when ctx
// is done.
func (c *Cache) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if e := c.cur.Load(); e != nil && (!c.cfg.checkOnHit || c.validAt(e, c.cfg.clock.Now())) {
		c.st.hits.inc()
		return e.tok, nil
	}
	return c.slowToken(ctx)
}

func (c *Cache) validAt(e *entry, now time.Time) bool {
	return e.validTill.IsZero() || now.Before(e.validTill)
}

// slowToken serves a caller that found no valid token: it rechecks under the lock, then joins
// the fetch in flight, starts one, or fails fast while the endpoint is backing off.
func (c *Cache) slowToken(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.st.errors.Add(1)
		return nil, ErrClosed
	}
	now := c.cfg.clock.Now()
	if e := c.cur.Load(); e != nil {
		if c.validAt(e, now) {
			c.mu.Unlock()
			c.st.hits.inc()
			return e.tok, nil
		}
		c.cur.CompareAndSwap(e, nil) // the expiry timer is late (a suspended process)
	}
	f := c.fl
	if f == nil {
		if c.failures > 0 && now.Before(c.nextTry) {
			err := fmt.Errorf("tokencache: no valid token, and the token endpoint is failing (next attempt in %s): %w",
				c.nextTry.Sub(now).Round(time.Millisecond), c.lastErr)
			c.mu.Unlock()
			c.st.errors.Add(1)
			return nil, err
		}
		f = c.startLocked(now, false, c.last)
	}
	c.mu.Unlock()

	timeout := make(chan struct{})
	t := c.cfg.clock.AfterFunc(c.cfg.maxWait, func() { close(timeout) })
	var tok *oauth2.Token
	var err error
	select {
	case <-f.done:
		tok, err = f.tok, f.err
	case <-timeout:
		err = fmt.Errorf("%w: no token after %s (raise MaxWait, or check the endpoint)", ErrWaitTimeout, c.cfg.maxWait)
	case <-ctx.Done():
		err = fmt.Errorf("tokencache: waiting for a token: %w", ctx.Err())
	case <-c.closedCh:
		err = ErrClosed
	}
	t.Stop()
	c.st.recordStall(c.cfg.clock.Now().Sub(now))
	if err != nil {
		c.st.errors.Add(1)
		return nil, err
	}
	return tok, nil
}

// startLocked starts a fetch on its own goroutine, so that waiters can give up on it. c.mu is
// held.
func (c *Cache) startLocked(now time.Time, background bool, replaces *entry) *flight {
	f := &flight{done: make(chan struct{}), background: background, replaces: replaces}
	c.fl = f
	c.launchLocked(f, now)
	return f
}

// launchLocked sends f's request to the source. c.mu is held.
func (c *Cache) launchLocked(f *flight, now time.Time) {
	f.start = now
	c.st.fetches.Add(1)
	go c.fetch(f)
}

// startSpacedLocked starts the fetch that replaces the invalidated e, or, when the previous
// fetch an invalidation caused started less than RefetchSpacing ago, puts a flight in place that
// starts once the spacing has passed: callers join it as they would a fetch under way. c.mu is
// held.
func (c *Cache) startSpacedLocked(now time.Time, e *entry) {
	wait := c.invFetch.Add(c.cfg.refetchSpacing).Sub(now)
	if c.invFetch.IsZero() || wait <= 0 {
		c.invFetch = now
		c.startLocked(now, false, e)
		return
	}
	f := &flight{done: make(chan struct{}), replaces: e}
	c.fl = f
	c.spacedT = c.cfg.clock.AfterFunc(wait, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return // Close released the waiters
		}
		now := c.cfg.clock.Now()
		c.invFetch = now
		c.launchLocked(f, now)
	})
}

// fetch runs one fetch and publishes its outcome.
func (c *Cache) fetch(f *flight) {
	tok, err := c.callSource()
	if err != nil {
		// Once, here: lastErr and every error built on it carry the safe message.
		err = redactSourceError(err)
	}

	c.mu.Lock()
	now := c.cfg.clock.Now()
	c.fl = nil
	var e *entry
	if err == nil {
		e, err = c.cfg.newEntry(tok, now)
	}
	var ev RefreshEvent
	switch {
	case c.closed:
		f.err = ErrClosed
	case err != nil:
		c.st.failures.Add(1)
		c.failures++
		c.lastErr = err
		delay := c.cfg.backoff(c.failures, err, now)
		c.nextTry = now.Add(delay)
		if cur := c.cur.Load(); cur != nil {
			// Still serving a valid token: keep trying in the background.
			stop(c.retryT)
			c.retryT = c.cfg.clock.AfterFunc(delay, func() { c.retry(cur) })
		}
		f.err = fmt.Errorf("tokencache: fetch token: %w", err)
	default:
		ev = RefreshEvent{Background: f.background, Start: f.start, End: now, Attempts: c.failures + 1, NewExpiry: e.expiry}
		if f.replaces != nil && !f.replaces.expiry.IsZero() {
			ev.Expiry = f.replaces.expiry
			ev.Lead = ev.Expiry.Sub(now)
		}
		if f.background {
			c.st.refreshes.Add(1)
		}
		c.failures, c.lastErr = 0, nil
		c.installLocked(e, now)
		f.tok = tok
	}
	c.mu.Unlock()
	if f.err == nil && c.cfg.onRefresh != nil {
		c.cfg.onRefresh(ev)
	}
	close(f.done)
}

// callSource calls the source, turning a panic into an error so waiters are never stranded.
func (c *Cache) callSource() (tok *oauth2.Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("token source panicked: %v", r)
		}
	}()
	return c.src.Token()
}

// installLocked publishes e and arms its expiry and refresh timers. c.mu is held.
func (c *Cache) installLocked(e *entry, now time.Time) {
	c.stopTimersLocked()
	c.last = e
	c.cur.Store(e)
	if e.validTill.IsZero() {
		return
	}
	c.expiryT = c.cfg.clock.AfterFunc(e.validTill.Sub(now), func() { c.expire(e) })
	c.refreshT = c.cfg.clock.AfterFunc(e.refreshAt.Sub(now), func() { c.refresh(e) })
}

func (c *Cache) stopTimersLocked() {
	stop(c.refreshT)
	stop(c.expiryT)
	stop(c.retryT)
	c.refreshT, c.expiryT, c.retryT = nil, nil, nil
}

func stop(t Timer) {
	if t != nil {
		t.Stop()
	}
}

// refresh starts the background refresh of e, if e is still the newest token.
func (c *Cache) refresh(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.last != e || c.fl != nil {
		return
	}
	c.startLocked(c.cfg.clock.Now(), true, e)
}

// retry retries a failed background refresh of e while e is still being served; once it has
// expired, callers drive the attempts instead, so an idle cache does not poll a dead endpoint.
func (c *Cache) retry(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.last != e || c.cur.Load() != e || c.fl != nil {
		return
	}
	c.startLocked(c.cfg.clock.Now(), true, e)
}

// expire stops serving e once it is no longer valid.
func (c *Cache) expire(e *entry) {
	c.cur.CompareAndSwap(e, nil)
}

// Invalidate reports that tok was rejected (a 401 invalid_token, say). If tok is the current
// token, the cache drops it and starts one fetch for its replacement (unless one is already in
// flight, or the endpoint is backing off after a failure); otherwise, for instance when another
// caller already caused its replacement, Invalidate does nothing. tok must be a token this
// cache returned: they are compared by identity.
//
// Fetches caused by Invalidate start at least RefetchSpacing apart (500 ms by default): an API
// that rejects every token costs the token endpoint at most one request per spacing, however
// many callers see their token rejected. The first replacement is fetched at once; callers
// needing a token in between wait for the next.
func (c *Cache) Invalidate(tok *oauth2.Token) {
	if tok == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.last
	if c.closed || e == nil || e.tok != tok {
		return
	}
	c.st.invalidations.Add(1)
	c.cur.CompareAndSwap(e, nil)
	c.stopTimersLocked()
	c.last = nil
	now := c.cfg.clock.Now()
	if c.fl == nil && !(c.failures > 0 && now.Before(c.nextTry)) {
		c.startSpacedLocked(now, e)
	}
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Fetches:       c.st.fetches.Load(),
		Failures:      c.st.failures.Load(),
		Hits:          c.st.hits.load(),
		Refreshes:     c.st.refreshes.Load(),
		Stalls:        c.st.stalls.Load(),
		StallTime:     time.Duration(c.st.stallTime.Load()),
		MaxStall:      time.Duration(c.st.maxStall.Load()),
		Errors:        c.st.errors.Load(),
		Invalidations: c.st.invalidations.Load(),
		Retries401:    c.st.retries401.Load(),
	}
	if e := c.cur.Load(); e != nil {
		s.Expiry = e.expiry
	}
	return s
}

// Close stops background refreshes and makes Token return ErrClosed, releasing callers that
// are waiting. A fetch already in flight cannot be cancelled through oauth2.TokenSource: it
// finishes on its own goroutine and its token is discarded. Close is idempotent.
func (c *Cache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.stopTimersLocked()
	stop(c.spacedT)
	c.cur.Store(nil)
	c.last = nil
	close(c.closedCh)
}
