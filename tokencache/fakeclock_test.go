package tokencache

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// FakeClock is a Clock that moves only when a test advances it. Timers due by then run on the
// advancing goroutine, in deadline order, with Now set to their deadline.
type FakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk *FakeClock
	at  time.Time
	f   func()
}

// NewFakeClock returns a FakeClock reading now.
func NewFakeClock(now time.Time) *FakeClock {
	c := &FakeClock{now: now}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return t
}

// Stop cancels t if it is still pending.
func (t *fakeTimer) Stop() bool {
	c := t.clk
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	c.cond.Broadcast()
	return true
}

// Advance moves the clock forward by d, running every timer that falls due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t == next })
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		next.f()
	}
}

// Jump moves the clock forward by d without running any timer, as a suspended process sees it.
func (c *FakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// AwaitTimer blocks until a timer is pending with deadline at; it fails the test if none is
// after watchdog (real time, a guard against a hang, never a synchronisation).
func (c *FakeClock) AwaitTimer(tb testing.TB, at time.Time) {
	tb.Helper()
	if !c.await(func() bool { return c.hasTimerLocked(at) }) {
		tb.Fatalf("no timer was set for %s (pending: %v)", at.Sub(c.Now()), c.pending())
	}
}

// AwaitTimers blocks until at least n timers are pending, failing the test after watchdog.
func (c *FakeClock) AwaitTimers(tb testing.TB, n int) {
	tb.Helper()
	if !c.await(func() bool { return len(c.timers) >= n }) {
		tb.Fatalf("want %d pending timers, have %d", n, len(c.pending()))
	}
}

// watchdog bounds every wait in the tests, so a broken cache fails instead of hanging.
const watchdog = 10 * time.Second

func (c *FakeClock) await(cond func() bool) bool {
	expired := false
	w := time.AfterFunc(watchdog, func() {
		c.mu.Lock()
		expired = true
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer w.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !cond() {
		if expired {
			return false
		}
		c.cond.Wait()
	}
	return true
}

// pending lists the pending timers' delays from now.
func (c *FakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.timers {
		ds = append(ds, t.at.Sub(c.now))
	}
	return ds
}

// HasTimer reports whether a timer is pending with deadline at.
func (c *FakeClock) HasTimer(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasTimerLocked(at)
}

func (c *FakeClock) hasTimerLocked(at time.Time) bool {
	return slices.ContainsFunc(c.timers, func(t *fakeTimer) bool { return t.at.Equal(at) })
}
