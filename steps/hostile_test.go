package steps

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
	"github.com/authzcheck/authzcheck/mock"
)

// failedByHostileTests are MUST checks that no mock quirk breaks but the tests below (or the
// faults of TestFaultsFailIssuance) make fail.
var failedByHostileTests = []string{"SEC-01", "SEC-02", "SEC-03", "TOK-01", "TOK-03"}

// hostileSecret is the client secret of the hostile tests: it holds characters that every
// encoding escapes differently (form, percent, JSON, HTML), so an echo in any of them is seen.
const hostileSecret = `s3cret+/=%&"<value`

// hostileConfig is a run against a loopback server that is not an OAuth server at all.
func hostileConfig(t *testing.T, tokenURL string) Config {
	t.Helper()
	return Config{TokenURL: tokenURL, ClientID: "client", ClientSecret: hostileSecret,
		Timeout: 300 * time.Millisecond, MaxDuration: 20 * time.Second, OutDir: t.TempDir()}
}

// runBounded runs the suite and fails the test if the run outlives its own bounds.
func runBounded(t *testing.T, cfg Config) (*evidence.Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Run(ctx, cfg)
	require.NoError(t, ctx.Err(), "the run did not stop within its bounds")
	return sum, err
}

func statusOf(sum *evidence.Summary, id string) evidence.CheckResult {
	for _, c := range sum.Checks {
		if c.ID == id {
			return c
		}
	}
	return evidence.CheckResult{}
}

// assertNoSecretWritten checks every file of the run for the client secret.
func assertNoSecretWritten(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, f := range redact.Forms("client", secret) {
			assert.NotContains(t, string(b), f, "%s holds the secret", p)
		}
		return nil
	})
	require.NoError(t, err)
}

func TestTargetThatNeverAnswersEndsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	held := make(chan net.Conn, 64)
	t.Cleanup(func() {
		ln.Close()
		close(held)
		for c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case held <- c: // keep it open, say nothing
			default:
				c.Close()
			}
		}
	}()
	cfg := hostileConfig(t, "http://"+ln.Addr().String()+"/token")
	sum, err := runBounded(t, cfg)
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	require.NotNil(t, sum)
	assert.Equal(t, "failed", sum.Result)
	assert.Equal(t, evidence.StatusFailed, statusOf(sum, "TOK-01").Status)
	assert.Contains(t, statusOf(sum, "TOK-01").Reason, "timeout")
	assertNoSecretWritten(t, cfg.OutDir, cfg.ClientSecret)
}

func TestTargetThatResetsConnectionsEndsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		c.Close()
	}))
	t.Cleanup(srv.Close)
	sum, err := runBounded(t, hostileConfig(t, srv.URL+"/token"))
	var ue *UnreachableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, evidence.StatusFailed, statusOf(sum, "TOK-01").Status)
}

func TestTargetThatAnswersGarbageWith200Fails(t *testing.T) {
	tests := []struct {
		name string
		ct   string
		body string
	}{
		{"invalid JSON", "application/json", `{"access_token": "abc", `},
		{"HTML page", "text/html", "<html><body><h1>Welcome</h1></body></html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ct)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			sum, err := runBounded(t, hostileConfig(t, srv.URL+"/token"))
			require.NoError(t, err, "the target answered: not unreachable")
			assert.Equal(t, "failed", sum.Result)
			assert.Equal(t, evidence.StatusPassed, statusOf(sum, "TOK-01").Status, "status 200 is what TOK-01 asks")
			tok03 := statusOf(sum, "TOK-03")
			assert.Equal(t, evidence.StatusFailed, tok03.Status)
			assert.Equal(t, "must", tok03.Level)
			assert.Contains(t, tok03.Reason, "expected a JSON object")
			assert.Equal(t, evidence.StatusFailed, statusOf(sum, "AUTH-02").Status, "a 200 to a wrong secret")
		})
	}
}

