// Package reportstest builds synthetic evidence bundles for tests: a conformance run's
// summary.json, transcripts, cucumber.json and junit.xml, and a load run's results.bin and
// summary.json, all deterministic, so that the report's rendering, sealing and verification can
// be tested (and shown in a browser) without running a target.
package reportstest

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/steps"
)

// Start is when the synthetic conformance run began.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Fixed values of the synthetic runs.
const (
	TargetURL     = "http://127.0.0.1:41234/ticket-distributor-authorizer/token"
	APIURL        = "http://127.0.0.1:41234/products"
	ClientID      = "demo-distributor"
	FailedCheck   = "BEARER-07" // a MUST check the fixture fails
	ShouldFailed  = "HTTP-06"   // a SHOULD check the fixture fails
	WaivedCheck   = "GRANT-05"  // waived
	ManyTxCheck   = "HTTP-07"   // has more transcripts than the report shows inline
	HostileReason = "<script>alert('x')</script> & \"quoted\""
	LoadRequests  = 600 // 20/s for 30 s
)

// ConformanceRun is the RunInfo of the synthetic conformance run.
func ConformanceRun() evidence.RunInfo {
	return evidence.RunInfo{RunID: "0f8fad5b-d9cb-469f-a165-70867728950e", Kind: evidence.KindConformance,
		Started: Start, Finished: Start.Add(4200 * time.Millisecond), Profile: "derbysoft", Tags: "~@intrusive",
		Seed: 42, Strict: false, Waivers: []evidence.Waiver{{ID: WaivedCheck, Reason: "upper-case grant type accepted by design (ticket 123)", Expires: "2026-12-31"}},
		TargetURL: TargetURL, APIURL: APIURL, ClientID: ClientID}
}

// LoadRun is the RunInfo of the synthetic load run.
func LoadRun() evidence.RunInfo {
	return evidence.RunInfo{RunID: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Kind: evidence.KindLoad,
		Started: Start.Add(time.Minute), Finished: Start.Add(time.Minute + 30*time.Second), Seed: 42,
		TargetURL: TargetURL, ClientID: ClientID, Result: evidence.Passed}
}

// SampleJWT is a token-shaped value used only to compute a fingerprint: the fixture never
// writes it.
const sampleJWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJkZW1vLWRpc3RyaWJ1dG9yIiwiZXhwIjoxNzY3MzMzNDQ1fQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl"

