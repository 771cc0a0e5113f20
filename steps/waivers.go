package steps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/reports"
)

// ParseWaivers reads a waivers file. Two formats are accepted:
//
// Text, one waiver a line, '#' starts a comment:
//
//	# ID       expires     reason
//	AUTH-16    2026-03-31  UAT answers 401 to two Authorization headers; fix planned in release 42
//	TOK-09                 Pragma is not sent; accepted by the partner (no expiry)
//
// The expiry date (YYYY-MM-DD) is optional; from that day on the waiver no longer applies.
// JSON: an array of {"id", "reason", "expires"} objects (reports.Waiver).
//
// Every ID must be in the catalogue and every waiver must have a reason; an error names the
// line and what to fix.
func ParseWaivers(b []byte) ([]reports.Waiver, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var ws []reports.Waiver
		if err := json.Unmarshal(t, &ws); err != nil {
			return nil, fmt.Errorf("waivers: not a JSON array of {\"id\",\"reason\",\"expires\"}: %v", err)
		}
		for i, w := range ws {
			if err := checkWaiver(w); err != nil {
				return nil, fmt.Errorf("waivers: entry %d: %v", i+1, err)
			}
		}
		return ws, nil
	}
	var ws []reports.Waiver
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		w := reports.Waiver{ID: f[0]}
		rest := f[1:]
		if len(rest) > 0 && looksLikeDate(rest[0]) {
			w.Expires, rest = rest[0], rest[1:]
		}
		w.Reason = strings.Join(rest, " ")
		if err := checkWaiver(w); err != nil {
			return nil, fmt.Errorf("waivers line %d: %v", n, err)
		}
		ws = append(ws, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("waivers: %v", err)
	}
	return ws, nil
}

func looksLikeDate(s string) bool {
	return len(s) == 10 && s[4] == '-' && s[7] == '-' && strings.Trim(s[:4]+s[5:7]+s[8:], "0123456789") == ""
}

func checkWaiver(w reports.Waiver) error {
	if _, ok := catalog.Lookup(w.ID); !ok {
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

// activeWaiver returns the waiver for id that still applies at now (UTC date), if any.
func activeWaiver(ws []reports.Waiver, id string, now time.Time) (reports.Waiver, bool) {
	today := now.UTC().Format(time.DateOnly)
	for _, w := range ws {
		if w.ID != id {
			continue
		}
		if w.Expires != "" && today >= w.Expires {
			continue
		}
		return w, true
	}
	return reports.Waiver{}, false
}
