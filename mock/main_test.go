package mock_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (servers not drained, clients
// with idle connections, timers).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
