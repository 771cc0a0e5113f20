package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
)

//go:embed report.html.tmpl
var reportTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{"md": inlineCode}).Parse(reportTemplate))

// codeSpanRe matches a Markdown code span of the catalogue's text ("`grant_type`").
var codeSpanRe = regexp.MustCompile("`([^`]+)`")

// inlineCode escapes s for HTML and turns its Markdown code spans into <code> elements.
func inlineCode(s string) template.HTML {
	return template.HTML(codeSpanRe.ReplaceAllString(template.HTMLEscapeString(s), "<code>$1</code>"))
}

// maxInlineTranscripts bounds how many exchanges are shown under one check (checks such as
// HTTP-07 cover every request of the run); the rest are listed by file name.
const maxInlineTranscripts = 12

// maxBodyShown bounds a body shown in the report; the transcript file keeps it whole.
const maxBodyShown = 4096

type reportView struct {
	Result   string // "passed", "failed" or "" (unknown)
	Profile  string
	Target   string
	APIURL   string
	ClientID string
	RunID    string
	Started  string
	Finished string
	Duration string
	Harness  *buildinfo.Info
	Runs     []runView
	Counts   *evidence.Counts
	Tags     string
	Strict   bool
	Seed     int64
	Waivers  []waiverView
	// Origins are where the exchanges of the transcripts actually went (scheme://host:port),
	// which may differ from Target (the embedded mock's TLS front, a redirect).
	Origins      []string
	Areas        []areaView
	Load         *loadView
	Problems     []string
	HasSummary   bool
	Conformance  string // the conformance run's result
	TotalLoadRun int
	Files        []FileEntry
	FailedMust   []string // IDs of the failed MUST checks, for the banner
	FailedRuns   []string // kinds of the runs that failed, other than by a check (load thresholds)
	// Timeline: a client certification run's sessions (timeline.go).
	Timeline []timelineView
}

type waiverView struct {
	ID, Reason, Expires string
	Expired             bool // listed, and not applied: its expiry had come when the run started
}

type runView struct {
	Kind, RunID, Started, Finished, Duration, Result string
}

type areaView struct {
	Code, Title                     string
	Checks                          []checkView
	Passed, Failed, Skipped, Waived int
}

type checkView struct {
	ID, Title, Level, Status, Reason, Source, Description, Duration string
	Notes                                                           []string
	Transcripts                                                     []transcriptView
	More                                                            []string
}

type headerView struct{ Name, Value string }

type tokenView struct {
	Fingerprint string
	Length      int
	Header      string
	Claims      string
	Times       string // iat, nbf and exp as UTC times, and the lifetime
}

type transcriptView struct {
	Name, Method, URL, Error, ReqBody, RespBody, Duration, Started string
	Seq, Status, StatusClass                                       int
	ReqHeaders, RespHeaders                                        []headerView
	Tokens                                                         []tokenView
	TLS                                                            *evidence.TLSInfo
	Missing, HasResponse, Truncated                                bool
}

type loadView struct {
	Figures        *LoadFigures
	FiguresFrom    string
	LatencyChart   template.HTML
	RequestsChart  template.HTML
	Bucket         string
	StatusRows     []FigureRow
	TokenRows      []FigureRow
	OtherRows      []FigureRow
	HasPlot        bool
	SuccessPercent string
	Thresholds     []thresholdView
}

// thresholdView is one load threshold and what was measured.
type thresholdView struct {
	Expr, Measured string
	Held           bool
}

// RenderHTML renders report.html for a bundle. The output depends only on the bundle: the same
// bundle always renders to the same bytes.
func RenderHTML(b *Bundle) ([]byte, error) {
	v := buildView(b)
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render report.html: %w", err)
	}
	return buf.Bytes(), nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func fmtDuration(a, b time.Time) string {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return ""
	}
	return b.Sub(a).Round(time.Millisecond).String()
}

