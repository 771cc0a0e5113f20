// Package client certifies a partner's OAuth 2.0 client-credentials client: the program that
// fetches tokens from DerbySoft's AuthZ and calls the Ticket APIs with them. For each scenario
// of the CLIENT catalogue area it starts an embedded mock (fresh port, fresh credentials, short
// token lifetimes, the scenario's faults) behind a recording front, starts the partner's
// COMMAND against it, stops it, and judges what the front saw with the Gherkin of
// features/client (godog). Run is the entry point of 'authzcheck client'; Serve is --serve.
package client

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
