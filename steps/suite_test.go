package steps

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/features"
	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/mock"
)

func TestStrictAndWaivers(t *testing.T) {
	// no-pragma breaks TOK-09, a SHOULD check.
	run := func(t *testing.T, strict bool, ws []evidence.Waiver) *evidence.Summary {
		_, cfg := startMock(t, catalog.ProfileDerbySoft, false, mock.WithQuirks("no-pragma"))
		cfg.Strict, cfg.Waivers = strict, ws
		sum, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		return sum
	}
	t.Run("a SHOULD failure is a warning", func(t *testing.T) {
		sum := run(t, false, nil)
		assert.Equal(t, "passed", sum.Result)
		c := statusOf(sum, "TOK-09")
		assert.Equal(t, evidence.StatusFailed, c.Status)
		assert.Equal(t, "should", c.Level)
		assert.Contains(t, c.Reason, "expected Pragma")
	})
	t.Run("--strict fails the run", func(t *testing.T) {
		assert.Equal(t, "failed", run(t, true, nil).Result)
	})
	t.Run("a waiver excuses it, even under --strict", func(t *testing.T) {
		sum := run(t, true, []evidence.Waiver{{ID: "TOK-09", Reason: "Pragma is obsolete; agreed with DerbySoft"}})
		assert.Equal(t, "passed", sum.Result)
		c := statusOf(sum, "TOK-09")
		assert.Equal(t, evidence.StatusWaived, c.Status)
		assert.Equal(t, "Pragma is obsolete; agreed with DerbySoft", c.Reason)
		assert.Equal(t, 1, sum.Counts.Waived)
	})
}

