package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
	"github.com/authzcheck/authzcheck/reports/reportstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html from the current renderer")

// fixtureReport seals a fixture bundle and returns its dir and report.html.
func fixtureReport(t *testing.T, withLoad bool) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteBundle(dir, withLoad, nil))
	out, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	return dir, out
}

// The golden file is the full bundle (conformance and load); a conformance-only report is the
// same page without the load parts, which TestConformanceOnlyReport checks.
func TestReportMatchesGolden(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		withLoad     bool
	}{
		{"conformance and load", "testdata/bundle.golden.html", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := fixtureReport(t, tc.withLoad)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(tc.golden, got, 0o644))
			}
			want, err := os.ReadFile(tc.golden)
			require.NoError(t, err, "run go test ./reports -run TestReportMatchesGolden -update")
			if !bytes.Equal(want, got) {
				t.Fatalf("report.html differs from %s; if the change is intended, run with -update and review the diff", tc.golden)
			}
		})
	}
}

func TestReRenderIsByteIdenticalAndKeepsTheSeal(t *testing.T) {
	dir, sealed := fixtureReport(t, true)
	for i := 0; i < 3; i++ {
		b, err := reports.ReadBundle(dir)
		require.NoError(t, err)
		again, err := reports.RenderHTML(b)
		require.NoError(t, err)
		require.Equal(t, string(sealed), string(again), "render %d differs from the sealed report", i)
	}
	v, err := reports.Verify(dir, nil)
	require.NoError(t, err)
	assert.Empty(t, v.Problems)
}

// urlAttrs are the attributes through which a page can fetch something.
var urlAttrs = map[string]bool{"src": true, "href": true, "action": true, "formaction": true, "srcset": true,
	"poster": true, "data": true, "xlink:href": true, "background": true, "manifest": true, "ping": true}

var remoteRe = regexp.MustCompile(`(?i)^\s*(https?:|//|ftp:|ws:|wss:)`)

func TestConformanceOnlyReport(t *testing.T) {
	_, page := fixtureReport(t, false)
	html := string(page)
	_, runs, found := strings.Cut(html, "Runs in this bundle</h2>")
	require.True(t, found, "the runs table is there")
	runs, _, found = strings.Cut(runs, "</table>")
	require.True(t, found)
	_, body, found := strings.Cut(runs, "<tbody>")
	require.True(t, found)
	assert.Equal(t, 1, strings.Count(body, "<tr>"), "the runs table has exactly one row: %s", body)
	assert.Contains(t, body, "<tr><td>conformance</td><td class=\"mono\">"+reportstest.ConformanceRun().RunID+"</td>")
	assert.NotContains(t, html, `id="load"`, "no load section")
	assert.NotContains(t, html, "load/", "no load file is listed")
	assert.Contains(t, html, `id="checks"`)
	assert.Contains(t, html, `id="files"`)
}

func TestReportIsSelfContained(t *testing.T) {
	_, page := fixtureReport(t, true)
	z := html.NewTokenizer(bytes.NewReader(page))
	var inStyle, inScript bool
	tags := map[string]int{}
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			tags[tok.Data]++
			inStyle, inScript = tok.Data == "style", tok.Data == "script"
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				if urlAttrs[key] {
					assert.False(t, remoteRe.MatchString(a.Val), "<%s %s=%q> fetches from the network", tok.Data, key, a.Val)
				}
				if key == "style" {
					assert.NotContains(t, strings.ToLower(a.Val), "url(", "inline style with url()")
				}
			}
			if tok.Data == "script" {
				for _, a := range tok.Attr {
					assert.NotEqual(t, "src", a.Key, "external script")
				}
			}
		case html.TextToken:
			text := strings.ToLower(tok.Data)
			if inStyle {
				assert.NotContains(t, text, "url(", "CSS url() in <style>")
				assert.NotContains(t, text, "@import", "CSS @import in <style>")
			}
			if inScript {
				for _, api := range []string{"fetch(", "xmlhttprequest", "websocket", "import(", "sendbeacon"} {
					assert.NotContains(t, text, api, "script uses %s", api)
				}
			}
		case html.EndTagToken:
			inStyle, inScript = false, false
		}
	}
	for _, tag := range []string{"link", "img", "iframe", "object", "embed", "base", "video", "audio", "source"} {
		assert.Zero(t, tags[tag], "<%s> elements can fetch; the report has none", tag)
	}
	assert.Equal(t, 1, tags["style"])
	assert.Positive(t, tags["svg"], "the load charts are inline SVG")
	assert.Contains(t, string(page), "@media print")
}

