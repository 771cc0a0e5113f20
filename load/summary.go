// Package load is authzcheck's load generator: it drives a token endpoint (issuance, ramp) or a
// Bearer-protected API through tokencache (cached) with Vegeta (github.com/tsenart/vegeta/v12/lib),
// streams every result to results.bin in Vegeta's own encoding, and summarises the run in
// summary.json (Summary) and plot.html. The command (cmd/authzcheck load) parses flags into a
// Config and calls Run; `authzcheck report merge` calls Merge.
package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// The schema of load/summary.json lives in package evidence. These aliases keep the load
// package's names while its callers move to evidence; they go once every caller imports it.

// SummarySchema names the layout of summary.json.
//
//go:fix inline
const SummarySchema = evidence.LoadSummarySchema

// File names inside the load directory.
//
//go:fix inline
const (
	ResultsFile = evidence.ResultsFile
	SummaryFile = evidence.LoadSummaryName
	PlotFile    = evidence.PlotFile
)

//go:fix inline
type (
	// Summary is load/summary.json (evidence.LoadSummary).
	Summary        = evidence.LoadSummary
	Plan           = evidence.Plan
	Latencies      = evidence.Latencies
	ErrorCount     = evidence.ErrorCount
	RateLimited    = evidence.RateLimited
	ScheduleLag    = evidence.ScheduleLag
	TokenFigures   = evidence.TokenFigures
	CacheFigures   = evidence.CacheFigures
	ServerCounters = evidence.ServerCounters
	Step           = evidence.Step
	ThresholdCheck = evidence.ThresholdCheck
)

// ReadSummary reads a summary.json (evidence.ReadLoadSummary).
//
//go:fix inline
func ReadSummary(path string) (*Summary, error) { return evidence.ReadLoadSummary(path) }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latenciesOf(m *vegeta.Metrics) Latencies {
	l := m.Latencies
	return Latencies{Min: msOf(l.Min), Mean: msOf(l.Mean), P50: msOf(l.P50), P90: msOf(l.P90), P95: msOf(l.P95),
		P99: msOf(l.P99), P999: msOf(l.Quantile(0.999)), Max: msOf(l.Max)}
}

// code429 is the key of 429 Too Many Requests in Metrics.StatusCodes.
const code429 = "429"

// fillFromMetrics copies Vegeta's metrics (closed) into s, the count of 429s included.
func fillFromMetrics(s *Summary, m *vegeta.Metrics) {
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
