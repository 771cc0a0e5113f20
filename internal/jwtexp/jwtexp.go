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
	"unsafe"
)

// MaxPayload bounds the payload segment read from a token, encoded.
const MaxPayload = 64 << 10

// maxExp is the latest exp accepted, in seconds since the epoch (about the year 36812): what
// no issuer would send is not an expiry.
const maxExp = 1 << 40

// stackPayload is the decoded payload size handled without a heap allocation.
const stackPayload = 1024

// Exp returns the exp claim of token, a JWT in compact serialisation: exactly three
// base64url segments separated by dots (padding tolerated), a non-empty header and payload, and
// a payload of at most MaxPayload bytes that is a JSON object. exp must be a JSON number (a
// NumericDate, never a string) in (0, 2^40] seconds; fractions of a second are kept. Claim
// names are case-sensitive and the last of repeated names counts, as in a JSON decode into a
// map. Exp reports false, with the zero time, for anything else.
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
	var buf [stackPayload]byte
	dst := buf[:]
	if n := base64.RawURLEncoding.DecodedLen(len(payload)); n > len(buf) {
		dst = make([]byte, n)
	}
	n, err := base64.RawURLEncoding.Decode(dst, payload)
	if err != nil {
		return time.Time{}, false
	}
	num, ok := expValue(dst[:n])
	if !ok {
		return time.Time{}, false
	}
	return fromNumber(num)
}

// ExpString is Exp for a token held in a string; it does not copy the token.
func ExpString(token string) (time.Time, bool) {
	// Exp only reads its argument.
	return Exp(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// fromNumber converts a JSON number to the time it names.
func fromNumber(num []byte) (time.Time, bool) {
	exp, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsNaN(exp) || exp <= 0 || exp > maxExp {
		return time.Time{}, false
	}
	sec, frac := math.Modf(exp)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// expValue returns the raw value of the top-level "exp" member of the JSON object p, when p is
// valid JSON and that value is a number. It walks the object without decoding it (json.Valid
// has checked its syntax), and falls back to a decode for a member name with escapes.
func expValue(p []byte) ([]byte, bool) {
	if !json.Valid(p) {
		return nil, false
	}
	i := skipSpace(p, 0)
	if p[i] != '{' {
		return nil, false
	}
	i = skipSpace(p, i+1)
	var val []byte
	found := false
	for p[i] != '}' {
		// p[i] is the opening quote of a member name.
		end, escaped := stringEnd(p, i)
		if escaped {
			return expValueDecoded(p)
		}
		isExp := end-i == 5 && p[i+1] == 'e' && p[i+2] == 'x' && p[i+3] == 'p'
		i = skipSpace(p, end) // at the colon
		i = skipSpace(p, i+1) // at the value
		j := valueEnd(p, i)
		if isExp {
			val, found = p[i:j], true
		}
		i = skipSpace(p, j)
		if p[i] == ',' {
			i = skipSpace(p, i+1)
		}
	}
	if !found || !isNumber(val) {
		return nil, false
	}
	return val, true
}

// expValueDecoded is expValue by a full decode, for the rare payload whose member names carry
// escapes.
func expValueDecoded(p []byte) ([]byte, bool) {
	var claims map[string]json.RawMessage
	// A copy: handing p itself to the decoder would move Exp's stack buffer to the heap.
	if json.Unmarshal(bytes.Clone(p), &claims) != nil {
		return nil, false
	}
	v, ok := claims["exp"]
	if !ok || !isNumber(v) {
		return nil, false
	}
	return v, true
}

func isNumber(v []byte) bool {
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at p[i] (a quote), and whether it holds
// an escape.
func stringEnd(p []byte, i int) (int, bool) {
	escaped := false
	for i++; i < len(p); i++ {
		switch p[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return len(p), escaped
}

// valueEnd returns the index after the (valid) JSON value starting at p[i].
func valueEnd(p []byte, i int) int {
	switch p[i] {
	case '"':
		end, _ := stringEnd(p, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(p) {
			switch p[i] {
			case '"':
				i, _ = stringEnd(p, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(p)
	}
	for i < len(p) {
		switch p[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}