// WriteConformance writes a conformance run's files into dir: summary.json with every catalogue
// check (most passed, FailedCheck and ShouldFailed failed, WaivedCheck waived, intrusive ones
// skipped), transcripts/, cucumber.json and junit.xml.
func WriteConformance(dir string) (*evidence.Summary, error) {
	if err := os.MkdirAll(filepath.Join(dir, "transcripts"), 0o755); err != nil {
		return nil, err
	}
	run := ConformanceRun()
	s := &evidence.Summary{Profile: run.Profile, Target: run.TargetURL, Started: run.Started, Finished: run.Finished}
	seq := 0
	tok := redact.Token(sampleJWT)
	writeTx := func(checks []string, t evidence.Transcript) (string, error) {
		seq++
		t.Seq = seq
		t.Checks = checks
		t.Started = Start.Add(time.Duration(seq) * 35 * time.Millisecond)
		t.DurationMS = 2.5 + float64(seq%7)/2
		name := fmt.Sprintf("%04d.json", seq)
		data, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return "", err
		}
		return name, os.WriteFile(filepath.Join(dir, "transcripts", name), append(data, '\n'), 0o644)
	}
	tokenOK := evidence.Transcript{
		Request: evidence.TranscriptRequest{Method: "POST", URL: TargetURL,
			Header: map[string][]string{"Authorization": {"Basic ***"}, "Content-Type": {"application/x-www-form-urlencoded"}},
			Body:   "grant_type=client_credentials"},
		Response: &evidence.TranscriptResponse{Status: 200,
			Header: map[string][]string{"Cache-Control": {"no-store"}, "Content-Type": {"application/json"}},
			Body:   `{"access_token":"` + tok.String() + `","token_type":"Bearer","expires_in":28800,"scope":"product.all"}`,
			Tokens: []evidence.TokenInfo{tok}},
	}
	rejected := evidence.Transcript{
		Request: evidence.TranscriptRequest{Method: "GET", URL: APIURL,
			Header: map[string][]string{"Authorization": {"Bearer ***"}}},
		Response: &evidence.TranscriptResponse{Status: 200,
			Header: map[string][]string{"Content-Type": {"application/json"}},
			Body:   `{"products":[{"id":"P1"}]}`},
	}
	var shared []string
	for i, c := range steps.Checks() { // what a conformance run judges
		r := evidence.CheckResult{ID: c.ID, Title: c.Description(), Level: string(c.Level(run.Profile)),
			Status: evidence.StatusPassed, DurationMS: int64(3 + i%9)}
		switch {
		case c.ID == FailedCheck:
			r.Status, r.Level = evidence.StatusFailed, "must"
			r.Reason = "expected 401 for a token whose signature was altered; the API answered 200 " + HostileReason
			name, err := writeTx([]string{c.ID}, rejected)
			if err != nil {
				return nil, err
			}
			r.Transcripts = []string{name}
		case c.ID == ShouldFailed:
			r.Status, r.Level = evidence.StatusFailed, "should"
			r.Reason = "error answers carry no Cache-Control: no-store"
		case c.ID == WaivedCheck:
			r.Status = evidence.StatusWaived
			r.Reason = "waived: " + run.Waivers[0].Reason
		case c.Need(catalog.NeedIntrusive):
			r.Status = evidence.StatusSkipped
			r.Reason = "needs @intrusive, excluded by the tag filter"
		case c.ID == ManyTxCheck:
			r.Transcripts = append([]string(nil), shared...)
		default:
			name, err := writeTx([]string{c.ID}, tokenOK)
			if err != nil {
				return nil, err
			}
			r.Transcripts = []string{name}
			if len(shared) < 15 {
				shared = append(shared, name)
			}
		}
		if c.Derbysoft == catalog.Info {
			r.Notes = []string{"observed: server classified as reissue"}
		}
		s.Checks = append(s.Checks, r)
		s.Counts.Total++
		switch r.Status {
		case evidence.StatusPassed:
			s.Counts.Passed++
		case evidence.StatusFailed:
			s.Counts.Failed++
			switch r.Level {
			case "must":
				s.Counts.FailedMust++
			case "should":
				s.Counts.FailedShould++
			default:
				s.Counts.FailedInfo++
			}
		case evidence.StatusSkipped:
			s.Counts.Skipped++
		case evidence.StatusWaived:
			s.Counts.Waived++
		}
	}
	s.Result = evidence.Passed
	if s.Counts.FailedMust > 0 {
		s.Result = evidence.Failed
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, evidence.SummaryFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cucumber.json"), []byte("[]\n"), 0o644); err != nil {
		return nil, err
	}
	junit := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<testsuites name="authzcheck"><testsuite name="fixture" tests="1"><testcase name="` + FailedCheck + `"><failure message="altered signature accepted"/></testcase></testsuite></testsuites>` + "\n"
	return s, os.WriteFile(filepath.Join(dir, "junit.xml"), []byte(junit), 0o644)
}

// WriteLoad writes a load run's files into dir/load: results.bin (LoadRequests results over
// 30 s in Vegeta's gob encoding, with a latency spike at 15 s and a few 503s), summary.json and
// plot.html.
func WriteLoad(dir string) error {
	ld := filepath.Join(dir, "load")
	if err := os.MkdirAll(ld, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(ld, "results.bin"))
	if err != nil {
		return err
	}
	enc := vegeta.NewEncoder(f)
	var m vegeta.Metrics // what load writes to summary.json
	errCounts := map[string]int{}
	begin := LoadRun().Started
	for i := 0; i < LoadRequests; i++ {
		lat := 4*time.Millisecond + time.Duration(i%37)*150*time.Microsecond
		if i >= 300 && i < 320 {
			lat += time.Duration(i-299) * 6 * time.Millisecond
		}
		res := vegeta.Result{Attack: "issuance", Seq: uint64(i), Code: 200, Timestamp: begin.Add(time.Duration(i) * 50 * time.Millisecond),
			Latency: lat, BytesOut: 29, BytesIn: 910, Method: "POST", URL: TargetURL,
			Headers: http.Header{"Content-Type": {"application/json"}}}
		if i%97 == 13 {
			res.Code, res.Error = 503, "503 Service Unavailable"
		}
		if i == 450 {
			res.Code, res.Error = 0, "read tcp 127.0.0.1:50000->127.0.0.1:41234: connection reset by peer"
		}
		if err := enc.Encode(&res); err != nil {
			f.Close()
			return err
		}
		m.Add(&res)
		if res.Error != "" {
			errCounts[res.Error]++
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	m.Close()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var errs []any
	for _, e := range m.Errors {
		errs = append(errs, map[string]any{"error": e, "count": errCounts[e]})
	}
	// The shape of evidence.LoadSummary (internal/evidence/load.go), abridged, with Vegeta's metrics of results.bin.
	summary := map[string]any{
		"schema": "authzcheck.load/v1", "mode": "issuance", "result": "passed", "target": TargetURL,
		"requests": m.Requests, "rate": m.Rate, "throughput": m.Throughput, "success": m.Success,
		"duration_ms": ms(m.Duration), "wait_ms": ms(m.Wait), "status_codes": m.StatusCodes, "errors": errs,
		"latency_ms": map[string]any{"min": ms(m.Latencies.Min), "mean": ms(m.Latencies.Mean), "p50": ms(m.Latencies.P50),
			"p90": ms(m.Latencies.P90), "p95": ms(m.Latencies.P95), "p99": ms(m.Latencies.P99),
			"p99_9": ms(m.Latencies.Quantile(0.999)), "max": ms(m.Latencies.Max)},
		"tokens": map[string]any{"responses": 592, "distinct": 592, "distinct_exact": true, "policy": "reissue",
			"policy_reason": "every answer carried a new token", "expires_in_drift_max_ms": 1000, "expires_in_drift_mean_ms": 200},
		"cache":        map[string]any{"token_fetches": 12, "hits": 588, "background_refreshes": 11, "stalls": 0, "retries_401": 0},
		"schedule_lag": map[string]any{"p99_ms": 1.2, "max_ms": 3.4, "late": 0},
		"thresholds": []any{
			map[string]any{"expr": "p99<250ms", "measured": "90.55ms", "value": 90.55, "held": true},
			map[string]any{"expr": "success>=0.95", "measured": "0.9867", "value": 0.9867, "held": true},
		},
	}
	data, err := json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ld, "summary.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ld, "plot.html"), []byte("<!doctype html><title>plot</title><p>fixture plot</p>\n"), 0o644)
}

// Options returns FinalizeOptions with a fixed harness identity (so rendered output is the same
// on every machine) and the given signing key (nil: unsigned).
func Options(key ed25519.PrivateKey) reports.FinalizeOptions {
	return reports.FinalizeOptions{SignKey: key, Build: &buildinfo.Info{Version: "v0.0.0-fixture",
		Commit: "0123456789abcdef0123456789abcdef01234567", Go: "go1.26.0", Godog: "v0.16.0", Vegeta: "v12.13.0"}}
}

// WriteBundle writes a sealed bundle into dir: a conformance run sealed with Finalize and, with
// withLoad, a load run added to it and sealed again.
func WriteBundle(dir string, withLoad bool, key ed25519.PrivateKey) error {
	if _, err := WriteConformance(dir); err != nil {
		return err
	}
	if err := reports.Finalize(dir, ConformanceRun(), Options(key)); err != nil {
		return err
	}
	if !withLoad {
		return nil
	}
	if err := WriteLoad(dir); err != nil {
		return err
	}
	return reports.Finalize(dir, LoadRun(), Options(key))
}
