package steps

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// featurePaths lists the feature files in catalogue order.
func featurePaths() []string {
	var ps []string
	_, areas := suiteCatalogue()
	for _, a := range areas {
		ps = append(ps, featureFile(a.Code))
	}
	return ps
}

// scenarioInfo is what the feature files say about one check ID.
type scenarioInfo struct {
	title   string
	feature string
	tags    []string // scenario-level tags without "@" (the ID, level, needs, whole-run)
}

// indexScenarios reads the feature files' scenario titles and tags, keyed by check ID. Each
// check ID must tag exactly one scenario (or outline).
func indexScenarios(fsys fs.FS) (map[string]scenarioInfo, error) {
	idx := map[string]scenarioInfo{}
	names, err := fs.Glob(fsys, "*.feature")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		for _, sc := range parseScenarioHeads(string(b)) {
			var id string
			for _, t := range sc.tags {
				if _, ok := catalog.Lookup(t); ok {
					if id != "" {
						return nil, fmt.Errorf("%s: scenario %q carries two check IDs (%s, %s)", name, sc.title, id, t)
					}
					id = t
				}
			}
			if id == "" {
				return nil, fmt.Errorf("%s: scenario %q has no check ID tag", name, sc.title)
			}
			if prev, dup := idx[id]; dup {
				return nil, fmt.Errorf("%s: %s tags two scenarios (%q in %s, and %q)", name, id, prev.title, prev.feature, sc.title)
			}
			idx[id] = scenarioInfo{title: sc.title, feature: name, tags: sc.tags}
		}
	}
	return idx, nil
}

// scenarioHead is a scenario's title and the tags on the lines right above it.
type scenarioHead struct {
	title string
	tags  []string
	line  int // the "Scenario:" line's index in the file (from 0)
}

// parseScenarioHeads finds the scenarios of a feature file: "Scenario:" and "Scenario Outline:"
// lines with the tag lines right above them. Tags above "Examples:" belong to the examples and
// are not included. It reads only what the index needs; godog parses the files in full.
func parseScenarioHeads(src string) []scenarioHead {
	var (
		out  []scenarioHead
		tags []string
	)
	for n, line := range strings.Split(src, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "@"):
			for _, f := range strings.Fields(l) {
				if strings.HasPrefix(f, "#") {
					break
				}
				if t := strings.TrimPrefix(f, "@"); t != f && t != "" {
					tags = append(tags, t)
				}
			}
		case strings.HasPrefix(l, "Scenario:"), strings.HasPrefix(l, "Scenario Outline:"),
			strings.HasPrefix(l, "Scenario Template:"), strings.HasPrefix(l, "Example:"):
			_, title, _ := strings.Cut(l, ":")
			out = append(out, scenarioHead{title: strings.TrimSpace(title), tags: tags, line: n})
			tags = nil
		case l == "" || strings.HasPrefix(l, "#"):
		default:
			tags = nil
		}
	}
	return out
}
