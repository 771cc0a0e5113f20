package evidence_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// known accepts the IDs of a small catalogue.
func known(id string) bool { return id == "AUTH-16" || id == "TOK-09" || id == "GRANT-05" }

func TestParseWaiversReadsBothFormats(t *testing.T) {
	want := []evidence.Waiver{
		{ID: "AUTH-16", Reason: "two Authorization headers; fix in release 42", Expires: "2026-03-31"},
		{ID: "TOK-09", Reason: "Pragma is not sent"},
	}
	cases := []struct{ name, in string }{
		{"text", "# ID expires reason\n\nAUTH-16   2026-03-31  two Authorization headers; fix in release 42\nTOK-09 Pragma is not sent\n"},
		{"JSON", `[{"id":"AUTH-16","reason":"two Authorization headers; fix in release 42","expires":"2026-03-31"},{"id":"TOK-09","reason":"Pragma is not sent"}]`},
		{"JSON cannot mark a waiver expired", `[{"id":"AUTH-16","reason":"two Authorization headers; fix in release 42","expires":"2026-03-31","expired":true},{"id":"TOK-09","reason":"Pragma is not sent"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, err := evidence.ParseWaivers([]byte(tc.in), known)
			require.NoError(t, err)
			assert.Equal(t, want, ws)
		})
	}
}

func TestParseWaiversNamesTheLineAndWhatToFix(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a duplicate ID in text", "AUTH-16 first\n# comment\nTOK-09 other\nAUTH-16 2027-01-01 again\n",
			"waivers line 4: AUTH-16 is waived twice (first on line 1)"},
		{"a duplicate ID in JSON", `[{"id":"TOK-09","reason":"a"},{"id":"TOK-09","reason":"b"}]`,
			"waivers: entry 2: TOK-09 is waived twice (first in entry 1)"},
		{"an unknown ID", "AUTH-99 no such check\n", `waivers line 1: "AUTH-99" is not a check ID`},
		{"no reason", "TOK-09 2026-01-01\n", "waivers line 1: TOK-09: a waiver needs a reason"},
		{"a bad date", "TOK-09 2026-13-45 reason\n", `expiry "2026-13-45" is not a date`},
		{"not JSON", `[{"id":}]`, "not a JSON array"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := evidence.ParseWaivers([]byte(tc.in), known)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestWaiversExpireOnTheirDate(t *testing.T) {
	ws := []evidence.Waiver{{ID: "AUTH-16", Reason: "r", Expires: "2026-03-31"}, {ID: "TOK-09", Reason: "r"}}
	cases := []struct {
		name    string
		at      time.Time
		expired []bool
	}{
		{"the day before", time.Date(2026, 3, 30, 23, 59, 0, 0, time.UTC), []bool{false, false}},
		{"on the day (UTC)", time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), []bool{true, false}},
		{"a local time already on the day in UTC", time.Date(2026, 3, 30, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), []bool{true, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			marked := evidence.MarkExpired(ws, tc.at)
			for i, w := range marked {
				assert.Equal(t, tc.expired[i], w.Expired, w.ID)
				assert.Equal(t, tc.expired[i], ws[i].ExpiredAt(tc.at), w.ID)
			}
			assert.False(t, ws[0].Expired, "the input is not changed")
		})
	}
}

func FuzzParseWaivers(f *testing.F) {
	for _, s := range []string{"AUTH-16 2026-03-31 reason\n", `[{"id":"TOK-09","reason":"r"}]`, "#\n\n TOK-09 x", "[", "AUTH-16 0000-00-00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ws, err := evidence.ParseWaivers([]byte(in), known)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, w := range ws {
			if !known(w.ID) || strings.TrimSpace(w.Reason) == "" || seen[w.ID] || w.Expired {
				t.Fatalf("accepted a bad waiver %+v from %q", w, in)
			}
			seen[w.ID] = true
		}
	})
}
