package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
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

// metric is one metric a threshold may name: how it is written, the mode it applies to (""
// every mode) and how it is read from a summary (false: the run did not measure it).
type metric struct {
	name    string
	aliases []string
	kind    metricKind
	mode    Mode
	measure func(*evidence.LoadSummary) (float64, bool)
}

// metrics is every metric a threshold may name, in the order the help lists them: the one
// table that parsing, the help text and evaluation read.
var metrics = []metric{
	{name: "p50", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.P50, true }},
	{name: "p90", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.P90, true }},
	{name: "p95", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.P95, true }},
	{name: "p99", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.P99, true }},
	{name: "p99.9", aliases: []string{"p999", "p99_9"}, kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.P999, true }},
	{name: "mean", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.Mean, true }},
	{name: "min", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.Min, true }},
	{name: "max", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.LatencyMS.Max, true }},
	{name: "lag_p99", kind: kindDuration, measure: func(s *evidence.LoadSummary) (float64, bool) {
		if s.ScheduleLag == nil {
			return 0, false
		}
		return s.ScheduleLag.P99MS, true
	}},
	{name: "success", kind: kindRatio, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.Success, true }},
	{name: "429_rate", aliases: []string{"rate_429", "429-rate", "ratelimited"}, kind: kindRatio,
		measure: func(s *evidence.LoadSummary) (float64, bool) { return s.RateLimited.Ratio, true }},
	{name: "throughput", kind: kindNumber, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.Throughput, true }},
	{name: "rate", kind: kindNumber, measure: func(s *evidence.LoadSummary) (float64, bool) { return s.Rate, true }},
	{name: "fetches_per_call", kind: kindNumber, mode: ModeCached, measure: func(s *evidence.LoadSummary) (float64, bool) {
		return cacheFigure(s, func(c *evidence.CacheFigures) float64 { return c.FetchesPerCall })
	}},
	{name: "fetches_per_lifetime", kind: kindNumber, mode: ModeCached, measure: func(s *evidence.LoadSummary) (float64, bool) {
		if s.Cache == nil || s.Cache.Lifetimes <= 0 {
			return 0, false // no token expiry, no lifetimes
		}
		return s.Cache.FetchesPerLifetime, true
	}},
	{name: "stalls", kind: kindNumber, mode: ModeCached, measure: func(s *evidence.LoadSummary) (float64, bool) {
		return cacheFigure(s, func(c *evidence.CacheFigures) float64 { return float64(c.Stalls) })
	}},
	{name: "retries_401", kind: kindNumber, mode: ModeCached, measure: func(s *evidence.LoadSummary) (float64, bool) {
		return cacheFigure(s, func(c *evidence.CacheFigures) float64 { return float64(c.Retries401) })
	}},
}

func cacheFigure(s *evidence.LoadSummary, f func(*evidence.CacheFigures) float64) (float64, bool) {
	if s.Cache == nil {
		return 0, false
	}
	return f(s.Cache), true
}

// metricNamed finds a metric by its name or an alias.
func metricNamed(name string) (*metric, bool) {
	for i := range metrics {
		m := &metrics[i]
		if m.name == name {
			return m, true
		}
		for _, a := range m.aliases {
			if a == name {
				return m, true
			}
		}
	}
	return nil, false
}

// ThresholdMetrics lists the metric names a threshold may use, for help texts.
var ThresholdMetrics = describeMetrics()

func describeMetrics() string {
	var parts []string
	for _, g := range []struct {
		kind         metricKind
		mode         Mode
		before, what string
	}{
		{kindDuration, "", "", " (durations, e.g. 250ms)"},
		{kindRatio, "", "", " (ratios, e.g. 0.999 or 99.9%)"},
		{kindNumber, "", "", " (per second)"},
		{kindNumber, ModeCached, "for cached: ", ""},
	} {
		var names []string
		for _, m := range metrics {
			if m.kind == g.kind && m.mode == g.mode {
				names = append(names, m.name)
			}
		}
		parts = append(parts, g.before+strings.Join(names, " ")+g.what)
	}
	return strings.Join(parts, "; ")
}

// ParseThreshold reads one threshold expression.
func ParseThreshold(s string) (Threshold, error) {
	expr := strings.TrimSpace(s)
	i := strings.IndexAny(expr, "<>")
	if i <= 0 {
		return Threshold{}, fmt.Errorf("threshold %q: want METRIC OP VALUE, e.g. 'p99<250ms' or 'success>=0.999'", s)
	}
	name := strings.ToLower(strings.TrimSpace(expr[:i]))
	op := expr[i : i+1]
	rest := expr[i+1:]
	if strings.HasPrefix(rest, "=") {
		op += "="
		rest = rest[1:]
	}
	m, ok := metricNamed(name)
	if !ok {
		return Threshold{}, fmt.Errorf("threshold %q: unknown metric %q; use one of %s", s, name, ThresholdMetrics)
	}
	metric := m.name
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

// ParseThresholds parses every expression, for mode: a metric that does not apply to the
// mode is an error.
func ParseThresholds(exprs []string, mode Mode) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			return nil, err
		}
		if err := t.appliesTo(mode); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// appliesTo refuses a threshold whose metric the mode does not measure.
func (t Threshold) appliesTo(mode Mode) error {
	if m, ok := metricNamed(t.Metric); ok && m.mode != "" && m.mode != mode {
		return fmt.Errorf("threshold %q: %s is measured only by 'load %s'", t.Expr, t.Metric, m.mode)
	}
	return nil
}

// kind is how the threshold's metric is written (a duration for an unknown one: never, as
// ParseThreshold refuses those).
func (t Threshold) kind() metricKind {
	if m, ok := metricNamed(t.Metric); ok {
		return m.kind
	}
	return kindDuration
}

// String writes the threshold in its canonical form.
func (t Threshold) String() string {
	switch t.kind() {
	case kindDuration:
		return t.Metric + t.Op + time.Duration(t.Value*float64(time.Millisecond)).String()
	default:
		return t.Metric + t.Op + strconv.FormatFloat(t.Value, 'g', -1, 64)
	}
}

// measure reads the threshold's metric from a summary (or a ramp step's view of one).
func (t Threshold) measure(s *evidence.LoadSummary) (float64, bool) {
	m, ok := metricNamed(t.Metric)
	if !ok {
		return 0, false
	}
	return m.measure(s)
}

// Evaluate measures the threshold against s.
func (t Threshold) Evaluate(s *evidence.LoadSummary) evidence.ThresholdCheck {
	v, ok := t.measure(s)
	c := evidence.ThresholdCheck{Expr: t.Expr, Value: v}
	if !ok {
		c.Measured = "not measured"
		return c
	}
	switch t.kind() {
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
