package steps

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// TestRunLeavesNoGoroutines: a run closes its connections and its transcript writer. The
// servers are stopped before the check, so what remains would be the run's own.
func TestRunLeavesNoGoroutines(t *testing.T) {
	_, err := foreignKey() // made once per process, on purpose
	require.NoError(t, err)
	s, err := mock.New(mock.WithKey(testKey()), mock.WithTLS())
	require.NoError(t, err)
	cfg := mockConfig(t, s, catalog.ProfileDerbySoft)
	ignore := goleak.IgnoreCurrent()

	_, err = Run(context.Background(), cfg)
	require.NoError(t, err)
	s.Close()
	goleak.VerifyNone(t, ignore)
}
