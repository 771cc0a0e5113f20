package steps

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
)

func TestCleanMockPassesEveryCheck(t *testing.T) {
	for _, profile := range []string{catalog.ProfileDerbySoft, catalog.ProfileRFC6749} {
		t.Run(profile, func(t *testing.T) {
			sum := runAgainstMock(t, profile, true)
			for _, c := range sum.Checks {
				if contains(intrusiveChecks(), c.ID) {
					assert.Equal(t, evidence.StatusSkipped, c.Status, "%s is intrusive", c.ID)
					continue
				}
				assert.Equal(t, evidence.StatusPassed, c.Status, "%s: %s %v", c.ID, c.Reason, c.Notes)
			}
			assert.Equal(t, "passed", sum.Result)
		})
	}
}
