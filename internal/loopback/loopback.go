// Package loopback decides whether a host or URL is on this machine (localhost, 127.0.0.0/8,
// ::1) without resolving any name: the one rule behind every "loopback only unless allowed"
// safety check of the harness, the mock and the load generator.
package loopback

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Host reports whether host (a name or an IP, without a port) is localhost or a loopback IP.
// Other names are not loopback, whatever they would resolve to.
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL reports whether raw parses as a URL whose host is loopback (see Host).
func URL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && Host(u.Hostname())
}

// ErrCleartext is wrapped by Cleartext's error, so callers can tell the refusal apart.
var ErrCleartext = errors.New("refusing to send credentials in clear")

// Cleartext returns an error when raw is a plain-HTTP URL to a host that is not loopback:
// credentials (a Basic header, a client secret, a Bearer token) must never travel there, so
// every subcommand refuses such a URL before it dials. https URLs, loopback URLs and URLs that
// do not parse as http(s) return nil (other checks judge those).
func Cleartext(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || Host(u.Hostname()) {
		return nil
	}
	safe := *u
	safe.User = nil
	return fmt.Errorf("%w to %s: it is plain HTTP to a host that is not loopback; use https", ErrCleartext, safe.String())
}
