package steps

import (
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// breaksCorrections are the quirks whose Breaks list (mock/quirks.go) disagrees with CHECKS.md,
// with the list CHECKS.md implies and why. A correction applies only while the mock still says
// `from`, so the test notices when the mock is fixed (or changes otherwise).
var breaksCorrections = map[string]struct {
	from, to []string
	why      string
}{
	"rfc6749/padded-jwt": {from: []string{"JWT-01"}, to: nil,
		why: "JWT-01 is INFO under rfc6749 (CHECKS.md: JWT-01..02 are INFO), and INFO never fails"},
	"derbysoft/api-reject-all": {from: []string{"BEARER-01", "BEARER-05", "CACHE-03"}, to: []string{"BEARER-01", "BEARER-05", "BEARER-13", "CACHE-03"},
		why: "BEARER-13 expects 403 insufficient_scope; an API that answers 401 to every token fails it"},
	"rfc6749/api-reject-all": {from: []string{"BEARER-01", "BEARER-05", "CACHE-03"}, to: []string{"BEARER-01", "BEARER-05", "BEARER-13", "CACHE-03"},
		why: "as under derbysoft"},
}

// expectedBreaks is what a quirk must fail under a profile, per CHECKS.md.
func expectedBreaks(q mock.QuirkInfo, profile string) []string {
	want := append([]string(nil), q.BreaksFor(profile)...)
	if c, ok := breaksCorrections[profile+"/"+q.Name]; ok && slices.Equal(want, c.from) {
		want = append([]string(nil), c.to...)
	}
	sort.Strings(want)
	return want
}

// TestEachQuirkFailsExactlyWhatItBreaks runs the suite against the mock with each quirk on and
// asserts that the failing checks are exactly the quirk's Breaks list, under both profiles.
func TestEachQuirkFailsExactlyWhatItBreaks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite once per quirk")
	}
	for _, q := range mock.Quirks() {
		for _, profile := range []string{catalog.ProfileDerbySoft, catalog.ProfileRFC6749} {
			t.Run(profile+"/"+q.Name, func(t *testing.T) {
				t.Parallel()
				sum := runAgainstMock(t, profile, false, mock.WithQuirks(q.Name))
				want := expectedBreaks(q, profile)
				got := failing(sum)
				sort.Strings(got)
				if !assert.Equal(t, want, got, "quirk %s (%s)", q.Name, q.Description) {
					for _, c := range sum.Checks {
						if c.Status == "failed" || contains(want, c.ID) {
							t.Logf("%s %s %s: %s", c.ID, c.Status, c.Level, c.Reason)
						}
					}
				}
			})
		}
	}
}

// TestEveryMustCheckCanFail asserts that each MUST check of the catalogue is made to fail by at
// least one quirk (Breaks lists, as corrected above) or by a fault or need the tests inject.
func TestEveryMustCheckCanFail(t *testing.T) {
	broken := map[string]bool{}
	for _, q := range mock.Quirks() {
		for _, p := range []string{catalog.ProfileDerbySoft, catalog.ProfileRFC6749} {
			for _, id := range expectedBreaks(q, p) {
				broken[id] = true
			}
		}
	}
	// Failed by the hostile-target tests instead of a quirk (see hostile_test.go).
	for _, id := range failedByHostileTests {
		broken[id] = true
	}
	for _, c := range catalog.All() {
		if c.Level(catalog.ProfileDerbySoft) != catalog.Must && c.Level(catalog.ProfileRFC6749) != catalog.Must {
			continue
		}
		assert.True(t, broken[c.ID], "no quirk or fault makes MUST check %s fail", c.ID)
	}
	require.NotEmpty(t, broken)
}
