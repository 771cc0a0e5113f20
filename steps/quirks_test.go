package steps

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// updateVerdicts rewrites testdata/verdicts.txt from the runs of TestEachQuirkFailsExactlyWhatItBreaks
// (go test ./steps -run TestEachQuirk -update-verdicts): only when a verdict is meant to change.
var updateVerdicts = flag.Bool("update-verdicts", false, "rewrite testdata/verdicts.txt")

// verdictsFile records every check's verdict (status and level) on the clean mock and on each
// quirk, under both profiles, but "passed" (the check's catalogue level): a refactoring of the
// steps must leave it unchanged.
var verdictsFile = filepath.Join("testdata", "verdicts.txt")

// verdictRows are a summary's verdicts other than "passed" at the check's catalogue level as
// lines "profile quirk ID status level" (a check passes at INFO when it judged only information,
// as JWT-02 on an opaque token under rfc6749).
func verdictRows(t *testing.T, profile, quirk string, sum *evidence.Summary) []string {
	var rows []string
	for _, c := range sum.Checks {
		if c.Status == evidence.StatusPassed {
			check, _ := catalog.Lookup(c.ID)
			if string(check.Level(profile)) == c.Level {
				continue
			}
			assert.Equal(t, string(catalog.Info), c.Level, "%s passed at a level neither its own nor INFO", c.ID)
		}
		rows = append(rows, strings.Join([]string{profile, quirk, c.ID, string(c.Status), c.Level}, " "))
	}
	return rows
}

// recordedVerdicts is verdicts.txt keyed by "profile quirk".
var recordedVerdicts = sync.OnceValues(func() (map[string][]string, error) {
	f, err := os.Open(verdictsFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 5 {
			return nil, fmt.Errorf("%s: %q is not \"profile quirk ID status level\"", verdictsFile, line)
		}
		key := fs[0] + " " + fs[1]
		out[key] = append(out[key], line)
	}
	return out, sc.Err()
})

// expectedBreaks is what a quirk must fail under a profile, per CHECKS.md.
func expectedBreaks(q mock.QuirkInfo, profile string) []string {
	want := append([]string(nil), q.BreaksFor(profile)...)
	sort.Strings(want)
	return want
}

// TestEachQuirkFailsExactlyWhatItBreaks runs the suite against the mock with each quirk on (and
// with none: "clean") and asserts that the failing checks are exactly the quirk's Breaks list,
// under both profiles, and that every check's verdict is the one recorded in verdicts.txt.
func TestEachQuirkFailsExactlyWhatItBreaks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite once per quirk")
	}
	var (
		mu  sync.Mutex
		all []string
	)
	if *updateVerdicts {
		t.Cleanup(func() {
			sort.Strings(all)
			text := "# profile quirk check status level: every verdict on the mock, clean and with each quirk, that is\n" +
				"# not \"passed\" (a check not listed passed, at its catalogue level). Written by\n" +
				"# go test ./steps -run TestEachQuirk -update-verdicts; compared by every run of it.\n" +
				strings.Join(all, "\n") + "\n"
			require.NoError(t, os.WriteFile(verdictsFile, []byte(text), 0o644))
		})
	}
	quirks := append([]mock.QuirkInfo{{Name: "clean", Description: "no quirk"}}, mock.Quirks()...)
	for _, q := range quirks {
		for _, profile := range []string{catalog.ProfileDerbySoft, catalog.ProfileRFC6749} {
			t.Run(profile+"/"+q.Name, func(t *testing.T) {
				t.Parallel()
				var opts []mock.Option
				if q.Name != "clean" {
					opts = append(opts, mock.WithQuirks(q.Name))
				}
				sum := runAgainstMock(t, profile, false, opts...)
				// The same verdicts one request after another (--concurrency 1) as at once.
				_, seqCfg := startMock(t, profile, false, opts...)
				seqCfg.Concurrency = 1
				seq, err := Run(context.Background(), seqCfg)
				require.NoError(t, err)
				assert.Equal(t, verdictRows(t, profile, q.Name, seq), verdictRows(t, profile, q.Name, sum), "verdicts at once differ from one after another")
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
				rows := verdictRows(t, profile, q.Name, sum)
				if *updateVerdicts {
					mu.Lock()
					all = append(all, rows...)
					mu.Unlock()
					return
				}
				recorded, err := recordedVerdicts()
				require.NoError(t, err)
				sort.Strings(rows)
				assert.Equal(t, recorded[profile+" "+q.Name], rows, "verdicts differ from %s", verdictsFile)
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
	for _, c := range Checks() {
		if c.Level(catalog.ProfileDerbySoft) != catalog.Must && c.Level(catalog.ProfileRFC6749) != catalog.Must {
			continue
		}
		assert.True(t, broken[c.ID], "no quirk or fault makes MUST check %s fail", c.ID)
	}
	require.NotEmpty(t, broken)
}
