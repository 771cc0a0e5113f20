package tokencache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

// warm builds a cache on clk over src and completes its first fetch with tok.
func warm(t *testing.T, clk *tokencache.FakeClock, src *scriptedSource, tok *oauth2.Token, opts ...tokencache.Option) *tokencache.Cache {
	t.Helper()
	c := tokencache.New(src, append([]tokencache.Option{tokencache.WithClock(clk)}, opts...)...)
	t.Cleanup(c.Close)
	r := goToken(c)
	src.answer(t, tok)
	got := receive(t, r)
	require.NoError(t, got.err)
	require.Same(t, tok, got.tok)
	return c
}

func TestColdStartHundredCallersShareOneFetch(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := newScriptedSource()
	c := tokencache.New(src, tokencache.WithClock(clk))
	t.Cleanup(c.Close)

	const callers = 100
	results := make(chan tokenResult, callers)
	for range callers {
		go func() {
			tok, err := c.Token()
			results <- tokenResult{tok, err}
		}()
	}
	call := src.next(t)
	clk.AwaitTimers(t, callers) // every caller is waiting: each has armed its MaxWait timer
	want := opaque("tok-1", t0.Add(time.Hour))
	call.ok(want)

	for range callers {
		r := receive(t, results)
		require.NoError(t, r.err)
		assert.Same(t, want, r.tok)
	}
	assert.EqualValues(t, 1, src.n.Load(), "fetches from the source")
	st := c.Stats()
	assert.EqualValues(t, 1, st.Fetches)
	assert.EqualValues(t, callers, st.Stalls)
	assert.Zero(t, st.Hits)
	assert.Zero(t, st.Errors)
}

func TestBackgroundRefreshStartsBeforeExpiryWhileCallersKeepTheToken(t *testing.T) {
	tests := []struct {
		name string
		life time.Duration
		opts []tokencache.Option
		want time.Duration // from the fetch to the refresh
	}{
		// Default skew allowance: min(10 s, 10% of 100 s) = 10 s, leaving 90 s.
		{"by default at 80% of the lifetime less the skew allowance", 100 * time.Second, []tokencache.Option{fixedRand(0)}, 72 * time.Second},
		{"by default up to 5% of the lifetime earlier with jitter", 100 * time.Second, []tokencache.Option{fixedRand(1)}, 67500 * time.Millisecond},
		// Skew: a tenth of 2 s, leaving 1.8 s.
		{"by default a 2-second token 560 ms before it expires", 2 * time.Second, []tokencache.Option{fixedRand(0)}, 1440 * time.Millisecond},
		// Skew: 10 s, leaving 7h59m50s.
		{"by default an 8-hour token about 96 minutes before it expires", 8 * time.Hour, []tokencache.Option{fixedRand(0)}, 6*time.Hour + 23*time.Minute + 52*time.Second},
		{"RefreshAt and Jitter move the point", 100 * time.Second, []tokencache.Option{tokencache.RefreshAt(0.5), tokencache.Jitter(0.25), tokencache.ClockSkew(0), fixedRand(0.5)}, 37500 * time.Millisecond},
		{"ClockSkew shrinks the lifetime it applies to", 100 * time.Second, []tokencache.Option{tokencache.RefreshAt(0.5), tokencache.Jitter(0), tokencache.ClockSkew(4 * time.Second)}, 48 * time.Second},
	}
	for _, tt := range tests {
		life := tt.life
		t.Run(tt.name, func(t *testing.T) {
			clk := tokencache.NewFakeClock(t0)
			src := newScriptedSource()
			events := make(chan tokencache.RefreshEvent, 2)
			first := opaque("tok-1", t0.Add(life))
			opts := append(tt.opts, tokencache.OnRefresh(func(e tokencache.RefreshEvent) { events <- e }))
			c := warm(t, clk, src, first, opts...)
			cold := receive(t, events)
			assert.False(t, cold.Background)
			assert.Zero(t, cold.Lead)

			clk.Advance(tt.want - time.Millisecond)
			assert.EqualValues(t, 1, c.Stats().Fetches, "refreshed too early")
			clk.Advance(2 * time.Millisecond)
			assert.EqualValues(t, 2, c.Stats().Fetches, "no refresh at the refresh point")
			call := src.next(t)

			// The refresh is in flight: callers get the valid token at once.
			for range 3 {
				tok, err := c.Token()
				require.NoError(t, err)
				assert.Same(t, first, tok)
			}
			assert.EqualValues(t, 1, c.Stats().Stalls, "only the cold start waited")

			second := opaque("tok-2", clk.Now().Add(life))
			call.ok(second)
			ev := receive(t, events)
			tok, err := c.Token()
			require.NoError(t, err)
			assert.Same(t, second, tok)

			assert.True(t, ev.Background)
			assert.Equal(t, first.Expiry, ev.Expiry)
			assert.Equal(t, first.Expiry.Sub(clk.Now()), ev.Lead)
			assert.Equal(t, 1, ev.Attempts)
			st := c.Stats()
			assert.EqualValues(t, 1, st.Refreshes)
			assert.EqualValues(t, 1, st.Stalls)
			assert.EqualValues(t, 4, st.Hits)
		})
	}
}

