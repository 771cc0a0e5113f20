package load

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The planned send times used for schedule lag are the ones Vegeta's own pacers produce when
// nothing is late: simulate an attack that sleeps exactly as told.
func TestScheduleMatchesVegetaPacers(t *testing.T) {
	pacers := map[string]vegeta.Pacer{
		"constant 100/s":   vegeta.Rate{Freq: 100, Per: time.Second},
		"constant 1/2s":    vegeta.Rate{Freq: 1, Per: 2 * time.Second},
		"linear 10->110":   vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: 10000, Per: 1000 * time.Second}, Slope: 50},
		"linear flat 20/s": vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: 20, Per: time.Second}, Slope: 0},
	}
	for name, p := range pacers {
		t.Run(name, func(t *testing.T) {
			bp := newBackoffPacer(context.Background(), p)
			var elapsed time.Duration
			for k := uint64(0); k < 300; k++ {
				wait, stop := bp.Pace(elapsed, k)
				require.False(t, stop)
				elapsed += wait
				began, _ := bp.begun()
				at, ok := bp.planned(k)
				require.True(t, ok)
				assert.InDelta(t, float64(elapsed), float64(at.Sub(began)), float64(time.Microsecond), "hit %d", k)
			}
		})
	}
}

// A ConstantPacer's plan is not kept in the ring: its analytic schedule, shifted by the pauses,
// gives the same times the ring would have held.
func TestConstantPlanNeedsNoRing(t *testing.T) {
	rate := vegeta.Rate{Freq: 100, Per: time.Second}
	assert.False(t, newBackoffPacer(context.Background(), rate).ring)
	assert.True(t, newBackoffPacer(context.Background(), vegeta.LinearPacer{StartAt: rate}).ring)

	bp := newBackoffPacer(context.Background(), rate)
	bp.ring = true // record what the ring would hold
	var elapsed time.Duration
	for k := uint64(0); k < 300; k++ {
		if k == 20 || k == 150 {
			// A pause that is over by the next hit's (virtual) time: no waiting, but a shift.
			bp.RetryAfter(time.Millisecond)
			elapsed += 20 * time.Millisecond
		}
		wait, stop := bp.Pace(elapsed, k)
		require.False(t, stop)
		elapsed += wait
	}
	bp.mu.Lock()
	require.NotEmpty(t, bp.shifts, "the pauses shifted the schedule")
	bp.mu.Unlock()
	var ring []time.Time
	for k := uint64(0); k < 300; k++ {
		at, ok := bp.planned(k)
		require.True(t, ok)
		ring = append(ring, at)
	}
	bp.mu.Lock()
	bp.plan = [planRing]plannedHit{}
	bp.mu.Unlock()
	for k := uint64(0); k < 300; k++ {
		at, ok := bp.planned(k)
		require.True(t, ok)
		assert.True(t, ring[k].Equal(at), "hit %d: ring %v, schedule %v", k, ring[k], at)
	}
}

// When the attack is behind, the pacer answers 0 and the analytic schedule is the plan: it
// must match what the constant pacer would have planned.
func TestConstantScheduleMatchesVegeta(t *testing.T) {
	p := vegeta.Rate{Freq: 100, Per: time.Second}
	var elapsed time.Duration
	for k := uint64(0); k < 300; k++ {
		wait, _ := p.Pace(elapsed, k)
		elapsed += wait
		due, ok := scheduleOf(p, k)
		require.True(t, ok)
		assert.Equal(t, elapsed, due, "hit %d", k)
	}
}

func TestBackoffPacerPausesThenResumesWithoutABurst(t *testing.T) {
	p := newBackoffPacer(context.Background(), vegeta.Rate{Freq: 10, Per: time.Second}) // a hit every 100ms
	w, stop := p.Pace(0, 0)
	require.False(t, stop)
	assert.Equal(t, 100*time.Millisecond, w)
	// A 429 asks for 300ms: Pace blocks until the pause is over.
	p.RetryAfter(300 * time.Millisecond)
	began, _ := p.begun()
	start := time.Now()
	w, stop = p.Pace(time.Since(began), 1)
	blocked := time.Since(start)
	require.False(t, stop)
	assert.GreaterOrEqual(t, blocked, 250*time.Millisecond, "the pacer held the attack for the Retry-After")
	// The schedule resumed where it was, shifted by the pause: no burst of catch-up hits.
	assert.Greater(t, w, time.Duration(0), "after a pause the next hit waits its turn instead of bursting")
	n, paused := p.stats()
	assert.Equal(t, int64(1), n)
	assert.GreaterOrEqual(t, paused, 250*time.Millisecond)
	at, ok := p.planned(1)
	require.True(t, ok)
	assert.GreaterOrEqual(t, at.Sub(began), 450*time.Millisecond, "the plan of later hits includes the pause")
}

func TestBackoffPacerStopsWhenCancelledDuringAPause(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := newBackoffPacer(ctx, vegeta.Rate{Freq: 10, Per: time.Second})
	p.Pace(0, 0)
	p.RetryAfter(time.Hour)
	done := make(chan bool)
	go func() {
		_, stop := p.Pace(time.Millisecond, 1)
		done <- stop
	}()
	cancel()
	select {
	case stop := <-done:
		assert.True(t, stop)
	case <-time.After(5 * time.Second):
		t.Fatal("Pace did not return after cancellation")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := func(v string) map[string][]string { return map[string][]string{"Retry-After": {v}} }
	assert.Equal(t, 2*time.Second, retryAfter(h("2"), now))
	assert.Equal(t, time.Second, retryAfter(nil, now), "no header: a second")
	assert.Equal(t, time.Second, retryAfter(h("soon"), now))
	assert.Equal(t, 3*time.Second, retryAfter(h(now.Add(3*time.Second).Format(http.TimeFormat)), now))
	assert.Equal(t, time.Hour, retryAfter(h("999999"), now), "capped at an hour")
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, v string) {
		d := retryAfter(http.Header{"Retry-After": {v}}, now)
		if d < 0 || d > time.Hour {
			t.Fatalf("%q -> %v: outside [0, 1h]", v, d)
		}
	})
}
