// Package load is authzcheck's load generator: it drives a token endpoint (issuance, ramp) or a
// Bearer-protected API through tokencache (cached) with Vegeta (github.com/tsenart/vegeta/v12/lib),
// streams every result to results.bin in Vegeta's own encoding, and summarises the run in
// summary.json (evidence.LoadSummary) and plot.html. The command (cmd/authzcheck load) parses flags into a
// Config and calls Run; `authzcheck report merge` calls Merge.
package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latenciesOf(m *vegeta.Metrics) evidence.Latencies {
	l := m.Latencies
	return evidence.Latencies{Min: msOf(l.Min), Mean: msOf(l.Mean), P50: msOf(l.P50), P90: msOf(l.P90), P95: msOf(l.P95),
		P99: msOf(l.P99), P999: msOf(l.Quantile(0.999)), Max: msOf(l.Max)}
}

// code429 is the key of 429 Too Many Requests in Metrics.StatusCodes.
const code429 = "429"

// fillFromMetrics copies Vegeta's metrics (closed) into s, the count of 429s included.
func fillFromMetrics(s *evidence.LoadSummary, m *vegeta.Metrics) {
	s.Requests = m.Requests
	s.RateLimited.Responses = int64(m.StatusCodes[code429])
	s.Rate, s.Throughput, s.Success = m.Rate, m.Throughput, m.Success
	s.DurationMS, s.WaitMS = msOf(m.Duration), msOf(m.Wait)
	s.LatencyMS = latenciesOf(m)
	s.StatusCodes = m.StatusCodes
	if s.Requests > 0 {
		s.RateLimited.Ratio = float64(s.RateLimited.Responses) / float64(s.Requests)
	}
}

func fmtMS(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond).String()
}
