package steps

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
)

// writeOutputs writes summary.json, junit.xml and cucumber.json into dir, each atomically.
func writeOutputs(dir string, sum *evidence.Summary, cucumber [][]byte) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(dir, "summary.json", append(b, '\n')); err != nil {
		return err
	}
	j, err := junitXML(sum)
	if err != nil {
		return err
	}
	if err := writeFile(dir, "junit.xml", j); err != nil {
		return err
	}
	c, err := mergeCucumber(cucumber)
	if err != nil {
		return fmt.Errorf("cucumber.json: %w", err)
	}
	return writeFile(dir, "cucumber.json", c)
}

func writeFile(dir, name string, b []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// JUnit XML: one test suite per catalogue area, one test case per check ID. A failed check is
// a <failure> at its level with the reason; skipped and waived checks are <skipped> with theirs.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
}

func secs(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }

func junitXML(sum *evidence.Summary) ([]byte, error) {
	out := junitSuites{Name: "authzcheck conformance (" + sum.Profile + ")",
		Time: fmt.Sprintf("%.3f", sum.Finished.Sub(sum.Started).Seconds())}
	// One suite per area of the summary's checks (not every area of the catalogue: CLIENT is
	// not the conformance runner's), in catalogue order.
	inSummary := map[string]bool{}
	for _, r := range sum.Checks {
		c, _ := catalog.Lookup(r.ID)
		inSummary[c.Area] = true
	}
	byArea := map[string]int{}
	var codes []string
	for _, a := range catalog.Areas() {
		if !inSummary[a.Code] {
			continue
		}
		byArea[a.Code] = len(out.Suites)
		codes = append(codes, a.Code)
		out.Suites = append(out.Suites, junitSuite{Name: a.Code + ": " + a.Title})
	}
	var total = map[string]int64{}
	for _, r := range sum.Checks {
		c, _ := catalog.Lookup(r.ID)
		i := byArea[c.Area]
		s := &out.Suites[i]
		tc := junitCase{Name: r.ID + " " + r.Title, Classname: "authzcheck." + c.Area, Time: secs(r.DurationMS)}
		switch r.Status {
		case evidence.StatusFailed:
			tc.Failure = &junitMessage{Message: r.Reason, Type: r.Level}
			s.Failures++
			out.Failures++
		case evidence.StatusSkipped:
			tc.Skipped = &junitMessage{Message: r.Reason}
			s.Skipped++
			out.Skipped++
		case evidence.StatusWaived:
			tc.Skipped = &junitMessage{Message: "waived: " + r.Reason}
			s.Skipped++
			out.Skipped++
		}
		for _, n := range r.Notes {
			tc.SystemOut += n + "\n"
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
		out.Tests++
		total[c.Area] += r.DurationMS
	}
	for i := range out.Suites {
		out.Suites[i].Time = secs(total[codes[i]])
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// mergeCucumber joins the cucumber JSON of the run's passes: features with the same URI are
// merged, their scenarios kept in run order.
func mergeCucumber(parts [][]byte) ([]byte, error) {
	var (
		order []string
		feats = map[string]map[string]json.RawMessage{}
		elems = map[string][]json.RawMessage{}
	)
	for _, p := range parts {
		var fs []map[string]json.RawMessage
		if err := json.Unmarshal(p, &fs); err != nil {
			return nil, err
		}
		for _, f := range fs {
			var uri string
			_ = json.Unmarshal(f["uri"], &uri)
			var es []json.RawMessage
			_ = json.Unmarshal(f["elements"], &es)
			if _, ok := feats[uri]; !ok {
				order = append(order, uri)
				feats[uri] = f
			}
			elems[uri] = append(elems[uri], es...)
		}
	}
	// The catalogue's order, whatever order the passes ran the features in.
	rank := map[string]int{}
	for i, p := range featurePaths() {
		rank[p] = i
	}
	slices.SortStableFunc(order, func(a, b string) int { return rank[path.Base(a)] - rank[path.Base(b)] })
	out := make([]map[string]json.RawMessage, 0, len(order))
	for _, uri := range order {
		f := feats[uri]
		b, err := json.Marshal(elems[uri])
		if err != nil {
			return nil, err
		}
		f["elements"] = b
		out = append(out, f)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