func TestFailingEndpointKeepsServingValidTokenAndBacksOff(t *testing.T) {
	tests := []struct {
		name   string
		draw   float64 // the jitter draw
		delays []time.Duration
	}{
		{"doubling up to the cap", 0, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}},
		{"jitter takes up to half of each delay", 1, []time.Duration{500 * time.Millisecond, 1 * time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := tokencache.NewFakeClock(t0)
			src := newScriptedSource()
			events := make(chan tokencache.RefreshEvent, 2)
			first := opaque("tok-1", t0.Add(time.Hour))
			c := warm(t, clk, src, first, tokencache.RefreshAt(0.5), tokencache.Jitter(0), tokencache.ClockSkew(0),
				tokencache.Backoff(time.Second, 8*time.Second), fixedRand(tt.draw),
				tokencache.OnRefresh(func(e tokencache.RefreshEvent) { events <- e }))
			receive(t, events)

			clk.Advance(30 * time.Minute)
			boom := errors.New("token endpoint: 503 Service Unavailable")
			for i, d := range tt.delays {
				src.fail(t, boom)
				clk.AwaitTimer(t, clk.Now().Add(d)) // the next attempt is due exactly d later
				tok, err := c.Token()
				require.NoError(t, err, "after failure %d", i+1)
				assert.Same(t, first, tok, "after failure %d", i+1)

				clk.Advance(d - time.Millisecond)
				assert.EqualValues(t, i+2, c.Stats().Fetches, "retried before the backoff after failure %d", i+1)
				clk.Advance(time.Millisecond)
			}
			second := opaque("tok-2", clk.Now().Add(time.Hour))
			src.answer(t, second)
			ev := receive(t, events)
			assert.Equal(t, len(tt.delays)+1, ev.Attempts)
			assert.True(t, ev.Background)

			st := c.Stats()
			assert.EqualValues(t, len(tt.delays)+2, st.Fetches)
			assert.EqualValues(t, len(tt.delays), st.Failures)
			assert.EqualValues(t, 1, st.Refreshes)
			assert.Zero(t, st.Errors, "no caller saw an error")
			assert.EqualValues(t, 1, st.Stalls, "only the cold start waited")
		})
	}
}

// slowDown is a source error that asks for a pause through the RetryAfter method.
type slowDown struct{}

func (slowDown) Error() string             { return "slow down" }
func (slowDown) RetryAfter() time.Duration { return 15 * time.Second }

