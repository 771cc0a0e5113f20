// Package loopback decides whether a host or URL is on this machine (localhost, 127.0.0.0/8,
// ::1) without resolving any name: the one rule behind every "loopback only unless allowed"
// safety check of the harness, the mock and the load generator.
package loopback

import (
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
