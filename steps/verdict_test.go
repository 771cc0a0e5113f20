package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

func check(t *testing.T, id string) catalog.Check {
	t.Helper()
	c, ok := catalog.Lookup(id)
	if !ok {
		t.Fatalf("no %s", id)
	}
	return c
}

func TestVerdict(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	must := failure{catalog.Must, "expected status 401, got status 200"}
	should := failure{catalog.Should, "expected error invalid_client, got error invalid_request"}
	tests := []struct {
		name        string
		id, profile string
		outs        []outcome
		waivers     []evidence.Waiver
		status      evidence.Status
		level       string
		reason      string
	}{
		{"passes", "AUTH-01", "derbysoft", []outcome{{}}, nil, evidence.StatusPassed, "must", ""},
		{"MUST part fails", "AUTH-01", "derbysoft", []outcome{{failures: []failure{must}}}, nil, evidence.StatusFailed, "must", must.reason},
		{"only the SHOULD part fails: reported at SHOULD", "AUTH-01", "derbysoft", []outcome{{failures: []failure{should}}}, nil, evidence.StatusFailed, "should", should.reason},
		{"worst part wins, its reason first", "AUTH-01", "derbysoft", []outcome{{failures: []failure{should, must}}}, nil, evidence.StatusFailed, "must", must.reason + "; " + should.reason},
		{"one failing variant of an outline fails the check", "AUTH-15", "derbysoft", []outcome{{}, {failures: []failure{must}}, {}}, nil, evidence.StatusFailed, "must", must.reason},
		{"never run: skipped with the reason", "AUTH-17", "derbysoft", nil, nil, evidence.StatusSkipped, "info", "why"},
		{"every variant skipped", "BEARER-11", "derbysoft", []outcome{{skip: "needs control"}}, nil, evidence.StatusSkipped, "must", "needs control"},
		{"some variants skipped: still passed", "BEARER-12", "derbysoft", []outcome{{}, {skip: "needs keys"}}, nil, evidence.StatusPassed, "should", ""},
		{"waived with the waiver's reason", "AUTH-01", "derbysoft", []outcome{{failures: []failure{must}}}, []evidence.Waiver{{ID: "AUTH-01", Reason: "known; ticket 42"}}, evidence.StatusWaived, "must", "known; ticket 42"},
		{"an expired waiver does not apply", "AUTH-01", "derbysoft", []outcome{{failures: []failure{must}}}, []evidence.Waiver{{ID: "AUTH-01", Reason: "old", Expires: "2029-12-31"}}, evidence.StatusFailed, "must", must.reason},
		{"a waiver never turns a pass into waived", "AUTH-01", "derbysoft", []outcome{{}}, []evidence.Waiver{{ID: "AUTH-01", Reason: "r"}}, evidence.StatusPassed, "must", ""},
		{"profile level: TOK-06 is INFO under rfc6749", "TOK-06", "rfc6749", []outcome{{notes: []string{"expected expires_in 28800, got 3600"}}}, nil, evidence.StatusPassed, "info", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verdict(check(t, tt.id), "title", tt.profile, tt.outs, "why", tt.waivers, now, nil)
			assert.Equal(t, tt.status, got.Status)
			assert.Equal(t, tt.level, got.Level)
			assert.Equal(t, tt.reason, got.Reason)
			assert.NotNil(t, got.Transcripts, "transcripts is a list, never null")
		})
	}
}

func TestSummarizeStrictness(t *testing.T) {
	results := []evidence.CheckResult{
		{ID: "TOK-01", Level: "must", Status: evidence.StatusPassed},
		{ID: "TOK-09", Level: "should", Status: evidence.StatusFailed},
		{ID: "AUTH-01", Level: "must", Status: evidence.StatusWaived},
		{ID: "AUTH-17", Level: "info", Status: evidence.StatusSkipped},
	}
	result, n := summarize(results, false)
	assert.Equal(t, "passed", result, "a SHOULD failure is a warning")
	assert.Equal(t, evidence.Counts{Total: 4, Passed: 1, Failed: 1, Skipped: 1, Waived: 1, FailedShould: 1}, n)
	result, _ = summarize(results, true)
	assert.Equal(t, "failed", result, "--strict")
	results[0].Status = evidence.StatusFailed
	result, _ = summarize(results, false)
	assert.Equal(t, "failed", result)
}

// TestVerdictRedactsTheReasonBeforeCuttingIt: a secret quoted across the point where the joined
// reasons are cut is redacted whole, not left as a fragment the redactor cannot match.
func TestVerdictRedactsTheReasonBeforeCuttingIt(t *testing.T) {
	const secret = "s3cr3t-VALUE-that-must-not-leak"
	pad := strings.Repeat("x", 2*maxFindingBytes-len("…")-10) // the cut falls inside the secret
	outs := []outcome{{failures: []failure{{catalog.Must, pad + secret}}}}
	got := verdict(check(t, "AUTH-01"), "title", "derbysoft", outs, "why", nil, time.Now(), redact.New(secret))
	require.Equal(t, evidence.StatusFailed, got.Status)
	assert.NotContains(t, got.Reason, secret[:8], "no fragment of the secret")
}