func TestRetryAfterIsHonoured(t *testing.T) {
	failAt := t0.Add(30 * time.Minute) // the refresh point below
	retrieve := func(retryAfter string) error {
		return &oauth2.RetrieveError{
			Response: &http.Response{Status: "429 Too Many Requests", StatusCode: http.StatusTooManyRequests,
				Header: http.Header{"Retry-After": {retryAfter}}},
			ErrorCode: "slow_down",
		}
	}
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"a RetryAfterError", &tokencache.RetryAfterError{Err: errors.New("429"), After: 20 * time.Second}, 20 * time.Second},
		{"any wrapped error with a RetryAfter method", fmt.Errorf("fetch: %w", slowDown{}), 15 * time.Second},
		{"an oauth2.RetrieveError with Retry-After in seconds", retrieve("7"), 7 * time.Second},
		{"an oauth2.RetrieveError with Retry-After as an HTTP date", retrieve(failAt.Add(90 * time.Second).Format(http.TimeFormat)), 90 * time.Second},
		{"a Retry-After shorter than the backoff does not shorten it", retrieve("2"), 5 * time.Second},
		{"an unparseable Retry-After is ignored", retrieve("soon"), 5 * time.Second},
		{"an error without Retry-After gets the backoff", errors.New("connection refused"), 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := tokencache.NewFakeClock(t0)
			src := newScriptedSource()
			c := warm(t, clk, src, opaque("tok-1", t0.Add(time.Hour)), tokencache.RefreshAt(0.5), tokencache.Jitter(0),
				tokencache.ClockSkew(0), tokencache.Backoff(5*time.Second, time.Minute), fixedRand(0))
			clk.Advance(failAt.Sub(t0))
			src.fail(t, tt.err)
			clk.AwaitTimer(t, failAt.Add(tt.want))

			clk.Advance(tt.want - time.Millisecond)
			assert.EqualValues(t, 2, c.Stats().Fetches, "retried before Retry-After")
			clk.Advance(time.Millisecond)
			src.answer(t, opaque("tok-2", clk.Now().Add(time.Hour)))
		})
	}
}

func TestExpiredTokenWithEndpointDownFailsPromptly(t *testing.T) {
	const life = 100 * time.Second
	boom := errors.New("token endpoint: connection refused")
	base := []tokencache.Option{tokencache.RefreshAt(0.5), tokencache.Jitter(0), tokencache.ClockSkew(0), fixedRand(0)}

	t.Run("within the backoff window callers get the last error at once, without a fetch", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		c := warm(t, clk, src, opaque("tok-1", t0.Add(life)), append(base, tokencache.Backoff(time.Hour, time.Hour))...)
		clk.Advance(50 * time.Second)
		src.fail(t, boom)
		clk.AwaitTimer(t, clk.Now().Add(time.Hour)) // the failure is recorded
		clk.Advance(50 * time.Second)               // the token expires; the next attempt is an hour away

		r := receive(t, goToken(c))
		require.Error(t, r.err)
		assert.ErrorIs(t, r.err, boom)
		assert.Nil(t, r.tok)
		st := c.Stats()
		assert.EqualValues(t, 2, st.Fetches, "a caller fetched during the backoff")
		assert.EqualValues(t, 1, st.Stalls, "a caller waited")
		assert.EqualValues(t, 1, st.Errors)
	})

	t.Run("after the window a caller's fetch is tried once and its error returned", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		c := warm(t, clk, src, opaque("tok-1", t0.Add(life)), append(base, tokencache.Backoff(30*time.Second, 30*time.Second))...)
		clk.Advance(50 * time.Second)
		src.fail(t, boom) // next attempt at 80 s, in the background: the token is still valid
		clk.AwaitTimer(t, t0.Add(80*time.Second))
		clk.Advance(30 * time.Second)
		src.fail(t, boom) // next attempt at 110 s, but the token expires at 100 s
		clk.AwaitTimer(t, t0.Add(110*time.Second))
		clk.Advance(30 * time.Second)
		assert.EqualValues(t, 3, c.Stats().Fetches, "an expired cache kept retrying with nobody asking")

		r := goToken(c)
		src.fail(t, boom)
		got := receive(t, r)
		assert.ErrorIs(t, got.err, boom)

		again := receive(t, goToken(c))
		assert.ErrorIs(t, again.err, boom)
		assert.EqualValues(t, 4, c.Stats().Fetches, "the second caller fetched inside the backoff window")
	})

	t.Run("a cold start against a failing endpoint returns its error, and the next call fails fast", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		c := tokencache.New(src, tokencache.WithClock(clk))
		t.Cleanup(c.Close)
		r := goToken(c)
		src.fail(t, boom)
		assert.ErrorIs(t, receive(t, r).err, boom)
		assert.ErrorIs(t, receive(t, goToken(c)).err, boom)
		assert.EqualValues(t, 1, c.Stats().Fetches)
	})

	t.Run("a hanging endpoint holds a caller no longer than MaxWait", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		c := warm(t, clk, src, opaque("tok-1", t0.Add(life)), append(base, tokencache.MaxWait(5*time.Second))...)
		clk.Advance(50 * time.Second)
		call := src.next(t) // the refresh hangs
		clk.Advance(50 * time.Second)

		r := goToken(c)
		clk.AwaitTimer(t, clk.Now().Add(5*time.Second))
		clk.Advance(5 * time.Second)
		got := receive(t, r)
		assert.ErrorIs(t, got.err, tokencache.ErrWaitTimeout)
		assert.Equal(t, 5*time.Second, c.Stats().MaxStall)

		// The fetch goes on; once it lands, callers get its token.
		second := opaque("tok-2", clk.Now().Add(life))
		call.ok(second)
		after := receive(t, goToken(c))
		require.NoError(t, after.err)
		assert.Same(t, second, after.tok)
	})
}

