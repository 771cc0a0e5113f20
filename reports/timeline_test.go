package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

func TestTimelineDrawsEachSession(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "client"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(evidence.TimelineFile)), []byte(`{"sessions":[
	 {"name":"baseline","about":"tokens of 3 s","duration_ms":6000,
	  "tokens":[{"issued_ms":100,"expires_ms":3100},{"issued_ms":2500,"expires_ms":5500}],
	  "requests":[{"at_ms":90,"status":200},{"at_ms":2490,"status":200}],
	  "calls":[{"at_ms":200,"status":200},{"at_ms":3200,"status":401}],"calls_seen":5}]}`), 0o644))
	b, err := ReadBundle(dir)
	require.NoError(t, err)
	page, err := RenderHTML(b)
	require.NoError(t, err)
	html := string(page)
	assert.Contains(t, html, `<section id="timeline">`)
	assert.Equal(t, 1, strings.Count(html, `<svg class="timeline"`))
	assert.Equal(t, 2, strings.Count(html, `<rect `), "one bar per token")
	assert.Equal(t, 1, strings.Count(html, `class="bad"`), "the 401 is red")
	assert.Contains(t, html, "(2 of 5 API calls drawn)", "a thinned lane says so")
}

func TestTimelineUnreadableIsAProblem(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "client"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(evidence.TimelineFile)), []byte(`{not json`), 0o644))
	b, err := ReadBundle(dir)
	require.NoError(t, err)
	page, err := RenderHTML(b)
	require.NoError(t, err)
	assert.Contains(t, string(page), "client/timeline.json")
	assert.NotContains(t, string(page), `<section id="timeline">`)
}
