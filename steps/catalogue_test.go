package steps

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/features"
	"github.com/authzcheck/authzcheck/internal/catalog"
)

// TestEveryCheckHasExactlyOneScenarioWithItsTags: every catalogue ID tags exactly one scenario
// (or outline), with its derbysoft level and exactly its needs; no scenario names an unknown ID.
func TestEveryCheckHasExactlyOneScenarioWithItsTags(t *testing.T) {
	idx, err := indexScenarios(features.FS) // fails on a duplicate ID or a scenario without one
	require.NoError(t, err)
	levels := map[string]bool{"must": true, "should": true, "info": true}
	needs := map[string]bool{catalog.NeedAPI: true, catalog.NeedClient2: true, catalog.NeedKeys: true,
		catalog.NeedControl: true, catalog.NeedIntrusive: true}
	for _, c := range Checks() {
		info, ok := idx[c.ID]
		if !assert.True(t, ok, "%s has no scenario", c.ID) {
			continue
		}
		assert.Equal(t, featureFile(c.Area), info.feature, "%s is in the wrong feature file", c.ID)
		var lv, nd []string
		for _, tag := range info.tags {
			switch {
			case levels[tag]:
				lv = append(lv, tag)
			case needs[tag]:
				nd = append(nd, tag)
			}
		}
		assert.Equal(t, []string{string(c.Derbysoft)}, lv, "%s: level tag", c.ID)
		want := append([]string(nil), c.Needs...)
		sort.Strings(want)
		sort.Strings(nd)
		assert.Equal(t, want, nd, "%s: need tags", c.ID)
		assert.NotEmpty(t, info.title, c.ID)
	}
	assert.Len(t, idx, len(Checks()), "scenarios tagged with IDs the suite's areas do not have")
	// A tag shaped like a check ID must be one (a typo would otherwise pass as a plain tag).
	idShape := regexp.MustCompile(`^[A-Z]+-\d+$`)
	for _, name := range featurePaths() {
		b, err := features.FS.ReadFile(name)
		require.NoError(t, err)
		for _, h := range parseScenarioHeads(string(b)) {
			for _, tag := range h.tags {
				if idShape.MatchString(tag) {
					_, known := catalog.Lookup(tag)
					assert.True(t, known, "%s: scenario %q has the unknown check ID %s", name, h.title, tag)
				}
			}
		}
	}
}

func TestParseScenarioHeads(t *testing.T) {
	src := `Feature: x
  @A-01 @must
  Scenario: first
    When something
  @A-02 @should @api
  Scenario Outline: second <x>
    When <x>
    @keys
    Examples:
      | x |
      | 1 |
  Scenario: untagged`
	got := parseScenarioHeads(src)
	require.Len(t, got, 3)
	assert.Equal(t, []string{"A-01", "must"}, got[0].tags)
	assert.Equal(t, "first", got[0].title)
	assert.Equal(t, []string{"A-02", "should", "api"}, got[1].tags, "example tags are not the scenario's")
	assert.Equal(t, "second <x>", got[1].title)
	assert.Empty(t, got[2].tags)
	assert.Equal(t, "untagged", got[2].title)
}

func FuzzParseScenarioHeads(f *testing.F) {
	for _, name := range featurePaths() {
		b, _ := features.FS.ReadFile(name)
		f.Add(string(b))
	}
	f.Add("@x\n@y Scenario: a\nScenario Outline:")
	f.Fuzz(func(t *testing.T, src string) {
		for _, h := range parseScenarioHeads(src) {
			if strings.TrimSpace(h.title) != h.title {
				t.Fatalf("title %q is not trimmed", h.title)
			}
			for _, tag := range h.tags {
				if tag == "" || strings.ContainsAny(tag, " \t\n") {
					t.Fatalf("tag %q is empty or holds whitespace", tag)
				}
			}
		}
	})
}

// TestOnlyTheSuitesAreasArePlanned: a catalogue with an area the suite has no feature file for
// (CLIENT, run by other means) plans and reports only the areas the suite has.
func TestOnlyTheSuitesAreasArePlanned(t *testing.T) {
	var all []catalog.Check
	for _, c := range catalog.All() {
		if c.Area != catalog.AreaClient { // the real CLIENT rows: replaced by two of the test's
			all = append(all, c)
		}
	}
	all = append(all,
		catalog.Check{ID: "CLIENT-01", Area: "CLIENT", Derbysoft: catalog.Must, RFC6749: catalog.Must},
		catalog.Check{ID: "CLIENT-02", Area: "CLIENT", Derbysoft: catalog.Should, RFC6749: catalog.Should})
	var areas []catalog.Area
	for _, a := range catalog.Areas() {
		if a.Code != catalog.AreaClient {
			areas = append(areas, a)
		}
	}
	areas = append(areas, catalog.Area{Code: "CLIENT", Title: "certifying a client"})

	checks, kept := suiteChecks(all, areas, features.FS)
	assert.Equal(t, Checks(), checks, "the embedded suite has no client.feature")
	for _, a := range kept {
		assert.NotEqual(t, "CLIENT", a.Code)
	}

	idx, err := indexScenarios(features.FS)
	require.NoError(t, err)
	r := &runner{cfg: Config{TokenURL: "http://127.0.0.1:1/token"}, index: idx, skips: map[string]string{}, checks: checks}
	sel, err := parseTagExpr("")
	require.NoError(t, err)
	planned := r.plan(sel)
	assert.Len(t, planned, len(checks)-len(intrusiveChecks()))
	assert.NotContains(t, planned, "CLIENT-01")

	// With its feature file, the area is the suite's.
	fsys := fstest.MapFS{"client.feature": {Data: []byte("Feature: CLIENT\n")}}
	checks, kept = suiteChecks(all, areas, fsys)
	assert.Equal(t, []string{"CLIENT-01", "CLIENT-02"}, ids(checks))
	assert.Equal(t, []catalog.Area{{Code: "CLIENT", Title: "certifying a client"}}, kept)
}

func ids(cs []catalog.Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
