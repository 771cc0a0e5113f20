package steps

import "github.com/authzcheck/authzcheck/internal/evidence"

// WriteOutputs writes summary.json, junit.xml and cucumber.json into dir exactly as a
// conformance run does. The client certification run (package client) writes its bundle
// with it, so that both kinds of run produce the same files.
func WriteOutputs(dir string, sum *evidence.Summary, cucumber [][]byte) error {
	return writeOutputs(dir, sum, cucumber)
}

// Summarize counts check results and decides the run as a conformance run does: failed when a
// MUST check failed, or a SHOULD check under strict.
func Summarize(results []evidence.CheckResult, strict bool) (string, evidence.Counts) {
	return summarize(results, strict)
}