func TestTargetThatAnswers50MBIsCutAtTheLimit(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 50<<20/len(chunk); i++ {
			n, err := w.Write(chunk)
			served.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	cfg := hostileConfig(t, srv.URL+"/token")
	cfg.Timeout = 2 * time.Second
	sum, err := runBounded(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, evidence.StatusFailed, statusOf(sum, "TOK-03").Status)
	assert.Contains(t, statusOf(sum, "TOK-03").Reason, "larger than the harness reads", "an answer not read whole is not judged as JSON")
	b, err := os.ReadFile(filepath.Join(cfg.OutDir, "transcripts", "0001.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"truncated": true`)
	assert.Less(t, len(b), 1<<20, "a transcript keeps at most a small part of a huge body")
}

func TestUntrustedCertificateFailsSEC02AndSendsNothing(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	sum, err := runBounded(t, hostileConfig(t, srv.URL+"/token")) // system roots: untrusted
	require.NoError(t, err)
	assert.Equal(t, "failed", sum.Result)
	sec02 := statusOf(sum, "SEC-02")
	assert.Equal(t, evidence.StatusFailed, sec02.Status)
	assert.Contains(t, sec02.Reason, "certificate")
	assert.Equal(t, evidence.StatusPassed, statusOf(sum, "SEC-01").Status)
	assert.Equal(t, evidence.StatusSkipped, statusOf(sum, "TOK-01").Status)
	assert.Contains(t, statusOf(sum, "TOK-01").Reason, "no credential was sent")
	assert.Zero(t, requests.Load(), "no HTTP request may reach a server whose certificate did not verify")
}

func TestPlainHTTPToRemoteHostSendsNothing(t *testing.T) {
	// .invalid never resolves; the run must not even try (no dial, no DNS).
	sum, err := runBounded(t, hostileConfig(t, "http://authz.example.invalid/ticket-distributor-authorizer/token"))
	require.NoError(t, err)
	assert.Equal(t, "failed", sum.Result)
	sec01 := statusOf(sum, "SEC-01")
	assert.Equal(t, evidence.StatusFailed, sec01.Status)
	assert.Equal(t, "must", sec01.Level)
	for _, c := range sum.Checks {
		if c.ID != "SEC-01" {
			assert.Equal(t, evidence.StatusSkipped, c.Status, c.ID)
		}
	}
}

func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	_, port, _ := net.SplitHostPort(other.Listener.Addr().String())
	target := "http://localhost:" + port + "/collect" // another host name for the same loopback
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	cfg := hostileConfig(t, srv.URL+"/token")
	sum, err := runBounded(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, "failed", sum.Result)
	assert.Contains(t, statusOf(sum, "TOK-01").Reason, "status 307")
	assert.Zero(t, elsewhere.Load(), "a redirect must never be followed, with or without credentials")
	assertNoSecretWritten(t, cfg.OutDir, cfg.ClientSecret)
}

func TestFaultsFailIssuance(t *testing.T) {
	tests := []struct {
		name   string
		faults mock.Faults
		fails  []string
	}{
		// TOK-03 has no token answer to judge (skipped), TOK-01 fails on the 500.
		{"every token request answers 500", mock.Faults{ErrorRate: 1}, []string{"TOK-01"}},
		{"every token answer is cut short", mock.Faults{TruncateRate: 1}, []string{"TOK-03"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := runAgainstMock(t, catalog.ProfileDerbySoft, false, mock.WithFaults(tt.faults))
			for _, id := range tt.fails {
				c := statusOf(sum, id)
				assert.Equal(t, evidence.StatusFailed, c.Status, id)
				assert.Equal(t, "must", c.Level, id)
			}
			assert.Equal(t, "failed", sum.Result)
		})
	}
}

// TestUnreachableTargetSkipsEverything: nothing listens on the port.
func TestUnreachableTargetSkipsEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	sum, err := runBounded(t, hostileConfig(t, "http://"+addr+"/token"))
	var ue *UnreachableError
	require.True(t, errors.As(err, &ue), "got %v", err)
	for _, c := range sum.Checks {
		assert.Equal(t, evidence.StatusSkipped, c.Status, c.ID)
	}
	assert.Equal(t, "failed", sum.Result, "a run that judged nothing did not pass")
}

// TestOpaqueTokensUnderRFC6749 runs the JWT checks against a plain OAuth server that issues
// opaque tokens: allowed under rfc6749 (JWT-01..02 report it, the rest are skipped), a MUST
// failure under derbysoft.
func TestOpaqueTokensUnderRFC6749(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		id, secret, ok := r.BasicAuth()
		if !ok || id != "client" || secret != hostileSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(srv.Close)
	for _, profile := range []string{catalog.ProfileRFC6749, catalog.ProfileDerbySoft} {
		t.Run(profile, func(t *testing.T) {
			cfg := hostileConfig(t, srv.URL+"/token")
			cfg.Profile, cfg.Tags = profile, "@JWT-01,@JWT-02,@JWT-03,@JWT-08,@JWT-10"
			sum, err := runBounded(t, cfg)
			require.NoError(t, err)
			if profile == catalog.ProfileRFC6749 {
				for _, id := range []string{"JWT-01", "JWT-02"} {
					c := statusOf(sum, id)
					assert.Equal(t, evidence.StatusPassed, c.Status, id)
					assert.NotEmpty(t, c.Notes, "%s reports the opaque token", id)
					assert.Equal(t, "info", c.Level, "%s: an opaque token is information only under rfc6749", id)
				}
				for _, id := range []string{"JWT-03", "JWT-08", "JWT-10"} {
					c := statusOf(sum, id)
					assert.Equal(t, evidence.StatusSkipped, c.Status, id)
					assert.Contains(t, c.Reason, "opaque", id)
				}
				assert.Equal(t, "passed", sum.Result)
				return
			}
			for _, id := range []string{"JWT-01", "JWT-02", "JWT-03"} {
				c := statusOf(sum, id)
				assert.Equal(t, evidence.StatusFailed, c.Status, id)
				assert.Equal(t, "must", c.Level, id)
			}
		})
	}
}

// TestSecretEchoedByTheTargetNeverReachesTheEvidence: a target that puts the presented secret
// in its error code (quoted in reasons) and body (kept in transcripts).
func TestSecretEchoedByTheTargetNeverReachesTheEvidence(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		b, _ := json.Marshal(map[string]string{"error": secret, "error_description": "bad secret " + secret})
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	cfg := hostileConfig(t, srv.URL+"/token")
	sum, err := runBounded(t, cfg)
	require.NoError(t, err)
	http08 := statusOf(sum, "HTTP-08")
	assert.Equal(t, evidence.StatusFailed, http08.Status)
	assert.Contains(t, http08.Reason, "masked in the transcript")
	// What HTTP-08's reason says: each transcript it names shows the echo, masked.
	require.NotEmpty(t, http08.Transcripts)
	for _, f := range http08.Transcripts {
		b, err := os.ReadFile(filepath.Join(cfg.OutDir, "transcripts", f))
		require.NoError(t, err)
		var tr evidence.Transcript
		require.NoError(t, json.Unmarshal(b, &tr))
		require.NotNil(t, tr.Response, f)
		assert.Contains(t, tr.Response.Body, "bad secret "+redact.Mask, f)
	}
	assertNoSecretWritten(t, cfg.OutDir, cfg.ClientSecret)
	for _, c := range sum.Checks {
		assert.NotContains(t, c.Reason, cfg.ClientSecret, c.ID)
	}
}