func TestInvalidate(t *testing.T) {
	t.Run("fifty callers invalidating the same token cause one fetch", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		first := opaque("tok-1", t0.Add(time.Hour))
		c := warm(t, clk, src, first)

		const callers = 50
		results := make(chan tokenResult, callers)
		for range callers {
			go func() {
				c.Invalidate(first)
				tok, err := c.Token()
				results <- tokenResult{tok, err}
			}()
		}
		call := src.next(t)
		clk.AwaitTimers(t, callers) // all fifty are waiting for the one fetch
		second := opaque("tok-2", t0.Add(2*time.Hour))
		call.ok(second)
		for range callers {
			r := receive(t, results)
			require.NoError(t, r.err)
			assert.Same(t, second, r.tok)
		}
		assert.EqualValues(t, 2, src.n.Load())
		st := c.Stats()
		assert.EqualValues(t, 2, st.Fetches)
		assert.EqualValues(t, 1, st.Invalidations)

		t.Run("and invalidating it again does nothing", func(t *testing.T) {
			c.Invalidate(first)
			r := receive(t, goToken(c)) // a wrong fetch here would hang, so bound the wait
			require.NoError(t, r.err)
			assert.Same(t, second, r.tok)
			assert.EqualValues(t, 2, c.Stats().Fetches)
			assert.EqualValues(t, 1, c.Stats().Invalidations)
		})
	})

	t.Run("a token the cache never returned is ignored", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		first := opaque("tok-1", t0.Add(time.Hour))
		c := warm(t, clk, src, first)
		c.Invalidate(nil)
		c.Invalidate(opaque("tok-1", t0.Add(time.Hour))) // equal, not the same
		r := receive(t, goToken(c))
		require.NoError(t, r.err)
		assert.Same(t, first, r.tok)
		assert.EqualValues(t, 1, c.Stats().Fetches)
		assert.Zero(t, c.Stats().Invalidations)
	})

	t.Run("during a background refresh callers wait for it instead of a second fetch", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		first := opaque("tok-1", t0.Add(100*time.Second))
		c := warm(t, clk, src, first, tokencache.RefreshAt(0.5), tokencache.Jitter(0))
		clk.Advance(50 * time.Second)
		call := src.next(t)
		c.Invalidate(first)
		r := goToken(c)
		clk.AwaitTimers(t, 1)
		second := opaque("tok-2", clk.Now().Add(100*time.Second))
		call.ok(second)
		got := receive(t, r)
		require.NoError(t, got.err)
		assert.Same(t, second, got.tok)
		assert.EqualValues(t, 2, c.Stats().Fetches)
	})
}

