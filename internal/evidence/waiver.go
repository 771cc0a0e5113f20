package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Waiver excuses a check's failure, with a reason and an optional expiry date.
type Waiver struct {
	ID      string `json:"id"`
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"` // YYYY-MM-DD; from that day on the waiver no longer applies
	// Expired is set in the evidence (manifest.json, report.html) for a waiver whose expiry
	// had come when the run started: it was listed, and not applied. A waivers file cannot set it.
	Expired bool `json:"expired,omitempty"`
}

// ExpiredAt reports whether the waiver no longer applies at t: its expiry date (UTC) is t's
// date or earlier.
func (w Waiver) ExpiredAt(t time.Time) bool {
	return w.Expires != "" && t.UTC().Format(time.DateOnly) >= w.Expires
}

// MarkExpired returns a copy of ws with Expired set on every waiver expired at t, so that the
// evidence lists an expired waiver as expired instead of dropping it.
func MarkExpired(ws []Waiver, t time.Time) []Waiver {
	if ws == nil {
		return nil
	}
	out := make([]Waiver, len(ws))
	for i, w := range ws {
		w.Expired = w.ExpiredAt(t)
		out[i] = w
	}
	return out
}

// ParseWaivers reads a waivers file. Two formats are accepted:
//
// Text, one waiver a line, '#' starts a comment:
//
//	# ID       expires     reason
//	AUTH-16    2026-03-31  UAT answers 401 to two Authorization headers; fix planned in release 42
//	TOK-09                 Pragma is not sent; accepted by the partner (no expiry)
//
// The expiry date (YYYY-MM-DD) is optional; from that day on the waiver no longer applies.
// JSON: an array of {"id", "reason", "expires"} objects.
//
// known says whether an ID is a check of the catalogue (nil accepts any). Every ID must be
// known, appear once, and have a reason; an error names the line (or entry) and what to fix.
func ParseWaivers(b []byte, known func(id string) bool) ([]Waiver, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return parseJSONWaivers(t, known)
	}
	var ws []Waiver
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		w := Waiver{ID: f[0]}
		rest := f[1:]
		if len(rest) > 0 && looksLikeDate(rest[0]) {
			w.Expires, rest = rest[0], rest[1:]
		}
		w.Reason = strings.Join(rest, " ")
		if err := checkWaiver(w, known); err != nil {
			return nil, fmt.Errorf("waivers line %d: %v", n, err)
		}
		if first, dup := seen[w.ID]; dup {
			return nil, fmt.Errorf("waivers line %d: %s is waived twice (first on line %d); keep one waiver per check", n, w.ID, first)
		}
		seen[w.ID] = n
		ws = append(ws, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("waivers: %v", err)
	}
	return ws, nil
}

func parseJSONWaivers(b []byte, known func(string) bool) ([]Waiver, error) {
	var ws []Waiver
	if err := json.Unmarshal(b, &ws); err != nil {
		return nil, fmt.Errorf("waivers: not a JSON array of {\"id\",\"reason\",\"expires\"}: %v", err)
	}
	seen := map[string]int{}
	for i := range ws {
		ws[i].Expired = false // the run decides that, not the file
		w := ws[i]
		if err := checkWaiver(w, known); err != nil {
			return nil, fmt.Errorf("waivers: entry %d: %v", i+1, err)
		}
		if first, dup := seen[w.ID]; dup {
			return nil, fmt.Errorf("waivers: entry %d: %s is waived twice (first in entry %d); keep one waiver per check", i+1, w.ID, first)
		}
		seen[w.ID] = i + 1
	}
	return ws, nil
}

func looksLikeDate(s string) bool {
	return len(s) == 10 && s[4] == '-' && s[7] == '-' && strings.Trim(s[:4]+s[5:7]+s[8:], "0123456789") == ""
}

func checkWaiver(w Waiver, known func(string) bool) error {
	if known != nil && !known(w.ID) {
		return fmt.Errorf("%q is not a check ID of the catalogue (CHECKS.md); write e.g. AUTH-16", w.ID)
	}
	if strings.TrimSpace(w.Reason) == "" {
		return fmt.Errorf("%s: a waiver needs a reason after the ID (and optional YYYY-MM-DD expiry)", w.ID)
	}
	if w.Expires != "" {
		if _, err := time.Parse(time.DateOnly, w.Expires); err != nil {
			return fmt.Errorf("%s: expiry %q is not a date YYYY-MM-DD", w.ID, w.Expires)
		}
	}
	return nil
}
