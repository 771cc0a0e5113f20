package steps

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/authzcheck/authzcheck/internal/loopback"
)

// Transport (SEC).

func registerTransportSteps(t *stepTable) {
	outcomeFamily(t, "", []outcomeEntry{
		{"the token endpoint URL uses https, or its host is loopback", args0(secHTTPS)},
		{"no credential was sent over plain HTTP to any other host", args0(secNoPlainCredentials)},
		{"the TLS certificate of the token endpoint verified", args0(secCertificate)},
		{`the connection used TLS 1\.2 or newer`, args0(secTLSVersion)},
	})
}

func secHTTPS(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		u, _ := url.Parse(s.r.cfg.TokenURL)
		if u.Scheme == "https" {
			return nil
		}
		if loopback.Host(u.Hostname()) {
			s.note("plain HTTP, allowed because %s is loopback", u.Hostname())
			return nil
		}
		return fmt.Errorf("expected an https token URL, got plain http to %s (no credential was sent)", u.Hostname())
	})
}

func secNoPlainCredentials(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		for _, ex := range s.r.rec.exchanges() {
			u, err := url.Parse(ex.url)
			if err != nil || u.Scheme == "https" || loopback.Host(u.Hostname()) {
				continue
			}
			if !errors.Is(ex.err, errPlainHTTP) {
				return fmt.Errorf("expected no request over plain HTTP to %s, got one (transcript %s)", u.Hostname(), ex.file)
			}
		}
		return nil
	})
}

// tlsOf is the TLS state of the scenario's latest answer; plain HTTP to loopback has none to
// judge, and is skipped.
func tlsOf(s *scenario) (*tls.ConnectionState, error) {
	if u, _ := url.Parse(s.r.cfg.TokenURL); u.Scheme != "https" {
		return nil, skipf("plain HTTP to a loopback host: there is no TLS to inspect")
	}
	ex := s.last
	if ex == nil {
		return nil, errors.New("expected a TLS connection, but no request was made")
	}
	var cve *tls.CertificateVerificationError
	if errors.As(ex.err, &cve) {
		return nil, fmt.Errorf("expected a certificate that verifies against the system roots or --ca-file, got: %s", shortErr(s.r.red, cve.Err))
	}
	if ex.tls == nil {
		return nil, fmt.Errorf("expected a TLS connection, got %s", ex.describe())
	}
	return ex.tls, nil
}

func secCertificate(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		st, err := tlsOf(s)
		if err != nil {
			return err
		}
		if len(st.PeerCertificates) > 0 {
			c := st.PeerCertificates[0]
			s.note("certificate: subject %q, issuer %q, valid until %s", c.Subject.String(), c.Issuer.String(), c.NotAfter.UTC().Format(time.DateOnly))
		}
		return nil
	})
}

// secTLSVersion is SEC-03: the harness never offers less than TLS 1.2 when it sends a
// credential, and the token endpoint must not agree to TLS 1.0 or 1.1 (RFC 8996): a handshake
// that offers only those, and sends nothing, must fail.
func secTLSVersion(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		st, err := tlsOf(s)
		var sk errSkipCheck
		if errors.As(err, &sk) {
			return err
		}
		if p := s.r.legacyTLS(ctx); p.version != 0 {
			return fmt.Errorf("expected the token endpoint to refuse TLS 1.0 and 1.1 (RFC 8996), got a %s handshake when only TLS 1.0/1.1 were offered (no credential was sent over it)", tls.VersionName(p.version))
		} else if p.err != "" {
			s.note("TLS 1.0/1.1 refused: %s", p.err)
		}
		if err != nil {
			return err
		}
		s.note("%s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		if st.Version < tls.VersionTLS12 {
			return fmt.Errorf("expected TLS 1.2 or newer, got %s", tls.VersionName(st.Version))
		}
		return nil
	})
}

// legacyProbe is what a handshake offering only TLS 1.0 and 1.1 gave: the version the token
// endpoint agreed to (0: it refused) and, when it refused, why.
type legacyProbe struct {
	version uint16
	err     string
}

// legacyTLS makes, once per run, a TLS handshake with the token endpoint that offers only
// TLS 1.0 and 1.1, and closes it without sending a byte: it learns whether the endpoint would
// accept credentials over them. Plain HTTP has no TLS to probe (version 0).
func (r *runner) legacyTLS(ctx context.Context) legacyProbe {
	r.legacyOnce.Do(func() {
		u, err := url.Parse(r.cfg.TokenURL)
		if err != nil || u.Scheme != "https" {
			return
		}
		dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		defer cancel()
		conn, err := r.dialTokenEndpoint(dctx, u)
		if err != nil {
			r.legacy.err = shortErr(r.red, err)
			return
		}
		defer conn.Close()
		// The certificate is not what this handshake asks about (SEC-02 judges it), and
		// nothing is sent over the connection: only the version the server agrees to counts.
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: true,
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err := tc.HandshakeContext(dctx); err != nil {
			r.legacy.err = shortErr(r.red, err)
			return
		}
		r.legacy.version = tc.ConnectionState().Version
	})
	return r.legacy
}
