package reports

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClaimTimes(t *testing.T) {
	assert.Equal(t, "issued 2026-01-02 03:04:05 UTC · valid from 2026-01-02 03:04:05 UTC · expires 2026-01-02 11:04:05 UTC · lifetime 8h0m0s",
		claimTimes(map[string]any{"iat": float64(1767323045), "nbf": float64(1767323045), "exp": float64(1767351845)}))
	assert.Equal(t, "expires 2026-01-02 11:04:05 UTC", claimTimes(map[string]any{"exp": float64(1767351845), "iat": "soon"}))
	assert.Empty(t, claimTimes(nil))
}

func TestInlineCodeEscapesBeforeFormatting(t *testing.T) {
	assert.Equal(t, `<code>grant_type=&lt;x&gt;</code> &amp; more`, string(inlineCode("`grant_type=<x>` & more")))
	assert.Equal(t, `&lt;script&gt;`, string(inlineCode("<script>")))
}

func TestThresholdsOf(t *testing.T) {
	got, ok := thresholdsOf([]any{map[string]any{"expr": "p99<1s", "measured": "3ms", "held": true},
		map[string]any{"expr": "success>=1", "value": 0.5, "ok": false}})
	assert.True(t, ok)
	assert.Equal(t, []thresholdView{{Expr: "p99<1s", Measured: "3ms", Held: true}, {Expr: "success>=1", Measured: "0.5"}}, got)
	for _, bad := range []any{nil, []any{}, []any{"p99<1s"}, []any{map[string]any{"expr": "x"}}, []any{map[string]any{"held": true}}} {
		_, ok := thresholdsOf(bad)
		assert.False(t, ok, "%v", bad)
	}
}
