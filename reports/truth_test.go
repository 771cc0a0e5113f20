package reports_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

// The report lists every waiver with whether it was in force; an expired one is listed as
// expired, whether the manifest marks it (this harness) or only its date says so (older bundles).
func TestReportListsExpiredWaiversAsExpired(t *testing.T) {
	cases := []struct {
		name   string
		waiver evidence.Waiver
		want   string
	}{
		{"in force", evidence.Waiver{ID: "GRANT-05", Reason: "by design", Expires: "2030-01-01"}, "in force"},
		{"marked expired", evidence.Waiver{ID: "GRANT-05", Reason: "by design", Expires: "2025-01-01", Expired: true}, "expired"},
		{"expired by its date", evidence.Waiver{ID: "GRANT-05", Reason: "by design", Expires: reportstest.Start.Format("2006-01-02")}, "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := reportstest.WriteConformance(dir)
			require.NoError(t, err)
			run := reportstest.ConformanceRun()
			run.Waivers = []evidence.Waiver{tc.waiver}
			require.NoError(t, reports.Finalize(dir, run, reportstest.Options(nil)))
			page, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
			require.NoError(t, err)
			section := sectionOf(t, page, "run")
			assert.Contains(t, section, tc.waiver.Expires)
			assert.Contains(t, section, tc.want)
			if tc.want == "in force" {
				assert.NotContains(t, section, "expired")
			}
		})
	}
}

// Beside the Target, the report shows where the requests actually went: the distinct origins of
// the transcripts.
func TestReportShowsWhereRequestsWent(t *testing.T) {
	dir := t.TempDir()
	_, err := reportstest.WriteConformance(dir)
	require.NoError(t, err)
	// One exchange went elsewhere (as through the embedded mock's TLS front).
	p := filepath.Join(dir, evidence.TranscriptsDir, "0001.json")
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	var tr evidence.Transcript
	require.NoError(t, json.Unmarshal(data, &tr))
	tr.Request.URL = "https://127.0.0.1:44443/ticket-distributor-authorizer/token"
	require.NoError(t, os.WriteFile(p, jsonMarshal(t, tr), 0o644))
	require.NoError(t, reports.Finalize(dir, reportstest.ConformanceRun(), reportstest.Options(nil)))
	page, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	section := sectionOf(t, page, "run")
	assert.Contains(t, section, "Requests went to")
	assert.Contains(t, section, "<code>http://127.0.0.1:41234</code>")
	assert.Contains(t, section, "<code>https://127.0.0.1:44443</code>")
	assert.Contains(t, string(page), "requests went to")
}

func jsonMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
