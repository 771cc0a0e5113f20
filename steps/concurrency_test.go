package steps

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// TestConcurrencyBoundsRequestsInFlight runs the whole suite with each bound against a mock
// whose token answers take a little while (so that requests sent at once do overlap) and asserts
// by the mock's high-water mark that never more than the bound were in flight, that a bound
// above 1 was used, and that the verdicts are those of the run one request after another.
func TestConcurrencyBoundsRequestsInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite three times")
	}
	var sequential []string
	for _, tc := range []struct {
		name  string
		bound int
	}{
		{"one request after another", 1},
		{"two at once", 2},
		{"the default against loopback", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cfg := startMock(t, catalog.ProfileDerbySoft, true, mock.WithFaults(mock.Faults{Latency: 20 * time.Millisecond}))
			cfg.Concurrency = tc.bound
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			bound := tc.bound
			if bound == 0 {
				bound = DefaultConcurrency(cfg.TokenURL)
			}
			peak := s.MaxInFlight()
			assert.LessOrEqual(t, peak, int64(bound), "requests in flight at once")
			if bound > 1 {
				// Scenarios run at once each start with a token request that takes 20 ms.
				assert.Greater(t, peak, int64(1), "no two requests were ever in flight at once")
			}
			rows := verdictRows(t, catalog.ProfileDerbySoft, "clean", sum)
			sort.Strings(rows)
			if tc.bound == 1 {
				sequential = rows
				return
			}
			require.NotNil(t, sequential, "the sequential run comes first")
			assert.Equal(t, sequential, rows, "verdicts differ from the run one request after another")
		})
	}
}

func TestDefaultConcurrency(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"https://127.0.0.1:8443/token", 8},
		{"http://[::1]:8080/token", 8},
		{"https://localhost/token", 8},
		{"https://ticket-distributor-public.derbysoft-test.com/ticket-distributor-authorizer/token", 4},
	} {
		assert.Equal(t, tc.want, DefaultConcurrency(tc.url), tc.url)
	}
}

func TestConcurrencyBelowOneIsAConfigError(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.Concurrency = -1
	_, err := Run(context.Background(), cfg)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "concurrency -1")
}

func TestOrderedChecksRunAlone(t *testing.T) {
	independent, ordered := splitOrdered([]string{"AUTH-01", "CACHE-01", "AUTH-17", "BEARER-01", "CACHE-04"})
	assert.Equal(t, []string{"AUTH-01", "BEARER-01"}, independent)
	assert.Equal(t, []string{"CACHE-01", "AUTH-17", "CACHE-04"}, ordered)
}