// intrusiveChecks are the IDs of the catalogue's intrusive checks.
func intrusiveChecks() []string {
	var ids []string
	for _, c := range Checks() {
		if c.Need(catalog.NeedIntrusive) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func TestTagsSelectChecks(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.Tags = "@TOK-01,@BEARER-11,@intrusive"
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	selected := append([]string{"TOK-01", "BEARER-11"}, intrusiveChecks()...)
	require.Greater(t, len(selected), 2, "the catalogue has intrusive checks")
	for _, c := range sum.Checks {
		if contains(selected, c.ID) {
			assert.Equal(t, evidence.StatusPassed, c.Status, "%s: %s", c.ID, c.Reason)
			continue
		}
		assert.Equal(t, evidence.StatusSkipped, c.Status, c.ID)
		assert.Contains(t, c.Reason, "not selected by --tags", c.ID)
	}
	for _, id := range intrusiveChecks() {
		assert.NotEmpty(t, statusOf(sum, id).Notes, "the intrusive check %s reports what it saw", id)
	}
}

func TestUnmetNeedsAreSkippedWithTheReason(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.APIURL, cfg.OtherScopeURL, cfg.Client2ID, cfg.Client2Secret = "", "", "", ""
	cfg.JWKSURL, cfg.PublicKey, cfg.Control = "", nil, nil
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	want := map[string]string{"BEARER-01": "API URL", "CACHE-03": "API URL", "CACHE-05": "second client",
		"JWT-09": "public key", "BEARER-11": "API URL"}
	for id, reason := range want {
		c := statusOf(sum, id)
		assert.Equal(t, evidence.StatusSkipped, c.Status, id)
		assert.Contains(t, c.Reason, reason, id)
	}
	assert.Equal(t, "passed", sum.Result)
}

func TestIntrusiveChecksNeverRunRemotelyUnlessSelected(t *testing.T) {
	plan := func(tokenURL, tags string) map[string]string {
		idx, err := indexScenarios(features.FS)
		require.NoError(t, err)
		r := &runner{cfg: Config{TokenURL: tokenURL}, index: idx, skips: map[string]string{}}
		sel, err := parseTagExpr(tags)
		require.NoError(t, err)
		r.plan(sel)
		return r.skips
	}
	ids := intrusiveChecks()
	require.NotEmpty(t, ids)
	for _, id := range ids {
		assert.Contains(t, plan("https://uat.example.invalid/token", "")[id], "never runs against a remote target")
		assert.Contains(t, plan("https://uat.example.invalid/token", "@must")[id], "not selected")
		assert.NotContains(t, plan("https://uat.example.invalid/token", "@intrusive"), id)
		assert.NotContains(t, plan("https://uat.example.invalid/token", "@"+id), id)
		assert.Contains(t, plan("http://127.0.0.1:1/token", "")[id], "runs only when selected")
	}
}

// signedJWT matches a compact JWS with a non-empty signature: replayable, never to be written.
var signedJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{16,}`)

func TestEvidenceIsCompleteAndRedacted(t *testing.T) {
	s, cfg := startMock(t, catalog.ProfileDerbySoft, true)
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	issued, err := s.Control().IssuedTokens(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, issued)

	// summary.json: every ID in catalogue order; every listed transcript exists.
	b, err := os.ReadFile(filepath.Join(cfg.OutDir, "summary.json"))
	require.NoError(t, err)
	var onDisk evidence.Summary
	require.NoError(t, json.Unmarshal(b, &onDisk))
	require.Len(t, onDisk.Checks, len(Checks()))
	for i, c := range Checks() {
		assert.Equal(t, c.ID, onDisk.Checks[i].ID)
		for _, f := range onDisk.Checks[i].Transcripts {
			assert.FileExists(t, filepath.Join(cfg.OutDir, "transcripts", f))
		}
	}
	assert.Equal(t, sum.Counts, onDisk.Counts)

	// junit.xml: one test case per check ID.
	b, err = os.ReadFile(filepath.Join(cfg.OutDir, "junit.xml"))
	require.NoError(t, err)
	var ju junitSuites
	require.NoError(t, xml.Unmarshal(b, &ju))
	assert.Equal(t, len(Checks()), ju.Tests)

	// cucumber.json: one feature per area.
	b, err = os.ReadFile(filepath.Join(cfg.OutDir, "cucumber.json"))
	require.NoError(t, err)
	var cu []map[string]any
	require.NoError(t, json.Unmarshal(b, &cu))
	_, areas := suiteCatalogue()
	assert.Len(t, cu, len(areas))

	// Nothing written holds a secret, a token or a replayable JWT.
	var files int
	err = filepath.WalkDir(cfg.OutDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		text := string(b)
		for _, f := range append(redact.Forms(cfg.ClientID, cfg.ClientSecret), redact.Forms(cfg.Client2ID, cfg.Client2Secret)...) {
			assert.NotContains(t, text, f, "%s holds a client secret", p)
		}
		for _, tok := range issued {
			assert.NotContains(t, text, tok, "%s holds an issued token", p)
		}
		assert.False(t, signedJWT.MatchString(text), "%s holds a signed JWT: %s", p, signedJWT.FindString(text))
		for _, m := range regexp.MustCompile(`"Authorization": \[\s*"([^"]*)"`).FindAllStringSubmatch(text, -1) {
			assert.Contains(t, []string{"Basic ***", "Bearer ***", "basic ***", "BASIC ***", "bearer ***", "BEARER ***", "***"}, m[1], p)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, files, 100, "one transcript per exchange")
	assert.True(t, strings.HasPrefix(sum.Target, "https://127.0.0.1:"))
}

// TestHarnessProblemsAreRedacted: harness problems end up in Run's error, printed on the
// console; a secret or token they quote is redacted first.
func TestHarnessProblemsAreRedacted(t *testing.T) {
	const id, secret, token = "client", "harness-secret-Nv7qLx", "harness-token-Rw4zKp9s"
	red := redact.New()
	red.AddCredential(id, secret)
	red.AddToken(token)
	r := &runner{red: red}
	r.harnessProblem("AUTH-01: step panicked with " + secret + " and " + token)
	msg := strings.Join(r.harness, "; ")
	assert.NotContains(t, msg, secret)
	assert.NotContains(t, msg, token)
	assert.Contains(t, msg, redact.Mask)
}
