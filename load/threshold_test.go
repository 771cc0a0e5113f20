package load

import (
	"testing"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseThreshold(t *testing.T) {
	cases := []struct {
		name, in string
		metric   string
		op       string
		value    float64
		wantErr  string
	}{
		{"latency with a unit is milliseconds", "p99<250ms", "p99", "<", 250, ""},
		{"p99.9 aliases", "p999 <= 1s", "p99.9", "<=", 1000, ""},
		{"success as a ratio", "success>=0.999", "success", ">=", 0.999, ""},
		{"success as a percentage", "success>=99.9%", "success", ">=", 0.999, ""},
		{"429 rate", "429_rate<1%", "429_rate", "<", 0.01, ""},
		{"fetches per call", "fetches_per_call<=0.01", "fetches_per_call", "<=", 0.01, ""},
		{"latency without a unit is refused", "p99<250", "", "", 0, "not a duration"},
		{"unknown metric is named", "p98<1s", "", "", 0, `unknown metric "p98"`},
		{"no operator", "p99", "", "", 0, "want METRIC OP VALUE"},
		{"missing value", "p99<", "", "", 0, "missing the value"},
		{"ratio out of range", "success>=1.5", "", "", 0, "between 0 and 1"},
		{"negative number", "throughput>-1", "", "", 0, "not a non-negative number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th, err := ParseThreshold(c.in)
			if c.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.wantErr)
				assert.Contains(t, err.Error(), c.in, "the error names the expression")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.metric, th.Metric)
			assert.Equal(t, c.op, th.Op)
			assert.InDelta(t, c.value, th.Value, 1e-9)
		})
	}
}

func TestParseThresholdsRefusesAMetricOfAnotherMode(t *testing.T) {
	_, err := ParseThresholds([]string{"fetches_per_call<0.1"}, ModeIssuance)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only by 'load cached'")
	ts, err := ParseThresholds([]string{"fetches_per_call<0.1", "p99<1s"}, ModeCached)
	require.NoError(t, err)
	assert.Len(t, ts, 2)
}

func TestThresholdEvaluate(t *testing.T) {
	s := &evidence.LoadSummary{LatencyMS: evidence.Latencies{P50: 10, P99: 300, P999: 900, Mean: 20, Max: 1000}, Success: 0.998,
		RateLimited: evidence.RateLimited{Ratio: 0.02}, Cache: &evidence.CacheFigures{FetchesPerCall: 0.5, Lifetimes: 10, FetchesPerLifetime: 1.4}}
	cases := []struct {
		expr     string
		held     bool
		measured string
	}{
		{"p99<250ms", false, "300ms"},
		{"p99<=300ms", true, "300ms"},
		{"p50<11ms", true, "10ms"},
		{"p99.9<1s", true, "900ms"},
		{"max<1s", false, "1s"},
		{"mean>=20ms", true, "20ms"},
		{"success>=0.999", false, "0.998000"},
		{"success>99%", true, "0.998000"},
		{"429_rate<1%", false, "0.020000"},
		{"fetches_per_call<=0.5", true, "0.5"},
		{"fetches_per_call<0.5", false, "0.5"},
		{"fetches_per_lifetime<=1.5", true, "1.4"},
		{"fetches_per_lifetime<1.2", false, "1.4"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			th, err := ParseThreshold(c.expr)
			require.NoError(t, err)
			got := th.Evaluate(s)
			assert.Equal(t, c.held, got.Held)
			assert.Equal(t, c.measured, got.Measured)
			assert.Equal(t, c.expr, got.Expr)
		})
	}
	th, _ := ParseThreshold("fetches_per_call<1")
	got := th.Evaluate(&evidence.LoadSummary{})
	assert.False(t, got.Held, "a metric the run did not measure fails its threshold")
	assert.Equal(t, "not measured", got.Measured)
	th, _ = ParseThreshold("fetches_per_lifetime<2")
	got = th.Evaluate(&evidence.LoadSummary{Cache: &evidence.CacheFigures{}})
	assert.False(t, got.Held, "no token expiry, no lifetimes: not measured")
	assert.Equal(t, "not measured", got.Measured)
}

