// Package catalog is the conformance check catalogue: every check's stable ID, area, level per
// profile, needs and source, parsed once from the embedded copy of CHECKS.md so that the document
// partners read and the harness's verdicts can never drift apart.
//
// The conformance runner uses it to order summary.json and to assign levels; the reports package
// uses it to group checks by area and show their RFC references.
package catalog

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed CHECKS.md
var checksMD string

// Level is how much a check's failure matters.
type Level string

// The three levels of CHECKS.md.
const (
	Must   Level = "must"
	Should Level = "should"
	Info   Level = "info"
)

// Rank orders levels by severity: must > should > info.
func (l Level) Rank() int {
	switch l {
	case Must:
		return 3
	case Should:
		return 2
	case Info:
		return 1
	}
	return 0
}

// Profiles a run can use.
const (
	ProfileDerbySoft = "derbysoft"
	ProfileRFC6749   = "rfc6749"
)

// Needs a check may have (CHECKS.md, "Needs").
const (
	NeedAPI       = "api"
	NeedClient2   = "client2"
	NeedKeys      = "keys"
	NeedControl   = "control"
	NeedIntrusive = "intrusive"
)

// AreaClient is the area of the client catalogue (authzcheck client): its checks judge a
// partner's client, never a server, so a conformance run leaves them out.
const AreaClient = "CLIENT"

// Area is one section of the catalogue (TOK, AUTH, ...).
type Area struct {
	Code  string // "TOK"
	Title string // "issuing a token"
}

// Check is one row of the catalogue.
type Check struct {
	ID        string // "AUTH-02"
	Area      string // "AUTH"
	Derbysoft Level  // level under the derbysoft profile
	RFC6749   Level  // level under the rfc6749 profile
	Needs     []string
	Send      string // what is sent ("Send" column; empty where the table has only "Check")
	Expect    string // what must hold ("Expect" or "Check" column)
	Source    string // "§5.2", "RFC 6750 §3", "seed", ...
}

// Level returns the check's level under profile (derbysoft when profile is unknown).
func (c Check) Level(profile string) Level {
	if profile == ProfileRFC6749 {
		return c.RFC6749
	}
	return c.Derbysoft
}

// Needs reports whether the check has need n.
func (c Check) Need(n string) bool {
	for _, x := range c.Needs {
		if x == n {
			return true
		}
	}
	return false
}

// Description is a one-line plain description: what is sent and what is expected.
func (c Check) Description() string {
	if c.Send == "" {
		return c.Expect
	}
	return c.Send + " → " + c.Expect
}

var (
	checks  []Check
	areas   []Area
	byID    map[string]int
	areaRe  = regexp.MustCompile("^## ([A-Z]+): (.+?)(?: \\(`([a-z0-9]+)`\\))?$")
	needRe  = regexp.MustCompile("`([a-z0-9]+)`")
	levelRe = regexp.MustCompile(`\b(MUST|SHOULD|INFO)\b`)
	idRe    = regexp.MustCompile(`^[A-Z]+-\d\d$`)
)

func init() {
	var err error
	checks, areas, err = Parse(checksMD)
	if err != nil {
		panic("catalog: embedded CHECKS.md: " + err.Error())
	}
	byID = make(map[string]int, len(checks))
	for i, c := range checks {
		byID[c.ID] = i
	}
}

// All returns every check in catalogue order. The slice must not be modified.
func All() []Check { return checks }

// Areas returns the catalogue's areas in order.
func Areas() []Area { return areas }

// Lookup finds a check by ID.
func Lookup(id string) (Check, bool) {
	i, ok := byID[id]
	if !ok {
		return Check{}, false
	}
	return checks[i], true
}

// Parse reads a CHECKS.md document: "## CODE: title" headings followed by Markdown tables whose
// first columns are ID and Level. It returns an error for a malformed row rather than guessing.
func Parse(md string) ([]Check, []Area, error) {
	var (
		out    []Check
		as     []Area
		area   string
		need   string
		header []string
		seen   = map[string]bool{}
	)
	for n, line := range strings.Split(md, "\n") {
		line = strings.TrimRight(line, "\r ")
		if m := areaRe.FindStringSubmatch(line); m != nil {
			area, need, header = m[1], m[3], nil
			as = append(as, Area{Code: m[1], Title: m[2]})
			continue
		}
		if strings.HasPrefix(line, "## ") {
			area, need, header = "", "", nil
			continue
		}
		if area == "" || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := splitRow(line)
		if header == nil {
			header = cells
			continue
		}
		if len(cells) > 0 && strings.Trim(cells[0], "-: ") == "" {
			continue // the |---| separator
		}
		if len(cells) != len(header) {
			return nil, nil, fmt.Errorf("line %d: %d cells, the table header has %d", n+1, len(cells), len(header))
		}
		c := Check{ID: cells[0], Area: area}
		if !idRe.MatchString(c.ID) || !strings.HasPrefix(c.ID, area+"-") {
			return nil, nil, fmt.Errorf("line %d: %q is not an ID of area %s", n+1, c.ID, area)
		}
		if seen[c.ID] {
			return nil, nil, fmt.Errorf("line %d: duplicate ID %s", n+1, c.ID)
		}
		seen[c.ID] = true
		levels := levelRe.FindAllString(cells[1], -1)
		switch len(levels) {
		case 1:
			c.Derbysoft, c.RFC6749 = Level(strings.ToLower(levels[0])), Level(strings.ToLower(levels[0]))
		case 2:
			c.Derbysoft, c.RFC6749 = Level(strings.ToLower(levels[0])), Level(strings.ToLower(levels[1]))
		default:
			return nil, nil, fmt.Errorf("line %d: %s: level %q is not MUST, SHOULD or INFO", n+1, c.ID, cells[1])
		}
		if need != "" {
			c.Needs = append(c.Needs, need)
		}
		for _, m := range needRe.FindAllStringSubmatch(cells[1], -1) {
			c.Needs = append(c.Needs, m[1])
		}
		for i, h := range header {
			switch strings.ToLower(h) {
			case "send":
				c.Send = cells[i]
			case "expect", "check":
				c.Expect = cells[i]
			case "source":
				c.Source = cells[i]
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("no checks found")
	}
	return out, as, nil
}

// splitRow splits a Markdown table row into trimmed cells. A pipe inside backticks belongs to the
// cell ("derbysoft\|rfc6749" style escapes are honoured too).
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var (
		cells []string
		cur   strings.Builder
		code  bool
	)
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case ch == '`':
			code = !code
			cur.WriteByte(ch)
		case ch == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}
