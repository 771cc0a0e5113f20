// Package jwtexp reads the exp claim of a JWT without verifying the token: the one parser behind
// tokencache's expiry and load's expires_in drift. Use what it returns for caching decisions and
// measurements, never for trust.
package jwtexp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// MaxPayload bounds the payload segment read from a token, encoded.
const MaxPayload = 64 << 10

// maxExp is the latest exp accepted, in seconds since the epoch (about the year 36812): what
// no issuer would send is not an expiry.
const maxExp = 1 << 40

// Exp returns the exp claim of token, a JWT in compact serialisation: exactly three
// base64url segments separated by dots (padding tolerated), a non-empty header and payload, and
// a payload of at most MaxPayload bytes that is a JSON object. exp must be a JSON number (a
// NumericDate, never a string) in (0, 2^40] seconds; fractions of a second are kept. Claim
// names are case-sensitive and the last of repeated names counts, as in a JSON decode into a
// map. Exp reports false, with the zero time, for anything else. It reads the payload only:
// the signature is not verified, so use the result for caching and reporting, never for trust.
func Exp(token []byte) (time.Time, bool) {
	header, rest, ok := bytes.Cut(token, []byte{'.'})
	if !ok || len(header) == 0 {
		return time.Time{}, false
	}
	payload, sig, ok := bytes.Cut(rest, []byte{'.'})
	if !ok || len(payload) == 0 || len(payload) > MaxPayload || bytes.IndexByte(sig, '.') >= 0 {
		return time.Time{}, false
	}
	payload = bytes.TrimRight(payload, "=")
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(payload)))
	n, err := base64.RawURLEncoding.Decode(raw, payload)
	if err != nil {
		return time.Time{}, false
	}
	var claims map[string]json.RawMessage // a map: claim names match case-sensitively
	if json.Unmarshal(raw[:n], &claims) != nil {
		return time.Time{}, false
	}
	v := claims["exp"]
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') { // a number, not a string
		return time.Time{}, false
	}
	exp, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(exp) || exp <= 0 || exp > maxExp {
		return time.Time{}, false
	}
	sec, frac := math.Modf(exp)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// ExpString is Exp for a token held in a string.
func ExpString(token string) (time.Time, bool) { return Exp([]byte(token)) }
