package steps

import (
	"regexp"
	"sync"

	"github.com/cucumber/godog"
)

// stepDef is one step definition: its pattern, compiled once per process, and its function.
// A step family's pattern has the wording as its first group, one of words.
type stepDef struct {
	re    *regexp.Regexp
	fn    any
	words *wordings
}

// stepTable collects step definitions; it has the shape of godog's ScenarioContext.Step.
type stepTable []stepDef

// Step adds a step whose pattern is matched as written.
func (t *stepTable) Step(pattern string, fn any) {
	*t = append(*t, stepDef{re: regexp.MustCompile(pattern), fn: fn})
}

// family adds a step family: pattern has words' alternation as its first group.
func (t *stepTable) family(pattern string, words *wordings, fn any) {
	*t = append(*t, stepDef{regexp.MustCompile(pattern), fn, words})
}

// stepDefs is every step of the suite, compiled once: godog registers the steps of every
// scenario anew, and compiling their patterns each time would cost more than the HTTP.
var stepDefs = sync.OnceValue(func() stepTable {
	var t stepTable
	defineSteps(&t)
	return t
})

// registerSteps gives godog the suite's step definitions.
func registerSteps(sc *godog.ScenarioContext) {
	for _, d := range stepDefs() {
		sc.Step(d.re, d.fn)
	}
}

// defineSteps defines every step of the suite. Steps are few and general, most of them tables
// of named wordings (step families, see wordings.go): a new check should usually need only new
// Gherkin, or a new entry in a table.
func defineSteps(t *stepTable) {
	// Actions: tables of named requests (requests.go) and API calls (api.go).
	t.family(`^I have `+tokenGrantWordings().alt+`$`, tokenGrantWordings(), haveToken)
	t.family(`^I `+tokenRequestWordings().alt+`$`, tokenRequestWordings(), requestToken)
	t.family(`^I `+tokenRequestWordings().alt+` (\d+) times (in a row|at once)$`, tokenRequestWordings(), requestTokenRepeated)
	t.family(`^I call `+apiCallWordings().alt+`$`, apiCallWordings(), callAPI)
	registerCredentialSteps(t)

	// Outcomes: families of wordings.
	registerAnswerSteps(t)
	registerJWTSteps(t)
	registerTransportSteps(t)
	registerWholeRunSteps(t)
	registerEveryTokenSteps(t)
	registerCacheSteps(t)
}
