package steps

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// TestCACHE03RunsAsItsOwnClient: CACHE-03 runs as the second client, alongside the other checks,
// when that client can serve it, and as the first client, alone, when it cannot (no token, or
// the API refuses its tokens). It passes on a correct server either way, and as the first
// client no other check's request comes between its first token and its last look.
func TestCACHE03RunsAsItsOwnClient(t *testing.T) {
	first := mock.Client{ID: mock.DefaultClientID, Secret: mock.DefaultClientSecret}
	second := mock.Client{ID: mock.DefaultClient2ID, Secret: mock.DefaultClient2Secret}
	noAPI := second
	noAPI.Scopes = []string{"shop.all"} // the sample API (products) needs product.all
	for _, tc := range []struct {
		name    string
		client2 mock.Client // as the mock knows the second client
		secret2 string      // the second client's secret as the run gives it
		wantSub string      // the client of CACHE-03's tokens
		alone   bool
		cache05 evidence.Status
	}{
		{"as the second client when it may call the API", second, second.Secret, second.ID, false, evidence.StatusPassed},
		{"as the first client, alone, when the API refuses the second's token", noAPI, second.Secret, first.ID, true, evidence.StatusPassed},
		{"as the first client, alone, when the second gets no token", second, "Wrong+Second/Key=7%!xy", first.ID, true, evidence.StatusSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Token answers take a while, so that a check run alongside would overlap CACHE-03.
			_, cfg := startMock(t, catalog.ProfileDerbySoft, false, mock.WithClients(first, tc.client2),
				mock.WithFaults(mock.Faults{Latency: 10 * time.Millisecond}))
			cfg.Client2Secret = tc.secret2
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			rows := map[string]evidence.CheckResult{}
			for _, c := range sum.Checks {
				rows[c.ID] = c
			}
			c3 := rows["CACHE-03"]
			require.Equal(t, evidence.StatusPassed, c3.Status, "CACHE-03: %s", c3.Reason)
			assert.Equal(t, tc.cache05, rows["CACHE-05"].Status, "CACHE-05: %s", rows["CACHE-05"].Reason)
			notes := strings.Join(c3.Notes, "\n")
			assert.Contains(t, notes, "ran as the second client, alongside the other checks")
			assert.Equal(t, tc.alone, strings.Contains(notes, "ran again as the first client, alone"), "notes: %q", c3.Notes)

			all := readTranscripts(t, cfg.OutDir)
			var own []transcriptTimes
			for _, tr := range all {
				if tr.check == "CACHE-03" {
					own = append(own, tr)
				}
			}
			require.NotEmpty(t, own)
			var subs []string
			for _, tr := range own {
				if tr.sub != "" {
					subs = append(subs, tr.sub)
				}
			}
			require.NotEmpty(t, subs, "CACHE-03 got no token")
			assert.Equal(t, tc.wantSub, subs[len(subs)-1], "the client of CACHE-03's last token")
			if !tc.alone {
				assert.NotContains(t, subs, first.ID, "CACHE-03 asked the first client for a token")
				return
			}
			// Alone: from its first token as the first client to its last look, no other
			// check's exchange overlaps CACHE-03's.
			var from time.Time
			for _, tr := range own {
				if tr.sub == first.ID {
					from = tr.start
					break
				}
			}
			require.False(t, from.IsZero(), "CACHE-03 got no token as the first client")
			to := own[len(own)-1].end
			for _, tr := range all {
				if tr.check != "CACHE-03" && tr.start.Before(to) && tr.end.After(from) {
					t.Errorf("%s's exchange (%s .. %s) came while CACHE-03 ran alone (%s .. %s)",
						tr.check, tr.start.Format(time.StampMicro), tr.end.Format(time.StampMicro), from.Format(time.StampMicro), to.Format(time.StampMicro))
				}
			}
		})
	}
}

// transcriptTimes is what TestCACHE03RunsAsItsOwnClient reads of a transcript: its check, when
// it ran, and the sub of the token its answer carried ("" when none).
type transcriptTimes struct {
	check      string
	start, end time.Time
	sub        string
}

// readTranscripts reads a run's transcripts, in the order they started.
func readTranscripts(t *testing.T, dir string) []transcriptTimes {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "transcripts", "*.json"))
	require.NoError(t, err)
	var out []transcriptTimes
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		var tr struct {
			Checks   []string  `json:"checks"`
			Started  time.Time `json:"started"`
			Duration float64   `json:"duration_ms"`
			Response struct {
				Tokens []struct {
					Claims map[string]any `json:"claims"`
				} `json:"tokens"`
			} `json:"response"`
		}
		require.NoError(t, json.Unmarshal(b, &tr), name)
		require.Len(t, tr.Checks, 1, name)
		x := transcriptTimes{check: tr.Checks[0], start: tr.Started,
			end: tr.Started.Add(time.Duration(tr.Duration * float64(time.Millisecond)))}
		if len(tr.Response.Tokens) > 0 {
			x.sub, _ = tr.Response.Tokens[0].Claims["sub"].(string)
		}
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}
