package reports_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// BenchmarkFinalizeLoad seals a load bundle whose results.bin holds 200 000 results (about 30 MB,
// 3 minutes at 1 000/s), over a first seal as a load run adding to a bundle does: the cost of
// Finalize's reading, scanning and hashing of a long run.
func BenchmarkFinalizeLoad(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	require := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	require(os.MkdirAll(filepath.Join(dir, "load"), 0o755))
	f, err := os.Create(filepath.Join(dir, filepath.FromSlash(evidence.LoadResultsFile)))
	require(err)
	enc := vegeta.NewEncoder(f)
	var m vegeta.Metrics
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		res := vegeta.Result{Attack: "issuance", Seq: uint64(i), Code: 200, Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
			Latency: time.Duration(3000+i%977) * time.Microsecond, BytesOut: 29, BytesIn: 910, Method: "POST", URL: reportstest.TargetURL}
		if i%101 == 0 {
			res.Code, res.Error = 503, "503 Service Unavailable"
		}
		require(enc.Encode(&res))
		m.Add(&res)
	}
	require(f.Close())
	m.Close()
	sum, err := json.Marshal(map[string]any{"schema": "authzcheck.load/v1", "mode": "issuance", "result": "passed",
		"requests": m.Requests, "rate": m.Rate, "throughput": m.Throughput, "success": m.Success,
		"status_codes": m.StatusCodes})
	require(err)
	require(os.WriteFile(filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile)), sum, 0o644))
	opts := reportstest.Options(nil)
	opts.Credentials = []reports.Credential{{ID: "demo-distributor", Secret: "a-secret-of-the-run"}, {ID: "c2", Secret: "another-secret"}}
	require(reports.Finalize(dir, reportstest.LoadRun(), opts))
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(evidence.LoadResultsFile)))
	require(err)
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		require(reports.Finalize(dir, reportstest.LoadRun(), opts))
	}
}