func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"p99<250ms", "success>=99.9%", "429_rate<0.01", "fetches_per_call<=1e-3", "p99.9>1h", "<", "x<=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThreshold(s)
		if err != nil {
			return
		}
		// The canonical form parses back to the same threshold.
		again, err := ParseThreshold(th.String())
		if err != nil {
			t.Fatalf("%q parsed, but its canonical form %q does not: %v", s, th.String(), err)
		}
		if again.Metric != th.Metric || again.Op != th.Op {
			t.Fatalf("%q -> %q changed metric or operator", s, th.String())
		}
		if d := again.Value - th.Value; d > 1e-6*max(1, th.Value) || d < -1e-6*max(1, th.Value) {
			t.Fatalf("%q -> %q changed the value: %v vs %v", s, th.String(), th.Value, again.Value)
		}
	})
}

func TestParseRate(t *testing.T) {
	r, err := ParseRate("50")
	require.NoError(t, err)
	assert.Equal(t, 50, r.Freq)
	assert.Equal(t, time.Second, r.Per)
	r, err = ParseRate("1/2s")
	require.NoError(t, err)
	assert.InDelta(t, 0.5, PerSecond(r), 1e-9)
	r, err = ParseRate("10/m")
	require.NoError(t, err)
	assert.Equal(t, time.Minute, r.Per)
	r, err = ParseRate("0")
	require.NoError(t, err)
	assert.Zero(t, PerSecond(r))
	for _, bad := range []string{"", "-1", "ten", "5/0s", "5/-1s", "5/x"} {
		_, err := ParseRate(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"50", "50/1s", "1/2s", "10/m", "0", "-1", "5/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r.Freq < 0 || r.Per < 0 || (r.Freq > 0 && r.Per == 0) {
			t.Fatalf("%q gave an invalid rate %+v", s, r)
		}
	})
}

// Every metric of the table parses, is listed in the help, applies to the modes it says, and
// is measured from the summary field it names.
func TestEveryMetricParsesIsListedAndMeasured(t *testing.T) {
	s := &evidence.LoadSummary{LatencyMS: evidence.Latencies{Min: 1, Mean: 2, P50: 3, P90: 4, P95: 5, P99: 6, P999: 7, Max: 8},
		Success: 0.9, Throughput: 90, Rate: 100, RateLimited: evidence.RateLimited{Ratio: 0.1}, ScheduleLag: &evidence.ScheduleLag{P99MS: 9},
		Cache: &evidence.CacheFigures{FetchesPerCall: 0.25, FetchesPerLifetime: 1.25, Lifetimes: 4, Stalls: 3, Retries401: 2}}
	want := map[string]float64{"p50": 3, "p90": 4, "p95": 5, "p99": 6, "p99.9": 7, "mean": 2, "min": 1, "max": 8,
		"lag_p99": 9, "success": 0.9, "429_rate": 0.1, "throughput": 90, "rate": 100,
		"fetches_per_call": 0.25, "fetches_per_lifetime": 1.25, "stalls": 3, "retries_401": 2}
	require.Len(t, metrics, len(want), "a metric added to the table is added here")
	for _, m := range metrics {
		assert.Contains(t, ThresholdMetrics, m.name)
		value := "1"
		if m.kind == kindDuration {
			value = "1s"
		}
		th, err := ParseThreshold(m.name + "<" + value)
		require.NoError(t, err, m.name)
		got, ok := th.measure(s)
		assert.True(t, ok, m.name)
		assert.Equal(t, want[m.name], got, m.name)
		for _, mode := range Modes {
			_, err := ParseThresholds([]string{th.Expr}, mode)
			assert.Equal(t, m.mode == "" || m.mode == mode, err == nil, "%s in %s: %v", m.name, mode, err)
		}
	}
}
