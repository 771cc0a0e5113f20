package steps

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// TestSEC03RefusesCredentialsBelowTLS12 runs the suite against loopback HTTPS servers that
// offer different TLS versions: a server that agrees to TLS 1.0 or 1.1 fails SEC-03 at MUST
// with the version in the reason, and no request ever travels below TLS 1.2 (RFC 8996).
func TestSEC03RefusesCredentialsBelowTLS12(t *testing.T) {
	tests := []struct {
		name             string
		min, max         uint16
		wantStatus       evidence.Status
		wantReason       string
		wantNoneReceived bool // a server with only TLS 1.0/1.1 gets no request at all
	}{
		{"only TLS 1.0 and 1.1: nothing is sent and SEC-03 fails", tls.VersionTLS10, tls.VersionTLS11, evidence.StatusFailed, "TLS 1.1", true},
		{"TLS 1.0 up to 1.3: requests use 1.2 or newer and SEC-03 fails", tls.VersionTLS10, tls.VersionTLS13, evidence.StatusFailed, "TLS 1.1", false},
		{"TLS 1.2 and newer only: SEC-03 passes", tls.VersionTLS12, tls.VersionTLS13, evidence.StatusPassed, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu       sync.Mutex
				versions []uint16
			)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				versions = append(versions, r.TLS.Version)
				mu.Unlock()
				http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.TLS = &tls.Config{MinVersion: tt.min, MaxVersion: tt.max}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			cfg := hostileConfig(t, srv.URL+"/token")
			cfg.RootCAs = x509.NewCertPool()
			cfg.RootCAs.AddCert(srv.Certificate())

			sum, err := runBounded(t, cfg)
			require.NoError(t, err)
			sec03 := statusOf(sum, "SEC-03")
			assert.Equal(t, tt.wantStatus, sec03.Status, sec03.Reason)
			assert.Equal(t, "must", sec03.Level)
			if tt.wantReason != "" {
				assert.Contains(t, sec03.Reason, tt.wantReason)
				assert.Contains(t, sec03.Reason, "RFC 8996")
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.wantNoneReceived {
				assert.Empty(t, versions, "no request may reach a server that speaks only TLS 1.0/1.1")
				assert.Equal(t, evidence.StatusSkipped, statusOf(sum, "TOK-01").Status)
				assert.Contains(t, statusOf(sum, "TOK-01").Reason, "no credential was sent")

				// Past the preflight too, the harness's own transport will not go below TLS 1.2.
				rec := newRecorder(&cfg, redact.New(), t.TempDir())
				ex := rec.do(context.Background(), "SEC-03", request{to: toToken, method: http.MethodPost, url: cfg.TokenURL,
					header: http.Header{"Authorization": {"Basic " + basicIn(formRaw, cfg.ClientID, cfg.ClientSecret)}}})
				require.NoError(t, rec.close())
				assert.False(t, ex.answered(), "a request with credentials was answered over TLS below 1.2")
				assert.Empty(t, versions, "no request may reach a server that speaks only TLS 1.0/1.1")
				return
			}
			require.NotEmpty(t, versions, "the run sent requests")
			for _, v := range versions {
				assert.GreaterOrEqual(t, v, uint16(tls.VersionTLS12), "a request went over %s", tls.VersionName(v))
			}
		})
	}
}
