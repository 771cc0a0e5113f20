package load

import (
	"fmt"
	"strconv"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// A generator that cannot keep up with the rate it was asked for measures itself, not the
// target: the requests it never sent saw no latency, and the ones it sent late hide the wait
// the plan would have seen (coordinated omission). Such a run does not pass (issue 10), unless
// the user's own thresholds say what is acceptable.
const (
	// KeepUpShare is the least share of the planned requests a constant-rate run must send.
	KeepUpShare = 0.95
	// MaxLagP99 is the schedule lag (p99) beyond which the generator fell behind.
	MaxLagP99 = 250 * time.Millisecond
)

// pace is how a constant-rate run kept to its schedule.
type pace struct {
	asked  float64               // per second
	active time.Duration         // the run's duration less the pauses a Retry-After imposed
	sent   uint64                // requests that left
	unsent uint64                // requests planned within the duration that never left
	lag    *evidence.ScheduleLag // nil: not measured
}

// shortfall is why the generator, not the target, was the limit, or "" when it kept up:
// fewer than KeepUpShare of the planned requests sent, or a schedule lag p99 above MaxLagP99.
// The requests left unsent at the end are the generator's backlog: a backlog the lag bound
// allows (MaxLagP99's worth of requests at the asked rate, and one request for where the
// schedule's end falls) is not a shortfall, so a short run is not failed for one hiccup. A
// threshold on rate or throughput replaces the first rule, one on lag_p99 the second.
func (p pace) shortfall(thresholds []Threshold) string {
	if p.asked <= 0 || p.active <= 0 {
		return "" // as fast as possible promises no rate; a run paused throughout planned nothing
	}
	ownRate, ownLag := false, false
	for _, t := range thresholds {
		switch t.Metric {
		case "rate", "throughput":
			ownRate = true
		case "lag_p99":
			ownLag = true
		}
	}
	planned := float64(p.sent + p.unsent)
	allowed := max((1-KeepUpShare)*planned, p.asked*MaxLagP99.Seconds()) + 1
	short := !ownRate && float64(p.unsent) > allowed
	var late int64
	behind := false
	if p.lag != nil {
		late = p.lag.Late
		behind = !ownLag && p.lag.P99MS > msOf(MaxLagP99)
	}
	if !short && !behind {
		return ""
	}
	achieved := float64(p.sent) / p.active.Seconds()
	return fmt.Sprintf("asked %s/s, achieved %s/s, %d requests left late: the generator, not the target, was the limit",
		fmtRate(p.asked), fmtRate(achieved), late)
}

// fmtRate writes a rate per second with at most one decimal.
func fmtRate(r float64) string {
	return strconv.FormatFloat(float64(int64(r*10+0.5))/10, 'f', -1, 64)
}
