package mock_test

import (
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/mock"
)

// BenchmarkIssueLatencyAt500 drives the reissue token endpoint at a constant rate with Vegeta
// (open model: requests leave on schedule whatever the latency) and reports the latency
// percentiles. It ignores b.N: run it with -benchtime 1x. MOCK_BENCH_RATE (default 500/s) and
// MOCK_BENCH_DURATION (default 10s) change the load.
func BenchmarkIssueLatencyAt500(b *testing.B) {
	rate, dur := 500, 10*time.Second
	if v, err := strconv.Atoi(os.Getenv("MOCK_BENCH_RATE")); err == nil && v > 0 && v <= 20000 {
		rate = v
	}
	if v, err := time.ParseDuration(os.Getenv("MOCK_BENCH_DURATION")); err == nil && v > 0 && v <= 5*time.Minute {
		dur = v
	}
	srv, err := mock.New(mock.WithKey(testKey()))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 10000}
	defer tr.CloseIdleConnections()
	atk := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: 5 * time.Second}))
	target := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: srv.TokenURL(),
		Body:   []byte("grant_type=client_credentials"),
		Header: http.Header{"Authorization": {demoBasic()}, "Content-Type": {formCT}}})
	var m vegeta.Metrics
	b.ResetTimer()
	for res := range atk.Attack(target, vegeta.Rate{Freq: rate, Per: time.Second}, dur, "issue") {
		m.Add(res)
	}
	b.StopTimer()
	m.Close()
	if m.Success < 0.999 {
		b.Errorf("success ratio %.4f; errors %v", m.Success, m.Errors)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(m.Throughput, "tokens/s")
	b.ReportMetric(float64(m.Latencies.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(m.Latencies.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(m.Latencies.Max.Microseconds())/1000, "max-ms")
}
