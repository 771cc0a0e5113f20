package tokencache

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults, each documented on its option.
const (
	DefaultRefreshAt  = 0.80                   // RefreshAt
	DefaultJitter     = 0.05                   // Jitter
	DefaultClockSkew  = 10 * time.Second       // ClockSkew
	DefaultMinBackoff = 250 * time.Millisecond // Backoff min
	DefaultMaxBackoff = 30 * time.Second       // Backoff max
	DefaultMaxWait    = 10 * time.Second       // MaxWait
	// DefaultRefetchSpacing is RefetchSpacing's default.
	DefaultRefetchSpacing = 500 * time.Millisecond
)

const (
	maxSkewFraction      = 0.10      // ClockSkew never takes more than this share of a lifetime
	maxRetryAfter        = time.Hour // a longer Retry-After is treated as this
	defaultBackoffJitter = 0.5       // a backoff delay d becomes a random value in [d/2, d]
	hitShardBits         = 5
	hitShardCount        = 1 << hitShardBits
	hitShardPadding      = 128 - 8 // a shard per 128 bytes: two cache lines, for adjacent-line prefetch
	// drainLimit is how much of a 401's body is read before closing it, to reuse the connection.
	drainLimit int64 = 64 << 10
)

// An Option configures a Cache.
type Option func(*config)

type config struct {
	refreshAt      float64
	jitter         float64
	skew           time.Duration
	minBackoff     time.Duration
	maxBackoff     time.Duration
	maxWait        time.Duration
	refetchSpacing time.Duration
	clock          Clock
	onRefresh      func(RefreshEvent)
	checkOnHit     bool
	randFloat64    func() float64 // [0, 1); replaced in tests
}

func defaultConfig() config {
	return config{
		refreshAt:      DefaultRefreshAt,
		jitter:         DefaultJitter,
		skew:           DefaultClockSkew,
		minBackoff:     DefaultMinBackoff,
		maxBackoff:     DefaultMaxBackoff,
		maxWait:        DefaultMaxWait,
		refetchSpacing: DefaultRefetchSpacing,
		clock:          systemClock{},
		randFloat64:    rand.Float64,
	}
}

// RefreshAt sets the point, as a fraction of a token's lifetime (after the clock-skew
// allowance), at which the cache fetches a replacement in the background. The default, 0.8,
// refreshes an 8-hour token 96 minutes and a 2-second token 560 ms before it expires (the
// default ClockSkew included), before jitter. It panics unless 0 < fraction <= 1.
func RefreshAt(fraction float64) Option {
	if !(fraction > 0 && fraction <= 1) {
		panic(fmt.Sprintf("tokencache: RefreshAt fraction must be in (0, 1], got %v", fraction))
	}
	return func(c *config) { c.refreshAt = fraction }
}

// Jitter sets how much earlier than RefreshAt, as a fraction of the lifetime, a refresh may
// start: each token's refresh point is drawn uniformly from [RefreshAt-Jitter, RefreshAt], so
// many clients started together do not refresh together. The default is 0.05 (refresh between
// 75% and 80% of the lifetime); 0 disables it. It panics unless 0 <= fraction < RefreshAt (checked
// when the cache is built).
func Jitter(fraction float64) Option {
	if !(fraction >= 0 && fraction < 1) {
		panic(fmt.Sprintf("tokencache: Jitter fraction must be in [0, 1), got %v", fraction))
	}
	return func(c *config) { c.jitter = fraction }
}

// ClockSkew sets the allowance subtracted from a token's expiry, for a server clock ahead of
// ours and for the request still in flight when the token expires. It never takes more than a
// tenth of a token's lifetime, so short-lived tokens stay usable. The default is 10 s. It panics
// if d is negative.
func ClockSkew(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tokencache: ClockSkew must not be negative, got %v", d))
	}
	return func(c *config) { c.skew = d }
}

// Backoff sets the delays between attempts while the token endpoint fails: min after the first
// failure, doubling after each further one up to max, each delay then drawn uniformly from
// [d/2, d]. A longer Retry-After reported by the source wins (see RetryAfterError). The default
// is 250 ms up to 30 s. It panics unless 0 < min <= max.
func Backoff(min, max time.Duration) Option {
	if !(min > 0 && min <= max) {
		panic(fmt.Sprintf("tokencache: Backoff needs 0 < min <= max, got %v, %v", min, max))
	}
	return func(c *config) { c.minBackoff, c.maxBackoff = min, max }
}

// MaxWait bounds how long a Token call waits for a fetch in flight (a cold start, an expired or
// invalidated token) before it returns an error wrapping ErrWaitTimeout. The fetch itself goes
// on, and later callers get its token. The default is 10 s. It panics unless d > 0.
func MaxWait(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("tokencache: MaxWait must be positive, got %v", d))
	}
	return func(c *config) { c.maxWait = d }
}

// RefetchSpacing sets the least time between two fetches caused by Invalidate (and so by the
// Transport's 401s). When an API rejects every token, each token the cache fetches is rejected
// as soon as it is used; unspaced, callers whose requests overlap would fetch at the pace of
// their API calls, a storm on the token endpoint. The first invalidation fetches at once; a
// later one within d of the previous fetch waits for the rest of d, and callers that need a
// token meanwhile wait with it (keep d well under MaxWait). The default is 500 ms: at most two
// token requests a second from rejections. 0 disables the spacing. It panics if d is negative.
func RefetchSpacing(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("tokencache: RefetchSpacing must not be negative, got %v", d))
	}
	return func(c *config) { c.refetchSpacing = d }
}

// WithClock makes the cache use clk instead of the system clock, for tests.
func WithClock(clk Clock) Option {
	if clk == nil {
		panic("tokencache: WithClock needs a Clock, got nil")
	}
	return func(c *config) { c.clock = clk }
}

// OnRefresh registers f to be called after every successful fetch, with when it ran and how
// long before the replaced token's expiry it completed. f runs on the fetching goroutine once
// the new token is being served, with no lock held, before callers waiting for that fetch are
// released; it should return quickly. The load mode uses it to report refresh lead times.
func OnRefresh(f func(RefreshEvent)) Option {
	return func(c *config) { c.onRefresh = f }
}

// CheckExpiryOnHit makes every Token call also compare the clock with the token's expiry. By
// default expiry is enforced by a timer instead, which keeps the hit path free of clock reads
// (about 20 ns each); the check guards against a process suspended past a token's expiry, whose
// timers fire late by the time it slept.
func CheckExpiryOnHit() Option {
	return func(c *config) { c.checkOnHit = true }
}
