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

func secTLSVersion(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		st, err := tlsOf(s)
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
