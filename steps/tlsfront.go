package steps

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/loopback"
)

// TLSFront serves a plain-HTTP loopback server (the embedded mock) over HTTPS with a throwaway
// certificate, so that a run against the mock exercises the same TLS path as one against UAT
// (SEC-02..04 are judged, not skipped). It forwards every request unchanged, repeated headers
// included, and never follows redirects.
type TLSFront struct {
	srv      *httptest.Server
	tr       *http.Transport
	upstream string
}

// NewTLSFront starts an HTTPS front for upstream ("http://127.0.0.1:PORT") on 127.0.0.1:0.
func NewTLSFront(upstream string) (*TLSFront, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || !loopback.Host(u.Hostname()) {
		return nil, fmt.Errorf("tls front: %q is not a plain-HTTP loopback URL", upstream)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	f := &TLSFront{srv: httptest.NewUnstartedServer(rp), tr: tr, upstream: strings.TrimRight(upstream, "/")}
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	return f, nil
}

// URL is the front's base URL, "https://127.0.0.1:PORT".
func (f *TLSFront) URL() string { return f.srv.URL }

// Rewrite maps a URL of the upstream to the same URL through the front; other URLs are
// returned unchanged.
func (f *TLSFront) Rewrite(raw string) string {
	if rest, ok := strings.CutPrefix(raw, f.upstream); ok {
		return f.srv.URL + rest
	}
	return raw
}

// RootCAs trusts the front's certificate.
func (f *TLSFront) RootCAs() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.srv.Certificate())
	return p
}

// CertificatePEM is the front's certificate, for --ca-file.
func (f *TLSFront) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

// Close stops the front and closes its connections to the upstream.
func (f *TLSFront) Close() {
	f.srv.Close()
	f.tr.CloseIdleConnections()
}
