package reports_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
)

func TestReadResultsComputesFiguresAndSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	// 10 requests in second 0 with latencies 1..10 ms, 2 in second 2 (one 503, one no answer).
	for i := 1; i <= 10; i++ {
		require.NoError(t, enc.Encode(&vegeta.Result{Code: 200, Timestamp: t0.Add(time.Duration(i) * 10 * time.Millisecond), Latency: time.Duration(i) * time.Millisecond}))
	}
	require.NoError(t, enc.Encode(&vegeta.Result{Code: 503, Timestamp: t0.Add(2100 * time.Millisecond), Latency: 40 * time.Millisecond, Error: "503 Service Unavailable"}))
	require.NoError(t, enc.Encode(&vegeta.Result{Code: 0, Timestamp: t0.Add(2200 * time.Millisecond), Latency: 20 * time.Millisecond, Error: "connection reset"}))

	f, series, bucket, err := reports.ReadResults(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(12), f.Requests)
	assert.InDelta(t, 10.0/12, f.Success, 1e-9)
	assert.Equal(t, map[string]int{"200": 10, "503": 1, "0": 1}, f.Status)
	assert.Equal(t, []string{"503 Service Unavailable", "connection reset"}, f.Errors)
	// Nearest rank over 1..10, 20, 40 ms.
	assert.Equal(t, 6.0, f.LatencyMS.P50)
	assert.Equal(t, 20.0, f.LatencyMS.P90)
	assert.Equal(t, 40.0, f.LatencyMS.P99)
	assert.Equal(t, 40.0, f.LatencyMS.Max)
	assert.InDelta(t, 2220.0-10, f.DurationMS, 1e-9, "first start to last end")
	assert.Equal(t, 1.0, bucket)
	require.Len(t, series, 2, "empty seconds have no point")
	assert.Equal(t, reports.SeriesPoint{OffsetS: 0, Requests: 10, P50MS: 5, P99MS: 10, MaxMS: 10}, series[0])
	assert.Equal(t, reports.SeriesPoint{OffsetS: 2, Requests: 2, Errors: 2, P50MS: 20, P99MS: 40, MaxMS: 40}, series[1])
}

func TestReadResultsRejectsGarbage(t *testing.T) {
	_, _, _, err := reports.ReadResults(bytes.NewReader([]byte("\x00\x01 not results")))
	require.Error(t, err)
}

func TestReadResultsWidensBucketsOnLongRuns(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	for s := 0; s < 1800; s++ { // 30 minutes, one request a second
		require.NoError(t, enc.Encode(&vegeta.Result{Code: 200, Timestamp: t0.Add(time.Duration(s) * time.Second), Latency: time.Millisecond}))
	}
	_, series, bucket, err := reports.ReadResults(&buf)
	require.NoError(t, err)
	assert.Equal(t, 3.0, bucket)
	assert.LessOrEqual(t, len(series), 600)
	assert.Equal(t, 3, series[0].Requests)
}

func FuzzReadResults(f *testing.F) {
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	_ = enc.Encode(&vegeta.Result{Code: 200, Timestamp: time.Unix(1767323045, 0), Latency: time.Millisecond})
	_ = enc.Encode(&vegeta.Result{Code: 503, Timestamp: time.Unix(1767323046, 0), Latency: 2 * time.Millisecond, Error: "503"})
	f.Add(buf.Bytes())
	f.Add([]byte(`{"code":200,"timestamp":"2026-01-01T00:00:00Z","latency":1000000}` + "\n"))
	f.Add([]byte("1767323045000000000,200,1000000,0,0,,,0,GET,http://x/,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fig, series, bucket, err := reports.ReadResults(bytes.NewReader(data))
		if err != nil {
			return
		}
		total := 0
		for _, p := range series {
			total += p.Requests
			if p.Errors > p.Requests || p.P50MS > p.P99MS || p.P99MS > p.MaxMS {
				t.Fatalf("inconsistent point %+v", p)
			}
		}
		if int64(total) != fig.Requests || bucket < 1 {
			t.Fatalf("series holds %d of %d requests, bucket %v", total, fig.Requests, bucket)
		}
	})
}

// The report's load figures are load/summary.json's, the ones the thresholds were judged on;
// results.bin only draws the series, and gives the figures only when there is no summary.
func TestLoadFiguresComeFromTheSummary(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "load"), 0o755))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	// 9 answers 200 and one 302: a success to Vegeta, and so to the summary.
	for i := 0; i < 10; i++ {
		code := uint16(200)
		if i == 9 {
			code = 302
		}
		require.NoError(t, enc.Encode(&vegeta.Result{Code: code, Timestamp: t0.Add(time.Duration(i) * 100 * time.Millisecond), Latency: time.Duration(i+1) * time.Millisecond}))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(evidence.LoadResultsFile)), buf.Bytes(), 0o644))

	b, err := reports.ReadBundle(dir)
	require.NoError(t, err)
	require.NotNil(t, b.Load)
	require.NotNil(t, b.Load.Figures, "no summary: the figures come from results.bin")
	assert.Equal(t, int64(10), b.Load.Figures.Requests)
	assert.Equal(t, 1.0, b.Load.Figures.Success, "3xx counts as success, as in Vegeta")
	assert.Equal(t, evidence.LoadResultsFile, b.Load.FiguresFrom)
	assert.NotEmpty(t, b.Load.Series)

	summary := `{"schema":"authzcheck.load/v1","mode":"issuance","result":"passed","requests":10,"rate":10.5,
		"throughput":9.75,"success":0.9,"duration_ms":900,"wait_ms":10,
		"latency_ms":{"p50":4.5,"p90":8.9,"p95":9.4,"p99":9.9,"p99_9":9.99,"max":10},
		"status_codes":{"200":9,"500":1},"errors":[{"error":"500 Internal Server Error","count":1}]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile)), []byte(summary), 0o644))
	b, err = reports.ReadBundle(dir)
	require.NoError(t, err)
	assert.Equal(t, &reports.LoadFigures{Requests: 10, Success: 0.9, Rate: 10.5, Throughput: 9.75, DurationMS: 900,
		LatencyMS: evidence.Latencies{P50: 4.5, P90: 8.9, P95: 9.4, P99: 9.9, P999: 9.99, Max: 10},
		Status:    map[string]int{"200": 9, "500": 1}, Errors: []string{"500 Internal Server Error"}}, b.Load.Figures)
	assert.Equal(t, evidence.LoadSummaryFile, b.Load.FiguresFrom)
	assert.NotEmpty(t, b.Load.Series, "the series still comes from results.bin")
	assert.Empty(t, b.Load.Problems)
}