// replacedOnce returns a warm cache with the default spacing whose first token, tok-1, was
// invalidated at t0 and replaced at once by the one returned, tok-2.
func replacedOnce(t *testing.T) (*tokencache.FakeClock, *scriptedSource, *tokencache.Cache, *oauth2.Token) {
	t.Helper()
	clk := tokencache.NewFakeClock(t0)
	src := newScriptedSource()
	first := opaque("tok-1", t0.Add(time.Hour))
	c := warm(t, clk, src, first)
	c.Invalidate(first)
	second := opaque("tok-2", t0.Add(time.Hour))
	src.answer(t, second) // the first replacement is fetched at once
	require.Same(t, second, receive(t, goToken(c)).tok)
	return clk, src, c, second
}

func TestRefetchSpacing(t *testing.T) {
	t.Run("a second invalidation within the spacing fetches once it has passed", func(t *testing.T) {
		clk, src, c, second := replacedOnce(t)
		c.Invalidate(second)
		waiting := goToken(c)
		clk.AwaitTimer(t, t0.Add(tokencache.DefaultRefetchSpacing)) // the deferred fetch
		clk.AwaitTimers(t, 2)                                       // and the caller's MaxWait
		clk.Advance(tokencache.DefaultRefetchSpacing - time.Millisecond)
		assert.EqualValues(t, 2, src.n.Load(), "no fetch before the spacing has passed")
		clk.Advance(time.Millisecond)
		third := opaque("tok-3", t0.Add(time.Hour))
		src.answer(t, third)
		got := receive(t, waiting)
		require.NoError(t, got.err)
		assert.Same(t, third, got.tok)
		st := c.Stats()
		assert.EqualValues(t, 3, st.Fetches)
		assert.EqualValues(t, 2, st.Invalidations)

		t.Run("and one after the spacing has passed fetches at once", func(t *testing.T) {
			clk.Advance(tokencache.DefaultRefetchSpacing)
			c.Invalidate(third)
			fourth := opaque("tok-4", clk.Now().Add(time.Hour))
			src.answer(t, fourth) // no Advance: a deferred fetch would never start
			assert.Same(t, fourth, receive(t, goToken(c)).tok)
		})
	})

	t.Run("0 refetches at once", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		tok := opaque("tok-1", t0.Add(time.Hour))
		c := warm(t, clk, src, tok, tokencache.RefetchSpacing(0))
		for i := 2; i <= 4; i++ {
			c.Invalidate(tok)
			tok = opaque(fmt.Sprintf("tok-%d", i), t0.Add(time.Hour))
			src.answer(t, tok)
			require.Same(t, tok, receive(t, goToken(c)).tok)
		}
		assert.EqualValues(t, 4, c.Stats().Fetches)
	})

	t.Run("Close releases the callers waiting for a deferred fetch, which never starts", func(t *testing.T) {
		clk, src, c, second := replacedOnce(t)
		c.Invalidate(second)
		waiting := goToken(c)
		clk.AwaitTimers(t, 2)
		c.Close()
		assert.ErrorIs(t, receive(t, waiting).err, tokencache.ErrClosed)
		clk.Advance(time.Hour)
		assert.EqualValues(t, 2, src.n.Load())
	})
}

