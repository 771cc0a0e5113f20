package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A Threshold is a pass/fail condition over a run's figures, written METRIC OP VALUE:
// "p99<250ms", "success>=0.999", "429_rate<1%", "fetches_per_call<=0.01". It is parsed once,
// before the run, and evaluated at its end.
type Threshold struct {
	Metric string
	Op     string // <, <=, >, >=
	Value  float64
	Expr   string // as written, trimmed
}

// metricKind says how a metric's value is written and measured.
type metricKind int

const (
	kindDuration metricKind = iota // milliseconds in the figures; a Go duration in the expression
	kindRatio                      // 0..1, or a percentage "99.9%"
	kindNumber                     // a plain number
)

// thresholdMetrics are the metrics a threshold may name, with the modes they apply to
// ("" = every mode).
var thresholdMetrics = map[string]struct {
	kind  metricKind
	modes string
}{
	"p50": {kindDuration, ""}, "p90": {kindDuration, ""}, "p95": {kindDuration, ""},
	"p99": {kindDuration, ""}, "p99.9": {kindDuration, ""}, "mean": {kindDuration, ""},
	"max": {kindDuration, ""}, "min": {kindDuration, ""},
	"success": {kindRatio, ""}, "429_rate": {kindRatio, ""},
	"throughput": {kindNumber, ""}, "lag_p99": {kindDuration, ""},
	"fetches_per_call": {kindNumber, "cached"}, "stalls": {kindNumber, "cached"},
	"retries_401": {kindNumber, "cached"}, "fetches_per_lifetime": {kindNumber, "cached"},
}

// ThresholdMetrics lists the metric names a threshold may use.
const ThresholdMetrics = "p50 p90 p95 p99 p99.9 mean min max (durations), success 429_rate (ratios), throughput, lag_p99, and for cached fetches_per_call fetches_per_lifetime stalls retries_401"

// ParseThreshold reads one threshold expression.
func ParseThreshold(s string) (Threshold, error) {
	expr := strings.TrimSpace(s)
	i := strings.IndexAny(expr, "<>")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("threshold %q: want METRIC OP VALUE, e.g. 'p99<250ms' or 'success>=0.999'", s)
	}
	metric := strings.ToLower(strings.TrimSpace(expr[:i]))
	switch metric {
	case "p999", "p99_9":
		metric = "p99.9"
	case "rate_429", "429-rate", "ratelimited":
		metric = "429_rate"
	}
	op := expr[i : i+1]
	rest := expr[i+1:]
	if strings.HasPrefix(rest, "=") {
		op += "="
		rest = rest[1:]
	}
	m, ok := thresholdMetrics[metric]
	if !ok {
		return Threshold{}, fmt.Errorf("threshold %q: unknown metric %q; use one of %s", s, metric, ThresholdMetrics)
	}
	raw := strings.TrimSpace(rest)
	if raw == "" {
		return Threshold{}, fmt.Errorf("threshold %q: missing the value after %s", s, op)
	}
	var v float64
	switch m.kind {
	case kindDuration:
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return Threshold{}, fmt.Errorf("threshold %q: %q is not a duration; write it with a unit, e.g. 250ms", s, raw)
		}
		v = msOf(d)
	case kindRatio:
		pct := strings.HasSuffix(raw, "%")
		f, err := strconv.ParseFloat(strings.TrimSuffix(raw, "%"), 64)
		if err != nil || f != f {
			return Threshold{}, fmt.Errorf("threshold %q: %q is not a ratio; write 0.999 or 99.9%%", s, raw)
		}
		if pct {
			f /= 100
		}
		if f < 0 || f > 1 {
			return Threshold{}, fmt.Errorf("threshold %q: %s must be between 0 and 1 (or 0%% and 100%%)", s, metric)
		}
		v = f
	default:
		f, err := strconv.ParseFloat(strings.TrimSuffix(raw, "/s"), 64)
		if err != nil || f != f || f < 0 || f > 1e15 {
			return Threshold{}, fmt.Errorf("threshold %q: %q is not a non-negative number", s, raw)
		}
		v = f
	}
	return Threshold{Metric: metric, Op: op, Value: v, Expr: expr}, nil
}

// ParseThresholds parses every expression, for mode ("issuance", "cached" or "ramp"): a metric
// that does not apply to the mode is an error.
func ParseThresholds(exprs []string, mode string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			return nil, err
		}
		if m := thresholdMetrics[t.Metric]; m.modes != "" && m.modes != mode {
			return nil, fmt.Errorf("threshold %q: %s is measured only by 'load %s'", e, t.Metric, m.modes)
		}
		out = append(out, t)
	}
	return out, nil
}

// String writes the threshold in its canonical form.
func (t Threshold) String() string {
	switch thresholdMetrics[t.Metric].kind {
	case kindDuration:
		return t.Metric + t.Op + time.Duration(t.Value*float64(time.Millisecond)).String()
	default:
		return t.Metric + t.Op + strconv.FormatFloat(t.Value, 'g', -1, 64)
	}
}

// measure reads the threshold's metric from a summary (or a ramp step's view of one).
func (t Threshold) measure(s *Summary) (float64, bool) {
	l := s.LatencyMS
	switch t.Metric {
	case "p50":
		return l.P50, true
	case "p90":
		return l.P90, true
	case "p95":
		return l.P95, true
	case "p99":
		return l.P99, true
	case "p99.9":
		return l.P999, true
	case "mean":
		return l.Mean, true
	case "min":
		return l.Min, true
	case "max":
		return l.Max, true
	case "success":
		return s.Success, true
	case "429_rate":
		return s.RateLimited.Ratio, true
	case "throughput":
		return s.Throughput, true
	case "lag_p99":
		if s.ScheduleLag == nil {
			return 0, false
		}
		return s.ScheduleLag.P99MS, true
	}
	if s.Cache == nil {
		return 0, false
	}
	switch t.Metric {
	case "fetches_per_call":
		return s.Cache.FetchesPerCall, true
	case "stalls":
		return float64(s.Cache.Stalls), true
	case "retries_401":
		return float64(s.Cache.Retries401), true
	case "fetches_per_lifetime":
		return s.Cache.FetchesPerLifetime, s.Cache.Lifetimes > 0
	}
	return 0, false
}

// Evaluate measures the threshold against s.
func (t Threshold) Evaluate(s *Summary) ThresholdCheck {
	v, ok := t.measure(s)
	c := ThresholdCheck{Expr: t.Expr, Value: v}
	if !ok {
		c.Measured = "not measured"
		return c
	}
	switch thresholdMetrics[t.Metric].kind {
	case kindDuration:
		c.Measured = fmtMS(v)
	case kindRatio:
		c.Measured = strconv.FormatFloat(v, 'f', 6, 64)
	default:
		c.Measured = strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch t.Op {
	case "<":
		c.Held = v < t.Value
	case "<=":
		c.Held = v <= t.Value
	case ">":
		c.Held = v > t.Value
	case ">=":
		c.Held = v >= t.Value
	}
	return c
}
