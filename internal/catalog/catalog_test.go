package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatalogHasEveryArea(t *testing.T) {
	var codes []string
	for _, a := range Areas() {
		codes = append(codes, a.Code)
	}
	assert.Equal(t, []string{"TOK", "AUTH", "GRANT", "HTTP", "JWT", "BEARER", "CACHE", "SEC", "CLIENT"}, codes)
	assert.Len(t, All(), 14+18+7+9+10+16+6+4+18)
}

func TestCatalogLevelsAndNeeds(t *testing.T) {
	tests := []struct {
		id         string
		derby, rfc Level
		needs      []string
	}{
		{"TOK-01", Must, Must, nil},
		{"TOK-06", Should, Info, nil},
		{"AUTH-13", Should, Must, nil},
		{"AUTH-17", Info, Info, []string{NeedIntrusive}},
		{"AUTH-18", Should, Info, nil},
		{"JWT-01", Must, Info, nil},
		{"JWT-09", Must, Must, []string{NeedKeys}},
		{"BEARER-01", Must, Must, []string{NeedAPI}},
		{"BEARER-10", Must, Must, []string{NeedAPI, NeedKeys}},
		{"BEARER-11", Must, Must, []string{NeedAPI, NeedControl}},
		{"CACHE-03", Should, Should, []string{NeedAPI}},
		{"CACHE-05", Must, Must, []string{NeedClient2}},
		{"CLIENT-03", Info, Info, nil},
		{"CLIENT-04", Must, Must, nil},
		{"CLIENT-14", Should, Should, nil},
		{"CLIENT-18", Info, Info, nil},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			c, ok := Lookup(tt.id)
			require.True(t, ok)
			assert.Equal(t, tt.derby, c.Level(ProfileDerbySoft))
			assert.Equal(t, tt.rfc, c.Level(ProfileRFC6749))
			assert.Equal(t, tt.needs, c.Needs)
			assert.NotEmpty(t, c.Expect)
			assert.NotEmpty(t, c.Source)
		})
	}
}

func TestParseRejectsMalformedRows(t *testing.T) {
	tests := map[string]string{
		"wrong area prefix": "## TOK: x\n| ID | Level | Check | Source |\n|---|---|---|---|\n| AUTH-01 | MUST | x | y |\n",
		"no level":          "## TOK: x\n| ID | Level | Check | Source |\n|---|---|---|---|\n| TOK-01 | maybe | x | y |\n",
		"missing cell":      "## TOK: x\n| ID | Level | Check | Source |\n|---|---|---|---|\n| TOK-01 | MUST | x |\n",
		"duplicate":         "## TOK: x\n| ID | Level | Check | Source |\n|---|---|---|---|\n| TOK-01 | MUST | x | y |\n| TOK-01 | MUST | x | y |\n",
		"empty":             "# nothing here\n",
	}
	for name, md := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := Parse(md)
			assert.Error(t, err)
		})
	}
}

// The embedded copy extends the project's shared catalogue (../shared/CHECKS.md, present beside
// the checkout on developer machines and in CI): check IDs are a public interface, so every ID of
// the shared one is still there, in the same area, and its areas come first and in order; the
// summary.json schema is unchanged. Rows may be sharpened here (what a check sends, a level an
// issue raised, such as SEC-03 to MUST), and new checks and the CLIENT area added.
func TestEmbeddedCopyExtendsShared(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "CHECKS.md"))
	if os.IsNotExist(err) {
		t.Skip("../shared/CHECKS.md not present")
	}
	require.NoError(t, err)
	stale := "internal/catalog/CHECKS.md lost an ID or area of ../shared/CHECKS.md: IDs are never renamed or removed"
	checks, areas, err := Parse(string(shared))
	require.NoError(t, err)
	for _, want := range checks {
		got, ok := Lookup(want.ID)
		if assert.True(t, ok, "%s: %s", want.ID, stale) {
			assert.Equal(t, want.Area, got.Area, "%s: %s", want.ID, stale)
		}
	}
	require.GreaterOrEqual(t, len(Areas()), len(areas))
	assert.Equal(t, areas, Areas()[:len(areas)], stale)
	assert.Equal(t, Area{Code: AreaClient, Title: "certifying a partner's client"}, Areas()[len(Areas())-1])
	schema := func(md string) string { _, s, _ := strings.Cut(md, "## summary.json"); return s }
	assert.Equal(t, schema(string(shared)), schema(checksMD), "the summary.json schema of CHECKS.md changed")
}

func FuzzParse(f *testing.F) {
	f.Add(checksMD)
	f.Add("## TOK: x (`api`)\n| ID | Level | Check | Source |\n|---|---|---|---|\n| TOK-01 | MUST / INFO, `keys` | a \\| b | `c|d` |\n")
	f.Fuzz(func(t *testing.T, md string) {
		cs, as, err := Parse(md)
		if err != nil {
			return
		}
		require.NotEmpty(t, cs)
		require.NotEmpty(t, as)
		for _, c := range cs {
			require.NotEmpty(t, c.Derbysoft)
			require.NotEmpty(t, c.RFC6749)
		}
	})
}
