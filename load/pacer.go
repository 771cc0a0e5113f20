package load

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// backoffPacer is a vegeta.Pacer that pauses the attack while a server's Retry-After (from a
// 429) is in force, then resumes the inner pacer's schedule where it left off (shifted by the
// pause, so no burst follows it). It also knows when each hit was planned, for schedule lag,
// and stops the attack when ctx is done while it is pausing.
type backoffPacer struct {
	ctx   context.Context
	inner vegeta.Pacer
	// ring: whether plan is kept. A ConstantPacer's plan is its analytic schedule shifted by
	// the pauses (scheduleOf and shifts), so for it the hot path skips the ring and its lock.
	ring bool

	mu     sync.Mutex
	began  time.Time // the attack's start, learnt from the first Pace call
	paused time.Duration
	active bool
	start  time.Duration // of the active pause, in elapsed time
	until  time.Duration
	pauses int64
	// shifts records the total pause in force from a hit index on (ascending).
	shifts []shift
	// plan holds the planned send time of recent hits, as the pacer gave it, by hit index.
	plan [planRing]plannedHit
}

// planRing bounds the planned times kept: hits further back than this (in flight that long)
// fall back to the pacer's analytic schedule.
const planRing = 1 << 14

type plannedHit struct {
	hit uint64
	at  time.Duration // elapsed, pauses included
	ok  bool
}

type shift struct {
	from uint64
	by   time.Duration
}

func newBackoffPacer(ctx context.Context, inner vegeta.Pacer) *backoffPacer {
	_, constant := inner.(vegeta.ConstantPacer)
	return &backoffPacer{ctx: ctx, inner: inner, ring: !constant}
}

// settle folds a finished pause into paused; it returns the virtual (schedule) time at e.
func (b *backoffPacer) settle(e time.Duration) time.Duration {
	if b.active {
		if e < b.until {
			return b.start - b.paused
		}
		b.paused += b.until - b.start
		b.active = false
	}
	return e - b.paused
}

// Pace implements vegeta.Pacer.
func (b *backoffPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	b.mu.Lock()
	if b.began.IsZero() {
		b.began = time.Now().Add(-elapsed)
	}
	for b.active && elapsed < b.until {
		d := b.until - elapsed
		b.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return 0, true
		case <-t.C:
		}
		b.mu.Lock()
		elapsed = time.Since(b.began)
	}
	v := b.settle(elapsed)
	if n := len(b.shifts); (n == 0 && b.paused > 0) || (n > 0 && b.shifts[n-1].by != b.paused) {
		b.shifts = append(b.shifts, shift{from: hits, by: b.paused})
	}
	paused := b.paused
	b.mu.Unlock()
	if b.ctx.Err() != nil {
		return 0, true
	}
	w, stop := b.inner.Pace(v, hits)
	if w > 0 && b.ring {
		// On schedule: the hit is planned for when the pacer says. (When it is behind, the
		// pacer says 0 and the analytic schedule gives the plan.)
		b.mu.Lock()
		b.plan[hits%planRing] = plannedHit{hit: hits, at: v + w + paused, ok: true}
		b.mu.Unlock()
	}
	return w, stop
}

// Rate implements vegeta.Pacer.
func (b *backoffPacer) Rate(elapsed time.Duration) float64 {
	b.mu.Lock()
	paused := b.active && elapsed < b.until
	v := b.settle(elapsed)
	b.mu.Unlock()
	if paused {
		return 0
	}
	return b.inner.Rate(v)
}

// RetryAfter pauses the attack for d from now (extending a pause in force).
func (b *backoffPacer) RetryAfter(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.began.IsZero() {
		return
	}
	e := time.Since(b.began)
	b.settle(e)
	if b.active {
		if e+d > b.until {
			b.until = e + d
		}
		return
	}
	b.active, b.start, b.until = true, e, e+d
	b.pauses++
}

// stats returns the pauses so far and their total length.
func (b *backoffPacer) stats() (int64, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	total := b.paused
	if b.active {
		total += min(time.Since(b.began), b.until) - b.start
	}
	return b.pauses, total
}

// planned returns when hit seq was planned to leave, and whether that is known.
func (b *backoffPacer) planned(seq uint64) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.began.IsZero() {
		return time.Time{}, false
	}
	if p := b.plan[seq%planRing]; p.ok && p.hit == seq {
		return b.began.Add(p.at), true
	}
	due, ok := scheduleOf(b.inner, seq)
	if !ok {
		return time.Time{}, false
	}
	i := sort.Search(len(b.shifts), func(i int) bool { return b.shifts[i].from > seq })
	if i > 0 {
		due += b.shifts[i-1].by
	}
	return b.began.Add(due), true
}

// scheduleOf is when Vegeta's pacer p plans hit k (0-based), as elapsed time from the start.
func scheduleOf(p vegeta.Pacer, k uint64) (time.Duration, bool) {
	switch p := p.(type) {
	case vegeta.ConstantPacer:
		if p.Freq <= 0 || p.Per <= 0 {
			return 0, false
		}
		interval := uint64(p.Per.Nanoseconds() / int64(p.Freq))
		return time.Duration((k + 1) * interval), true
	case vegeta.LinearPacer:
		if p.StartAt.Freq <= 0 || p.StartAt.Per <= 0 {
			return 0, false
		}
		if k == 0 {
			return 0, true
		}
		a := p.Slope
		r0 := float64(p.StartAt.Freq) / p.StartAt.Per.Seconds()
		n := float64(k + 1)
		var x float64
		if a == 0 {
			x = n / r0
		} else {
			disc := r0*r0 + 2*a*n
			if disc < 0 {
				return 0, false
			}
			x = (-r0 + math.Sqrt(disc)) / a
		}
		return time.Duration(x * float64(time.Second)), true
	}
	return 0, false
}

// unsent returns how many hits a constant schedule planned before du (the attack's duration,
// pauses included) that were never sent, given the hits sent, and how long the schedule ran:
// du less the pauses that shifted it. ok is false for any other pacer.
func (b *backoffPacer) unsent(du time.Duration, sent uint64) (n uint64, active time.Duration, ok bool) {
	cp, isConst := b.inner.(vegeta.ConstantPacer)
	if !isConst || cp.Freq <= 0 || cp.Per <= 0 {
		return 0, 0, false
	}
	b.mu.Lock()
	shift := b.paused
	if b.active {
		shift += b.until - b.start // a pause still in force shifts every later hit by all of it
	}
	b.mu.Unlock()
	active = du - shift
	if active <= 0 {
		return 0, 0, true
	}
	planned := uint64(float64(active) * float64(cp.Freq) / float64(cp.Per))
	if planned > sent {
		n = planned - sent
	}
	return n, active, true
}
