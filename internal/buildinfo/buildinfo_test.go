package buildinfo

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUserAgentNamesTheHarnessAndItsVersion(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v1.2.3"
	assert.Equal(t, "authzcheck/v1.2.3", UserAgent())
}