func buildView(b *Bundle) *reportView {
	v := &reportView{Problems: append([]string(nil), b.Problems...), Files: b.Files}
	if m := b.Manifest; m != nil {
		v.Result, v.Profile, v.Target, v.APIURL, v.ClientID = m.Result, m.Profile, m.TargetURL, m.APIURL, m.ClientID
		v.RunID, v.Tags, v.Strict, v.Seed = m.RunID, m.Tags, m.Strict, m.Seed
		v.Waivers = waiverViews(m)
		v.Started, v.Finished, v.Duration = fmtTime(m.Started), fmtTime(m.Finished), fmtDuration(m.Started, m.Finished)
		h := m.Harness
		v.Harness = &h
		for _, r := range m.Runs {
			v.Runs = append(v.Runs, runView{Kind: r.Kind, RunID: r.RunID, Started: fmtTime(r.Started),
				Finished: fmtTime(r.Finished), Duration: fmtDuration(r.Started, r.Finished), Result: r.Result})
			if r.Kind == evidence.KindLoad {
				v.TotalLoadRun++
				if r.Result == evidence.Failed {
					v.FailedRuns = append(v.FailedRuns, r.Kind)
				}
			}
		}
		v.Counts = m.Counts
	}
	if s := b.Summary; s != nil {
		v.HasSummary = true
		v.Conformance = s.Result
		c := s.Counts
		v.Counts = &c
		if v.Result == "" {
			v.Result = s.Result
		}
		if v.Profile == "" {
			v.Profile = s.Profile
		}
		if v.Target == "" {
			v.Target = s.Target
		}
		if v.Started == "" {
			v.Started, v.Finished, v.Duration = fmtTime(s.Started), fmtTime(s.Finished), fmtDuration(s.Started, s.Finished)
		}
		v.Areas = groupChecks(s, b.Transcripts, v.Profile)
		for _, c := range s.Checks {
			if c.Status == evidence.StatusFailed && c.Level == string(catalog.Must) {
				v.FailedMust = append(v.FailedMust, c.ID)
			}
		}
	}
	if b.Load != nil {
		v.Load = buildLoadView(b.Load)
	}
	v.Origins = origins(b.Transcripts)
	v.Timeline = timelineViews(b.Timeline)
	return v
}

// waiverViews are the manifest's waivers, each marked expired when the manifest says so or, for
// a bundle sealed before it did, when its expiry had come by the start of the conformance run.
func waiverViews(m *Manifest) []waiverView {
	started := m.Started
	for _, r := range m.Runs {
		if r.Kind == evidence.KindConformance && r.RunID == m.RunID {
			started = r.Started
		}
	}
	var out []waiverView
	for _, w := range m.Waivers {
		out = append(out, waiverView{ID: w.ID, Reason: w.Reason, Expires: w.Expires,
			Expired: w.Expired || (!started.IsZero() && w.ExpiredAt(started))})
	}
	return out
}

// origins are the distinct origins the transcripts' requests went to, sorted.
func origins(ts map[string]*evidence.Transcript) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range ts {
		if t == nil {
			continue
		}
		if o := t.Request.Origin(); o != "" && !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	sort.Strings(out)
	return out
}

// groupChecks orders the checks of summary.json by catalogue area; checks the catalogue does not
// know go to an area named after their ID prefix, after the known ones.
func groupChecks(s *evidence.Summary, ts map[string]*evidence.Transcript, profile string) []areaView {
	var out []areaView
	idx := map[string]int{}
	for _, a := range catalog.Areas() {
		idx[a.Code] = len(out)
		out = append(out, areaView{Code: a.Code, Title: a.Title})
	}
	for _, c := range s.Checks {
		cat, known := catalog.Lookup(c.ID)
		area := cat.Area
		if !known {
			area, _, _ = strings.Cut(c.ID, "-")
		}
		i, ok := idx[area]
		if !ok {
			idx[area] = len(out)
			i = len(out)
			out = append(out, areaView{Code: area, Title: "not in this harness's catalogue"})
		}
		cv := checkView{ID: c.ID, Title: c.Title, Level: c.Level, Status: string(c.Status), Reason: c.Reason,
			Notes: c.Notes, Duration: fmt.Sprintf("%d ms", c.DurationMS)}
		if known {
			cv.Source, cv.Description = cat.Source, cat.Description()
			if cv.Level == "" {
				cv.Level = string(cat.Level(profile))
			}
			if cv.Title == "" {
				cv.Title = cv.Description
			}
			if cv.Description == cv.Title {
				cv.Description = ""
			}
		}
		for n, name := range c.Transcripts {
			if n >= maxInlineTranscripts {
				cv.More = append(cv.More, name)
				continue
			}
			cv.Transcripts = append(cv.Transcripts, buildTranscript(name, ts[name]))
		}
		a := &out[i]
		a.Checks = append(a.Checks, cv)
		switch c.Status {
		case evidence.StatusPassed:
			a.Passed++
		case evidence.StatusFailed:
			a.Failed++
		case evidence.StatusSkipped:
			a.Skipped++
		case evidence.StatusWaived:
			a.Waived++
		}
	}
	kept := out[:0]
	for _, a := range out {
		if len(a.Checks) > 0 {
			kept = append(kept, a)
		}
	}
	return kept
}