func TestReportShowsEveryCheckGroupedByArea(t *testing.T) {
	dir, page := fixtureReport(t, false)
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	text := string(page)

	b, err := reports.ReadBundle(dir)
	require.NoError(t, err)
	for _, a := range catalog.Areas() {
		if a.Code == catalog.AreaClient {
			assert.NotContains(t, text, `id="area-`+a.Code+`"`, "a conformance bundle has no client checks, so no empty section")
			continue
		}
		assert.Contains(t, text, `id="area-`+a.Code+`"`, "area %s has a section", a.Code)
	}
	// Each check sits in its area's section, with its level, status and RFC reference.
	sections := map[string]*html.Node{}
	var walk func(n *html.Node)
	checkArea := map[string]string{}
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "id" && strings.HasPrefix(a.Val, "area-") {
					sections[a.Val] = n
				}
				if a.Key == "id" && strings.HasPrefix(a.Val, "check-") {
					for p := n.Parent; p != nil; p = p.Parent {
						for _, pa := range p.Attr {
							if pa.Key == "id" && strings.HasPrefix(pa.Val, "area-") {
								checkArea[strings.TrimPrefix(a.Val, "check-")] = strings.TrimPrefix(pa.Val, "area-")
							}
						}
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, c := range b.Summary.Checks {
		cat, ok := catalog.Lookup(c.ID)
		require.True(t, ok)
		assert.Equal(t, cat.Area, checkArea[c.ID], "%s is shown under its area", c.ID)
	}
	failed := sectionOf(t, page, "check-"+reportstest.FailedCheck)
	assert.Contains(t, failed, `st-failed`)
	assert.Contains(t, failed, `lv-must`)
	cat, _ := catalog.Lookup(reportstest.FailedCheck)
	assert.Contains(t, failed, html.EscapeString(cat.Source))
	assert.Contains(t, failed, "the API answered 200")
	assert.Contains(t, failed, "<details", "transcripts are expandable under the check")
	assert.Contains(t, failed, "transcripts/0")

	// A hostile reason is shown as text, never as markup.
	assert.NotContains(t, text, reportstest.HostileReason)
	assert.Contains(t, text, "&lt;script&gt;alert(")

	// A check with more exchanges than shown inline lists the rest by name.
	many := sectionOf(t, page, "check-"+reportstest.ManyTxCheck)
	assert.Equal(t, 12, strings.Count(many, "<details"))
	assert.Contains(t, many, "And 3 more exchanges")

	// Banner, counts, profile, target, versions, run times.
	assert.Contains(t, text, `class="banner failed"`)
	assert.Contains(t, text, `MUST check failed: <a href="#check-`+reportstest.FailedCheck+`">`)
	assert.Contains(t, text, reportstest.TargetURL)
	assert.Contains(t, text, "derbysoft")
	assert.Contains(t, text, "v0.16.0")
	assert.Contains(t, text, "v12.13.0")
	assert.Contains(t, text, "2026-01-02 03:04:05 UTC")
	assert.NotContains(t, text, `id="load"`, "no load section when load did not run")
}

func TestReportLoadSection(t *testing.T) {
	_, page := fixtureReport(t, true)
	load := sectionOf(t, page, "load")
	assert.Contains(t, load, "Latency over time")
	assert.Contains(t, load, "<polyline class=\"s-p99\"")
	assert.Contains(t, load, "p99.9")
	assert.Contains(t, load, ">600<", "request count")
	assert.Contains(t, load, "tokens.policy")
	assert.Contains(t, load, "reissue")
	assert.Contains(t, load, "cache.hits")
	assert.Contains(t, load, `p99&lt;250ms</td><td class="mono">90.55ms</td><td><span class="pill st-passed">held</span>`, "thresholds get their own table")
	assert.NotContains(t, load, "thresholds[0]", "and are not repeated as raw figures")
	assert.Contains(t, load, "no answer", "status 0 is named")
	assert.Contains(t, load, "load/plot.html")
}

// sectionOf returns the outer HTML of the element with the given id.
func sectionOf(t *testing.T, page []byte, id string) string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	var found *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				found = n
			}
		}
		for c := n.FirstChild; c != nil && found == nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	require.NotNil(t, found, "no element with id %q", id)
	var buf bytes.Buffer
	require.NoError(t, html.Render(&buf, found))
	return buf.String()
}

func TestLoadOnlyBundleReport(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, reportstest.WriteLoad(dir))
	require.NoError(t, reports.Finalize(dir, reportstest.LoadRun(), reportstest.Options(nil)))
	page, err := os.ReadFile(filepath.Join(dir, evidence.ReportFile))
	require.NoError(t, err)
	text := string(page)
	assert.Contains(t, text, `class="banner passed"`)
	assert.Contains(t, text, "Every load threshold held.")
	assert.Contains(t, text, `id="load"`)
	assert.NotContains(t, text, `id="checks"`)
	assert.NotContains(t, text, `id="counts"`)
}

func TestReportListsEveryEvidenceFileWithItsHash(t *testing.T) {
	dir, page := fixtureReport(t, true)
	files := sectionOf(t, page, "files")
	m := readManifest(t, dir)
	listed := 0
	for _, f := range m.Files {
		if f.Path == evidence.ReportFile {
			assert.NotContains(t, files, ">"+f.Path+"<", "the report cannot hold its own hash")
			continue
		}
		assert.Contains(t, files, f.SHA256, f.Path)
		assert.Contains(t, files, ">"+f.Path+"<")
		listed++
	}
	assert.Equal(t, listed, strings.Count(files, `class="mono hash"`))
}
