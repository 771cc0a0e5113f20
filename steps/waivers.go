package steps

import (
	"time"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
)

// ParseWaivers reads a waivers file (evidence.ParseWaivers), accepting the check IDs of the
// catalogue: one waiver a line ('ID [YYYY-MM-DD] reason', '#' comments) or a JSON array of
// {"id", "reason", "expires"}. An unknown ID, a missing reason, a bad date or an ID waived twice
// is an error naming the line and what to fix.
func ParseWaivers(b []byte) ([]evidence.Waiver, error) {
	return evidence.ParseWaivers(b, func(id string) bool {
		_, ok := catalog.Lookup(id)
		return ok
	})
}

// activeWaiver returns the waiver for id that still applies at now (UTC date), if any.
func activeWaiver(ws []evidence.Waiver, id string, now time.Time) (evidence.Waiver, bool) {
	for _, w := range ws {
		if w.ID != id {
			continue
		}
		if w.ExpiredAt(now) {
			continue
		}
		return w, true
	}
	return evidence.Waiver{}, false
}
