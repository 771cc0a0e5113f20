package steps

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// expectedBreaks is what a quirk must fail under a profile, per CHECKS.md.
func expectedBreaks(q mock.QuirkInfo, profile string) []string {
	want := append([]string(nil), q.BreaksFor(profile)...)
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
