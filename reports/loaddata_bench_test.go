package reports_test

import (
	"bytes"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/reports"
)

// BenchmarkReadResults reads a 100 000-result file (about 83 minutes at 20/s): the cost of the
// report's load section for a long run. B/op divided by 100 000 is the memory kept per result.
func BenchmarkReadResults(b *testing.B) {
	const n = 100_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	enc := vegeta.NewEncoder(&buf)
	for i := 0; i < n; i++ {
		code := uint16(200)
		if i%101 == 0 {
			code = 503
		}
		if err := enc.Encode(&vegeta.Result{Code: code, Timestamp: t0.Add(time.Duration(i) * 50 * time.Millisecond),
			Latency: time.Duration(3000+i%977) * time.Microsecond, Method: "POST", URL: "http://127.0.0.1:1/token"}); err != nil {
			b.Fatal(err)
		}
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, series, _, err := reports.ReadResults(bytes.NewReader(data))
		if err != nil || f.Requests != n || len(series) == 0 {
			b.Fatalf("ReadResults: %v, %d requests", err, f.Requests)
		}
	}
}
