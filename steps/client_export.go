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

// ScenarioHead is a scenario of a feature file as the conformance index reads it: its title,
// the tags on the lines right above it, and the index of its "Scenario:" line.
type ScenarioHead struct {
	Title string
	Tags  []string
	Line  int
}

// ScenarioHeads finds the scenarios of a feature file as the conformance run does, so that the
// client catalogue reads its Gherkin by the same rules.
func ScenarioHeads(src string) []ScenarioHead {
	var out []ScenarioHead
	for _, h := range parseScenarioHeads(src) {
		out = append(out, ScenarioHead{Title: h.title, Tags: h.tags, Line: h.line})
	}
	return out
}

// TagFilter selects scenarios by a --tags expression, as conformance does ("@must && ~@api",
// "CLIENT-04,CLIENT-05"); the empty expression selects every one.
type TagFilter struct{ e tagExpr }

// ParseTags parses a --tags expression; the error names what is wrong.
func ParseTags(s string) (TagFilter, error) {
	e, err := parseTagExpr(s)
	return TagFilter{e}, err
}

// Match reports whether a scenario with tags (without "@") is selected.
func (f TagFilter) Match(tags []string) bool { return f.e.match(tags) }
