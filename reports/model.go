// Package reports writes and reads the evidence bundle of a run: summary.json, transcripts,
// manifest.json, SHA256SUMS and its signature, and the self-contained report.html. The
// conformance runner (steps) and the load runner (load) produce results; this package stores
// them, signs them and renders them. Everything it writes has already been redacted at the
// source (internal/redact).
package reports

import (
	"time"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// Status of one check in summary.json.
type Status string

// The statuses of CHECKS.md ("summary.json").
const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusWaived  Status = "waived"
)

// Summary is summary.json, exactly as specified at the end of CHECKS.md: one entry per check ID
// in catalogue order. Fields may be added; none may be renamed.
type Summary struct {
	Result   string        `json:"result"` // "passed" or "failed"
	Profile  string        `json:"profile"`
	Target   string        `json:"target"` // token URL (never a credential)
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Counts   Counts        `json:"counts"`
	Checks   []CheckResult `json:"checks"`
}

// Counts of checks by status, and of failures by level.
type Counts struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	Waived  int `json:"waived"`
	// Failures by the level of the part that failed.
	FailedMust   int `json:"failed_must"`
	FailedShould int `json:"failed_should"`
	FailedInfo   int `json:"failed_info"`
}

// CheckResult is one row of summary.json.
type CheckResult struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Level       string   `json:"level"` // "must" | "should" | "info": for a failed check, the level of the part that failed
	Status      Status   `json:"status"`
	Reason      string   `json:"reason"` // what was expected and what came back; why skipped; the waiver's reason
	DurationMS  int64    `json:"duration_ms"`
	Transcripts []string `json:"transcripts"` // file names under transcripts/
	// Notes are observations that do not change the verdict (INFO values, "expires_in was a string").
	Notes []string `json:"notes,omitempty"`
}

// Transcript is one HTTP exchange, redacted, as stored in transcripts/NNNN.json.
type Transcript struct {
	Seq        int                 `json:"seq"`
	Checks     []string            `json:"checks"` // check IDs that made this exchange
	Started    time.Time           `json:"started"`
	DurationMS float64             `json:"duration_ms"`
	Request    TranscriptRequest   `json:"request"`
	Response   *TranscriptResponse `json:"response,omitempty"` // nil when no answer came
	Error      string              `json:"error,omitempty"`    // transport error, redacted
}

// TranscriptRequest is the redacted request.
type TranscriptRequest struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body,omitempty"`
}

// TranscriptResponse is the redacted response. An access token in the body is replaced by its
// fingerprint, and described in Tokens.
type TranscriptResponse struct {
	Status    int                 `json:"status"`
	Header    map[string][]string `json:"header"`
	Body      string              `json:"body,omitempty"`
	Truncated bool                `json:"truncated,omitempty"` // body cut at the harness's limit
	Tokens    []redact.TokenInfo  `json:"tokens,omitempty"`
	TLS       *TLSInfo            `json:"tls,omitempty"`
}

// TLSInfo describes the connection of an HTTPS exchange.
type TLSInfo struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
}

// RunInfo describes a run for manifest.json. It never holds a secret.
type RunInfo struct {
	RunID     string    `json:"run_id"`
	Kind      string    `json:"kind"` // "conformance" or "load"
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Profile   string    `json:"profile,omitempty"`
	Tags      string    `json:"tags,omitempty"`
	Seed      int64     `json:"seed"`
	Strict    bool      `json:"strict"`
	Waivers   []Waiver  `json:"waivers,omitempty"`
	TargetURL string    `json:"target_url"`
	APIURL    string    `json:"api_url,omitempty"`
	ClientID  string    `json:"client_id"`
	// Result is "passed" or "failed" as the run decided it (a load run: its thresholds). Empty
	// for a conformance run means: take it from summary.json.
	Result string `json:"result,omitempty"`
}

// Waiver excuses a check's failure, with a reason and an optional expiry date.
type Waiver struct {
	ID      string `json:"id"`
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"` // YYYY-MM-DD; from that day on the waiver no longer applies
}