// Fifty callers that each report every token they get as rejected, as when an API rejects every
// token, cost a loopback token endpoint one request for the cold start, one for the first
// replacement, and then at most one per RefetchSpacing.
func TestRejectedTokensDoNotStormTheTokenEndpoint(t *testing.T) {
	var issued atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(srv.Close)
	cfg := clientcredentials.Config{ClientID: "id", ClientSecret: "secret", TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader}
	const spacing = 50 * time.Millisecond
	c := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(context.Background()) }),
		tokencache.RefetchSpacing(spacing))
	t.Cleanup(c.Close)

	const callers, rounds = 50, 20
	errs := make(chan error, callers)
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range rounds {
				tok, err := c.Token()
				if err != nil {
					errs <- err
					return
				}
				c.Invalidate(tok)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A caller never gets a token it rejected, so every caller saw rounds tokens, each rejected.
	require.GreaterOrEqual(t, c.Stats().Invalidations, int64(rounds))
	bound := 2 + int64(elapsed/spacing)
	assert.LessOrEqual(t, issued.Load(), bound, "token requests in %s", elapsed)
	t.Logf("%d token requests, %d invalidations in %s", issued.Load(), c.Stats().Invalidations, elapsed)
}

func TestClose(t *testing.T) {
	t.Run("stops the background refresh and fails later calls", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		c := warm(t, clk, src, opaque("tok-1", t0.Add(time.Hour)))
		c.Close()
		c.Close() // idempotent
		clk.Advance(2 * time.Hour)
		assert.EqualValues(t, 1, c.Stats().Fetches)
		_, err := c.Token()
		assert.ErrorIs(t, err, tokencache.ErrClosed)
	})

	t.Run("releases a caller waiting for a fetch", func(t *testing.T) {
		clk := tokencache.NewFakeClock(t0)
		src := newScriptedSource()
		c := tokencache.New(src, tokencache.WithClock(clk))
		r := goToken(c)
		call := src.next(t)
		clk.AwaitTimers(t, 1)
		c.Close()
		assert.ErrorIs(t, receive(t, r).err, tokencache.ErrClosed)
		call.ok(opaque("tok-1", t0.Add(time.Hour))) // lands after Close: discarded
		_, err := c.Token()
		assert.ErrorIs(t, err, tokencache.ErrClosed)
	})
}

func TestExpiryFollowsTheEarlierJWTExp(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := newScriptedSource()
	jwtExp := t0.Add(100 * time.Second)
	tok := opaque(jwtWith(t, map[string]any{"exp": jwtExp.Unix(), "sub": "client"}), t0.Add(time.Hour))
	c := warm(t, clk, src, tok, tokencache.RefreshAt(0.5), tokencache.Jitter(0), tokencache.ClockSkew(0))
	assert.WithinDuration(t, jwtExp, c.Stats().Expiry, 0)

	clk.Advance(50*time.Second - time.Millisecond)
	assert.EqualValues(t, 1, c.Stats().Fetches)
	clk.Advance(time.Millisecond)
	assert.EqualValues(t, 2, c.Stats().Fetches, "the refresh did not follow the JWT exp")
	src.answer(t, opaque("tok-2", clk.Now().Add(time.Hour)))
}

func TestCheckExpiryOnHitCatchesASuspendedProcess(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := newScriptedSource()
	c := warm(t, clk, src, opaque("tok-1", t0.Add(time.Hour)), tokencache.CheckExpiryOnHit())
	clk.Jump(2 * time.Hour) // no timer has fired
	r := goToken(c)
	second := opaque("tok-2", clk.Now().Add(time.Hour))
	src.answer(t, second)
	got := receive(t, r)
	require.NoError(t, got.err)
	assert.Same(t, second, got.tok)
}

func TestHitPath(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := &counterSource{clk: clk, life: time.Hour}
	c := tokencache.New(src, tokencache.WithClock(clk))
	t.Cleanup(c.Close)
	want, err := c.Token()
	require.NoError(t, err)

	t.Run("allocates nothing", func(t *testing.T) {
		allocs := testing.AllocsPerRun(1000, func() {
			if tok, err := c.Token(); tok != want || err != nil {
				t.Fatal("not a hit")
			}
		})
		assert.Zero(t, allocs)
	})

	t.Run("counts every hit across goroutines", func(t *testing.T) {
		before := c.Stats().Hits
		const goroutines, calls = 8, 1000
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range calls {
					if tok, err := c.Token(); tok != want || err != nil {
						t.Error("not a hit")
						return
					}
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, goroutines*calls, c.Stats().Hits-before)
		assert.EqualValues(t, 1, c.Stats().Fetches)
	})
}

