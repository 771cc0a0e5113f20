package steps

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// straddling is text whose secret begins half its length before cut, and long enough to be cut
// even once the secret is masked: a cut made before redacting would leave its first half readable.
func straddling(secret string, cut int) string {
	return strings.Repeat("a", cut-len(secret)/2) + secret + strings.Repeat("b", 100)
}

// assertCutAndClean asserts that got was cut and that no half of a secret or token is left.
func assertCutAndClean(t *testing.T, got, cutMark string, halves []string) {
	t.Helper()
	tail := got[max(0, len(got)-200):]
	assert.True(t, strings.Contains(got, cutMark), "not cut: …%s", tail)
	for _, h := range halves {
		assert.False(t, strings.Contains(got, h), "%q is left readable: …%s", h, tail)
	}
}

// TestTextIsRedactedBeforeItIsCut: every place that shortens what a target said (a stored body,
// an error code quoted in a reason, an error text) masks secrets and tokens across the cut.
func TestTextIsRedactedBeforeItIsCut(t *testing.T) {
	const id, secret = "client", "Qz7-straddling-secret-Wx9"
	const token = "opaque-token-Kp4mVb8nRt2yHs6dLq"
	red := redact.New()
	red.AddCredential(id, secret)
	red.AddToken(token)
	halves := []string{secret[:len(secret)/2], token[:len(token)/2]}

	for _, value := range []string{secret, token} {
		t.Run("stored body", func(t *testing.T) {
			r := &recorder{red: red}
			got, cut := r.storedBody([]byte(straddling(value, storedBodyLimit)))
			assert.True(t, cut)
			assertCutAndClean(t, got, "bytes in all)", halves)
		})
		t.Run("error code in describe", func(t *testing.T) {
			ex := &exchange{status: 400, obj: map[string]any{"error": straddling(value, 60)}, red: red}
			assertCutAndClean(t, ex.describe(), "…", halves)
		})
		t.Run("error text", func(t *testing.T) {
			assertCutAndClean(t, shortErr(red, errors.New(straddling(value, 120))), "…", halves)
		})
	}
}

func TestCutAtNeverSplitsACharacter(t *testing.T) {
	s := strings.Repeat("é", 10) // two bytes each
	for n := 0; n <= len(s)+1; n++ {
		got := cutAt(s, n)
		assert.True(t, utf8.ValidString(got), "cut at %d: %q", n, got)
		assert.LessOrEqual(t, len(got), n)
		assert.GreaterOrEqual(t, len(got), min(n, len(s))-1)
	}
}

// TestFormEncodedTokenAnswerIsRedacted: a server that answers a token request form-encoded
// (not JSON) still has its tokens replaced by their fingerprints in the transcript.
func TestFormEncodedTokenAnswerIsRedacted(t *testing.T) {
	const access, refresh = "opaque-form-access-Hq3nZt8vLw", "opaque-form-refresh-Pm5xYc2kRb"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte("access_token=" + access + "&token_type=bearer&expires_in=3600&refresh_token=" + refresh))
	}))
	t.Cleanup(srv.Close)
	cfg := Config{Timeout: 5 * time.Second, MaxBody: 1 << 20}
	dir := t.TempDir()
	rec := newRecorder(&cfg, redact.New(), dir)
	ex := rec.do(context.Background(), "TOK-01", request{to: toToken, method: http.MethodPost, url: srv.URL})
	require.NoError(t, rec.close())
	require.Equal(t, http.StatusOK, ex.status)

	b, err := os.ReadFile(filepath.Join(dir, ex.file))
	require.NoError(t, err)
	for _, tok := range []string{access, refresh} {
		assert.NotContains(t, string(b), tok)
		assert.Contains(t, string(b), redact.Fingerprint(tok))
	}
	var tr evidence.Transcript
	require.NoError(t, json.Unmarshal(b, &tr))
	require.NotNil(t, tr.Response)
	assert.Len(t, tr.Response.Tokens, 2, "the transcript describes both tokens")
}

func TestTokensIn(t *testing.T) {
	obj := map[string]any{"access_token": "a1", "refresh_token": "", "id_token": 7}
	assert.Equal(t, []string{"a1"}, tokensIn(obj, []byte("access_token=ignored")), "a JSON object wins")
	assert.Equal(t, []string{"a+b", "r1"}, tokensIn(nil, []byte("access_token=a%2Bb&bad=%zz&refresh_token=r1")))
	assert.Empty(t, tokensIn(nil, []byte("<html><body>access_token</body></html>")))
}

// TestStoredBodyIsCutOnlyWhenTooLongOnceRedacted: a body over the limit that redaction brings
// under it (long tokens become short fingerprints) is kept whole, and not marked truncated.
func TestStoredBodyIsCutOnlyWhenTooLongOnceRedacted(t *testing.T) {
	token := strings.Repeat("t", 2*storedBodyLimit)
	red := redact.New()
	red.AddToken(token)
	r := &recorder{red: red}
	got, cut := r.storedBody([]byte(`{"access_token":"` + token + `"}`))
	assert.False(t, cut)
	assert.Equal(t, `{"access_token":"`+redact.Token(token).String()+`"}`, got)
}