func buildTranscript(name string, t *evidence.Transcript) transcriptView {
	tv := transcriptView{Name: name}
	if t == nil {
		tv.Missing = true
		return tv
	}
	tv.Seq, tv.Method, tv.URL, tv.Error = t.Seq, t.Request.Method, t.Request.URL, t.Error
	tv.Duration = fmt.Sprintf("%.1f ms", t.DurationMS)
	tv.Started = fmtTime(t.Started)
	tv.ReqHeaders = headers(t.Request.Header)
	tv.ReqBody = shownBody(t.Request.Body)
	if r := t.Response; r != nil {
		tv.HasResponse = true
		tv.Status, tv.Truncated, tv.TLS = r.Status, r.Truncated, r.TLS
		tv.StatusClass = r.Status / 100
		tv.RespHeaders = headers(r.Header)
		tv.RespBody = shownBody(r.Body)
		for _, tok := range r.Tokens {
			tv.Tokens = append(tv.Tokens, tokenView{Fingerprint: tok.Fingerprint, Length: tok.Length,
				Header: indentJSON(tok.Header), Claims: indentJSON(tok.Claims), Times: claimTimes(tok.Claims)})
		}
	}
	return tv
}

func headers(h map[string][]string) []headerView {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []headerView
	for _, n := range names {
		for _, val := range h[n] {
			out = append(out, headerView{Name: n, Value: val})
		}
	}
	return out
}

// shownBody pretty-prints a JSON body and cuts any body at maxBodyShown bytes.
func shownBody(s string) string {
	if s == "" {
		return ""
	}
	var buf bytes.Buffer
	if json.Valid([]byte(s)) && json.Indent(&buf, []byte(s), "", "  ") == nil {
		s = buf.String()
	}
	if len(s) <= maxBodyShown {
		return s
	}
	cut := maxBodyShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n… %d more bytes in the transcript file", len(s)-cut)
}

func indentJSON(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	out, err := json.MarshalIndent(m, "", "  ") // encoding/json sorts map keys
	if err != nil {
		return ""
	}
	return string(out)
}

func buildLoadView(ld *LoadData) *loadView {
	lv := &loadView{Figures: ld.Figures, FiguresFrom: ld.FiguresFrom, HasPlot: ld.HasPlot}
	if ld.Figures != nil {
		lv.LatencyChart = latencyChart(ld.Series, ld.BucketS)
		lv.RequestsChart = requestsChart(ld.Series, ld.BucketS)
		lv.Bucket = fmtTick(ld.BucketS)
		lv.SuccessPercent = fmt.Sprintf("%.2f%%", ld.Figures.Success*100)
		codes := make([]string, 0, len(ld.Figures.Status))
		for c := range ld.Figures.Status {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			label := c
			if c == "0" {
				label = "no answer"
			}
			lv.StatusRows = append(lv.StatusRows, FigureRow{Key: label, Value: fmt.Sprint(ld.Figures.Status[c])})
		}
	}
	if ld.Summary != nil {
		summary := ld.Summary
		if m, ok := summary.(map[string]any); ok {
			if ths, ok := thresholdsOf(m["thresholds"]); ok {
				lv.Thresholds = ths
				rest := make(map[string]any, len(m))
				for k, v := range m {
					if k != "thresholds" {
						rest[k] = v
					}
				}
				summary = rest
			}
		}
		var rows []FigureRow
		flatten("", summary, &rows)
		lv.TokenRows, lv.OtherRows = splitFigures(rows)
	}
	return lv
}

// claimTimes describes a token's iat, nbf and exp claims as UTC times, and its lifetime.
func claimTimes(claims map[string]any) string {
	at := func(name string) (time.Time, bool) {
		switch v := claims[name].(type) {
		case float64:
			return time.Unix(int64(v), 0).UTC(), true
		case json.Number:
			if n, err := v.Int64(); err == nil {
				return time.Unix(n, 0).UTC(), true
			}
		}
		return time.Time{}, false
	}
	var parts []string
	for _, c := range []struct{ name, label string }{{"iat", "issued"}, {"nbf", "valid from"}, {"exp", "expires"}} {
		if t, ok := at(c.name); ok {
			parts = append(parts, c.label+" "+fmtTime(t))
		}
	}
	iat, ok1 := at("iat")
	exp, ok2 := at("exp")
	if ok1 && ok2 {
		parts = append(parts, "lifetime "+exp.Sub(iat).String())
	}
	return strings.Join(parts, " · ")
}

// thresholdsOf reads load/summary.json's "thresholds": objects with "expr", what was "measured"
// (or its "value") and whether it "held" (or was "ok"). ok is false for any other shape.
func thresholdsOf(v any) ([]thresholdView, bool) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	out := make([]thresholdView, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		expr, ok := m["expr"].(string)
		if !ok {
			return nil, false
		}
		held, ok := m["held"].(bool)
		if !ok {
			if held, ok = m["ok"].(bool); !ok {
				return nil, false
			}
		}
		tv := thresholdView{Expr: expr, Held: held}
		if ms, ok := m["measured"].(string); ok {
			tv.Measured = ms
		} else if val, ok := m["value"]; ok {
			tv.Measured = fmt.Sprint(val)
		}
		out = append(out, tv)
	}
	return out, true
}