func TestInvalidOptionsPanicWithTheReason(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"RefreshAt above 1", func() { tokencache.RefreshAt(1.5) }, "RefreshAt fraction must be in (0, 1], got 1.5"},
		{"Jitter not below RefreshAt", func() { tokencache.New(&counterSource{}, tokencache.RefreshAt(0.5), tokencache.Jitter(0.5)) }, "Jitter (0.5) must be less than RefreshAt (0.5)"},
		{"negative ClockSkew", func() { tokencache.ClockSkew(-time.Second) }, "ClockSkew must not be negative, got -1s"},
		{"Backoff min above max", func() { tokencache.Backoff(time.Minute, time.Second) }, "Backoff needs 0 < min <= max, got 1m0s, 1s"},
		{"zero MaxWait", func() { tokencache.MaxWait(0) }, "MaxWait must be positive, got 0s"},
		{"nil source", func() { tokencache.New(nil) }, "New needs a token source, got nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.PanicsWithValue(t, "tokencache: "+tt.want, tt.f)
		})
	}
}

func TestAWaitingCallerGivesUpWithItsContext(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := newScriptedSource()
	c := tokencache.New(src, tokencache.WithClock(clk))
	t.Cleanup(c.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.TokenContext(ctx)
		done <- err
	}()
	call := src.next(t)
	clk.AwaitTimers(t, 1)
	cancel()
	assert.ErrorIs(t, receive(t, done), context.Canceled)
	call.ok(opaque("tok-1", t0.Add(time.Hour)))
}

func TestAPanickingSourceIsAnError(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	c := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { panic("boom") }), tokencache.WithClock(clk))
	t.Cleanup(c.Close)
	_, err := c.Token()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "token source panicked: boom")
	assert.EqualValues(t, 1, c.Stats().Failures)
}

// TestManyLifetimesUnderConcurrentCallers drives callers on every P through a hundred seconds
// of 10-second tokens, for the race detector and the invariants: no caller ever sees an error
// or waits once the cache is warm, and the source is asked once per refresh interval.
func TestManyLifetimesUnderConcurrentCallers(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := &counterSource{clk: clk, life: 10 * time.Second}
	events := make(chan tokencache.RefreshEvent, 1)
	// Refresh 7.2 s into each token's life: 80% of 10 s less its 1 s skew allowance.
	c := tokencache.New(src, tokencache.WithClock(clk), fixedRand(0),
		tokencache.OnRefresh(func(e tokencache.RefreshEvent) { events <- e }))
	t.Cleanup(c.Close)
	_, err := c.Token()
	require.NoError(t, err)
	receive(t, events)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := c.Token()
				if err != nil || tok == nil {
					t.Errorf("Token() = %v, %v", tok, err)
					return
				}
				calls.Add(1)
				runtime.Gosched() // let the goroutine advancing the clock run
			}
		})
	}
	// 250 ms steps: each refresh fires 7.2 s into a token's life and its token arrives at the
	// end of that step, 7.25 s after the previous one.
	for range 400 {
		before := c.Stats().Fetches
		clk.Advance(250 * time.Millisecond)
		if c.Stats().Fetches > before {
			ev := receive(t, events)
			assert.True(t, ev.Background)
			assert.Equal(t, 2750*time.Millisecond, ev.Lead)
		}
	}
	close(stop)
	wg.Wait()

	st := c.Stats()
	assert.Zero(t, st.Errors)
	assert.EqualValues(t, 14, st.Fetches, "the cold start and a refresh every 7.25 s for 100 s")
	assert.EqualValues(t, 13, st.Refreshes)
	assert.EqualValues(t, 1, st.Stalls, "only the cold start waited")
	assert.Equal(t, calls.Load()+1, st.Hits+st.Stalls, "every call is a hit or a stall")
}
