// Package reports seals, verifies and renders the evidence bundle of a run, whose schema is
// package evidence (summary.json, transcripts, load/summary.json): it stages a run's bundle
// (Open), writes manifest.json, SHA256SUMS and its signature, renders the self-contained
// report.html, and checks a bundle against its seal (Verify). The conformance runner (steps) and
// the load runner (load) produce results; this package stores them, signs them and renders them.
// Everything it writes has already been redacted at the source (internal/redact).
package reports

import "github.com/authzcheck/authzcheck/internal/evidence"

// The schema of the bundle lives in package evidence; these aliases keep the names of reports
// for its callers while they move to evidence.

// Status of one check in summary.json.
//
//go:fix inline
type Status = evidence.Status

// The statuses of CHECKS.md ("summary.json").
//
//go:fix inline
const (
	StatusPassed  = evidence.StatusPassed
	StatusFailed  = evidence.StatusFailed
	StatusSkipped = evidence.StatusSkipped
	StatusWaived  = evidence.StatusWaived
)

//go:fix inline
type (
	// Summary is summary.json (evidence.Summary).
	Summary            = evidence.Summary
	Counts             = evidence.Counts
	CheckResult        = evidence.CheckResult
	Transcript         = evidence.Transcript
	TranscriptRequest  = evidence.TranscriptRequest
	TranscriptResponse = evidence.TranscriptResponse
	TLSInfo            = evidence.TLSInfo
	RunInfo            = evidence.RunInfo
	Waiver             = evidence.Waiver
)
