package steps

import (
	"context"
	"io"
	"regexp"
	"sort"
	"sync"
	"testing"

	"github.com/cucumber/godog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/features"
)

// suiteStepLines maps each step line of the suite (its feature file and the step's node in it)
// to the texts it takes: one, or one per example for a line of a scenario outline. godog parses
// the files as a run does (backgrounds, outlines); no step is run.
func suiteStepLines(t *testing.T) map[string][]string {
	t.Helper()
	var mu sync.Mutex
	lines := map[string][]string{}
	suite := godog.TestSuite{
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			sc.Before(func(ctx context.Context, p *godog.Scenario) (context.Context, error) {
				mu.Lock()
				defer mu.Unlock()
				for _, st := range p.Steps {
					key := p.Uri + "#" + st.AstNodeIds[0]
					if !contains(lines[key], st.Text) {
						lines[key] = append(lines[key], st.Text)
					}
				}
				return ctx, godog.ErrSkip
			})
		},
		Options: &godog.Options{Format: "progress", Output: io.Discard, NoColors: true, FS: features.FS,
			Paths: featurePaths(), Concurrency: 1},
	}
	suite.Run()
	require.NotEmpty(t, lines)
	return lines
}

// TestStepPatternsServeSeveralLines: every step text of the suite matches exactly one step
// pattern, every pattern serves some line, and at most a third of the patterns serve a single
// line (the rest are shared wordings and tables of named variants).
func TestStepPatternsServeSeveralLines(t *testing.T) {
	defs := stepDefs()
	served := make([]map[string]bool, len(defs))
	for i := range served {
		served[i] = map[string]bool{}
	}
	lines := suiteStepLines(t)
	for line, texts := range lines {
		for _, text := range texts {
			var matched []int
			for i, d := range defs {
				if d.re.MatchString(text) {
					matched = append(matched, i)
				}
			}
			if assert.Len(t, matched, 1, "%s: %q matches %d patterns", line, text, len(matched)) {
				served[matched[0]][line] = true
			}
		}
	}
	// Every wording of every table is some line's.
	used := map[*wordings]map[int]bool{}
	for i, d := range defs {
		if d.words == nil {
			continue
		}
		if used[d.words] == nil {
			used[d.words] = map[int]bool{}
		}
		for line := range served[i] {
			for _, text := range lines[line] {
				m := d.re.FindStringSubmatch(text)
				require.NotNil(t, m)
				e, _, ok := d.words.match(m[1])
				require.True(t, ok, "%q: its wording %q is no entry's", text, m[1])
				used[d.words][e] = true
			}
		}
	}
	for w, es := range used {
		for i, re := range w.res {
			assert.True(t, es[i], "no line uses the wording %s", re)
		}
	}

	var single, unused []string
	for i, d := range defs {
		switch len(served[i]) {
		case 0:
			unused = append(unused, d.re.String())
		case 1:
			single = append(single, d.re.String())
		}
	}
	sort.Strings(single)
	t.Logf("%d step lines, %d step patterns, %d of them serve a single line", len(lines), len(defs), len(single))
	for _, p := range single {
		t.Logf("  single: %s", p)
	}
	assert.Empty(t, unused, "patterns no line uses")
	assert.LessOrEqual(t, 3*len(single), len(defs), "at most a third of the patterns may serve a single line")
}

// TestUnknownWordingsAreUndefinedSteps: a wording no table has matches no step pattern, so
// godog (Strict) reports an undefined step before anything is sent, not a runtime error.
func TestUnknownWordingsAreUndefinedSteps(t *testing.T) {
	for _, text := range []string{
		"I call the API with the tokn",
		"I call the API with the token, re-signed with alg RS1",
		"I request a token with a wrong secrett",
		"I request a token with the secret altered: one character doubled",
		"I request a token with valid credentials 5 times in parallel",
		"I send a HEAD to the token endpoint with valid credentials and the query \"x\"",
		"I have a valid token as the third client",
		"the field expires_in is a positive number",
		"ideally the response status is 4xx",
		"under the oauth profile, the error is invalid_request",
		"the token's alg is RS256 or ES256",
	} {
		for _, d := range stepDefs() {
			assert.False(t, d.re.MatchString(text), "%q matches %s", text, d.re)
		}
	}
}

func TestNonCapturing(t *testing.T) {
	tests := map[string]string{
		`with the form "([^"]*)"`:      `with the form "(?:[^"]*)"`,
		`(GET|POST) \(literal\) (?:x)`: `(?:GET|POST) \(literal\) (?:x)`,
		`the JSON body (\{.*\})`:       `the JSON body (?:\{.*\})`,
		`no group at all, HS\*`:        `no group at all, HS\*`,
		`trailing backslash \`:         `trailing backslash \`,
		`(a(b)c)`:                      `(?:a(?:b)c)`,
	}
	for in, want := range tests {
		assert.Equal(t, want, nonCapturing(in), in)
	}
	w := newWordings([]string{`a (\d+)`, `b "([^"]*)" (x|y)`})
	assert.Equal(t, 1, regexp.MustCompile(w.alt).NumSubexp(), "the family's pattern has one group: the wording")
	i, args, ok := w.match(`b "q" y`)
	require.True(t, ok)
	assert.Equal(t, 1, i)
	assert.Equal(t, []string{"q", "y"}, args)
	_, _, ok = w.match("c")
	assert.False(t, ok)
}
