package load

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

func TestShortfallFailsAGeneratorThatCouldNotKeepUp(t *testing.T) {
	mustParse := func(exprs ...string) []Threshold {
		ts, err := ParseThresholds(exprs, ModeIssuance)
		require.NoError(t, err)
		return ts
	}
	onTime := &evidence.ScheduleLag{P99MS: 2, Late: 0}
	cases := []struct {
		name       string
		p          pace
		thresholds []Threshold
		want       string
	}{
		{"kept up", pace{asked: 100, active: 2 * time.Second, sent: 200, lag: onTime}, nil, ""},
		{"one request short where the schedule ends", pace{asked: 20, active: 300 * time.Millisecond, sent: 5, unsent: 1, lag: onTime}, nil, ""},
		{"far below the asked rate", pace{asked: 1000000, active: 2 * time.Second, sent: 1690, unsent: 1998310, lag: &evidence.ScheduleLag{P99MS: 1900, Late: 3115}}, nil,
			"asked 1000000/s, achieved 845/s, 3115 requests left late: the generator, not the target, was the limit"},
		{"below 95% of the plan, on time", pace{asked: 100, active: 10 * time.Second, sent: 900, unsent: 100, lag: onTime}, nil,
			"asked 100/s, achieved 90/s, 0 requests left late: the generator, not the target, was the limit"},
		{"at 96% of the plan", pace{asked: 100, active: 10 * time.Second, sent: 960, unsent: 40, lag: onTime}, nil, ""},
		{"a short run behind by less than the lag bound", pace{asked: 100, active: time.Second, sent: 80, unsent: 20, lag: onTime}, nil, ""},
		{"a short run behind by more than the lag bound", pace{asked: 100, active: time.Second, sent: 70, unsent: 30, lag: onTime}, nil,
			"asked 100/s, achieved 70/s, 0 requests left late: the generator, not the target, was the limit"},
		{"every request sent, but late", pace{asked: 100, active: 10 * time.Second, sent: 1000, lag: &evidence.ScheduleLag{P99MS: 400, Late: 120}}, nil,
			"asked 100/s, achieved 100/s, 120 requests left late: the generator, not the target, was the limit"},
		{"late within the bound", pace{asked: 100, active: 10 * time.Second, sent: 1000, lag: &evidence.ScheduleLag{P99MS: 200, Late: 30}}, nil, ""},
		{"the user's rate threshold says otherwise", pace{asked: 1000, active: time.Second, sent: 500, unsent: 500, lag: onTime},
			mustParse("rate>=400"), ""},
		{"the user's throughput threshold says otherwise", pace{asked: 1000, active: time.Second, sent: 500, unsent: 500, lag: onTime},
			mustParse("throughput>=400"), ""},
		{"the user's lag threshold says otherwise", pace{asked: 100, active: time.Second, sent: 100, lag: &evidence.ScheduleLag{P99MS: 900, Late: 90}},
			mustParse("lag_p99<1s"), ""},
		{"a rate threshold does not excuse the lag", pace{asked: 100, active: time.Second, sent: 100, lag: &evidence.ScheduleLag{P99MS: 900, Late: 90}},
			mustParse("rate>=1"), "asked 100/s, achieved 100/s, 90 requests left late: the generator, not the target, was the limit"},
		{"as fast as possible promises no rate", pace{asked: 0, active: time.Second, sent: 10, lag: &evidence.ScheduleLag{P99MS: 900}}, nil, ""},
		{"paused by Retry-After throughout", pace{asked: 50, active: 0, sent: 3}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.p.shortfall(c.thresholds))
		})
	}
}

func TestUnsentCountsThePlannedRequestsNeverSent(t *testing.T) {
	b := newBackoffPacer(context.Background(), vegeta.Rate{Freq: 100, Per: time.Second})
	n, active, ok := b.unsent(time.Second, 60)
	require.True(t, ok)
	assert.Equal(t, uint64(40), n)
	assert.Equal(t, time.Second, active)
	n, _, _ = b.unsent(time.Second, 101)
	assert.Zero(t, n, "more sent than planned: nothing left")

	b.paused = 200 * time.Millisecond // a Retry-After shifted the schedule
	n, active, _ = b.unsent(time.Second, 60)
	assert.Equal(t, uint64(20), n)
	assert.Equal(t, 800*time.Millisecond, active)
	b.active, b.start, b.until = true, 900*time.Millisecond, 2*time.Second // one still in force
	n, active, _ = b.unsent(time.Second, 0)
	assert.Zero(t, n)
	assert.Zero(t, active)

	_, _, ok = newBackoffPacer(context.Background(), vegeta.LinearPacer{StartAt: vegeta.Rate{Freq: 1, Per: time.Second}, Slope: 1}).unsent(time.Second, 0)
	assert.False(t, ok, "a ramp keeps its own rule")
}

// A real run at an absurd rate fails for the generator; the user's own thresholds can accept it.
func TestRunAtAnAbsurdRateFailsForTheGenerator(t *testing.T) {
	s := startMock(t, mock.WithPolicy(mock.PolicyCached))
	cfg := baseConfig(t, s, ModeIssuance)
	cfg.Rate, cfg.Duration, cfg.MaxWorkers = vegeta.Rate{Freq: 1000000, Per: time.Second}, 300*time.Millisecond, 4
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "failed", sum.Result)
	assert.Contains(t, sum.Reason, "asked 1000000/s, achieved ")
	assert.Contains(t, sum.Reason, "the generator, not the target, was the limit")
	assert.Equal(t, 1.0, sum.Success, "the target answered every request")

	cfg.Dir = filepath.Join(t.TempDir(), "load")
	cfg.Thresholds, err = ParseThresholds([]string{"rate>=1", "lag_p99<1h"}, ModeIssuance)
	require.NoError(t, err)
	sum, err = Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "passed", sum.Result, sum.Reason)
}
