package evidence

import "time"

// Summary is summary.json, exactly as specified at the end of CHECKS.md: one entry per check ID
// in catalogue order. Fields may be added; none may be renamed.
type Summary struct {
	Result   string        `json:"result"` // Passed or Failed
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
