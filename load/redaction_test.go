package load

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// echoingTokenServer issues one token that lives 1 s to the first `good` requests, then answers
// 500 with the request's credentials (decoded), Authorization header and body echoed in its
// answer.
func echoingTokenServer(t *testing.T, good int64) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n.Add(1) <= good {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok","token_type":"Bearer","expires_in":1}`)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		id, secret, _ := r.BasicAuth()
		_, _ = io.WriteString(w, "bad secret "+secret+" for "+id+"; you sent: Authorization: "+r.Header.Get("Authorization")+"\n"+string(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A failing token endpoint that echoes the request leaves the client secret and the Basic
// credential in none of the run's outputs: results.bin, summary.json, the returned error.
func TestCachedRunNeverRecordsTheCredentials(t *testing.T) {
	const id, secret = "load-client", "secret-never-to-be-written" // no digits: errorKind would fold them
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	leaks := func(t *testing.T, what, s string) {
		t.Helper()
		assert.NotContains(t, s, secret, what)
		assert.NotContains(t, s, basic, what)
		assert.NotContains(t, s, base64.RawStdEncoding.EncodeToString([]byte(secret)), what)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(api.Close)

	t.Run("the warm-up fails", func(t *testing.T) {
		tok := echoingTokenServer(t, 0)
		cfg := Config{Mode: ModeCached, TokenURL: tok.URL, APIURL: api.URL, ClientID: id, ClientSecret: secret,
			Rate: vegeta.Rate{Freq: 20, Per: time.Second}, Duration: time.Second, Dir: filepath.Join(t.TempDir(), "load")}
		_, err := Run(context.Background(), cfg)
		var pe *PreflightError
		require.ErrorAs(t, err, &pe)
		assert.False(t, pe.Unreachable, "the endpoint answered: %v", err)
		assert.Contains(t, err.Error(), "500")
		leaks(t, "the returned error", err.Error())
	})

	t.Run("the token endpoint fails during the run", func(t *testing.T) {
		tok := echoingTokenServer(t, 1)
		cfg := Config{Mode: ModeCached, TokenURL: tok.URL, APIURL: api.URL, ClientID: id, ClientSecret: secret,
			Rate: vegeta.Rate{Freq: 50, Per: time.Second}, Duration: 2 * time.Second, Dir: filepath.Join(t.TempDir(), "load")}
		sum, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		require.NotEmpty(t, sum.Errors, "the expired token could not be replaced")
		var failed int
		for _, r := range decodeResults(t, filepath.Join(cfg.Dir, evidence.ResultsFile)) {
			if r.Error != "" {
				failed++
			}
			leaks(t, "results.bin", r.Error)
		}
		assert.Positive(t, failed)
		b, err := os.ReadFile(filepath.Join(cfg.Dir, evidence.LoadSummaryName))
		require.NoError(t, err)
		leaks(t, "summary.json", string(b))
		raw, err := os.ReadFile(filepath.Join(cfg.Dir, evidence.ResultsFile))
		require.NoError(t, err)
		leaks(t, "results.bin bytes", string(raw))
	})
}
