// Package redact removes secrets and replayable tokens from everything the harness writes:
// transcripts, logs, reports and the console. Redaction happens at the source: a value passes
// through a Redactor before it is stored anywhere.
//
// A client secret becomes "***" in every encoding it can travel in (raw, form-urlencoded,
// percent-encoded, inside a Basic credential). An access token becomes its fingerprint
// ("sha256:" and the first 12 hex digits of its SHA-256, and its length), and a JWT keeps its
// decoded header and claims but never its signature, so nothing written can be replayed.
package redact

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Mask is what a secret is replaced with.
const Mask = "***"

// TokenInfo is what the evidence keeps of an access token.
type TokenInfo struct {
	Fingerprint string         `json:"fingerprint"` // "sha256:" + first 12 hex digits
	Length      int            `json:"length"`
	Header      map[string]any `json:"header,omitempty"` // decoded JOSE header, when a JWT
	Claims      map[string]any `json:"claims,omitempty"` // decoded claims, when a JWT
}

// String is the short form used in text: "[token sha256:0123456789ab len=812]".
func (t TokenInfo) String() string {
	return "[token " + t.Fingerprint + " len=" + strconv.Itoa(t.Length) + "]"
}

// Fingerprint returns "sha256:" and the first 12 hex digits of the token's SHA-256.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Token describes a token without keeping it: its fingerprint and length and, when it is a
// compact JWS whose header and payload decode to JSON objects, those objects. The signature is
// never kept.
func Token(token string) TokenInfo {
	info := TokenInfo{Fingerprint: Fingerprint(token), Length: len(token)}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return info
	}
	h, okH := decodeSegment(parts[0])
	c, okC := decodeSegment(parts[1])
	if okH && okC {
		info.Header, info.Claims = h, c
	}
	return info
}

func decodeSegment(seg string) (map[string]any, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// jwtRe matches anything shaped like a compact JWS whose header is JSON ("eyJ...").
var jwtRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*={0,2}\.[A-Za-z0-9_-]*={0,2}\.[A-Za-z0-9_-]*={0,2}`)

// Authorization redacts an Authorization (or Proxy-Authorization) header value, keeping only
// its scheme: "Basic ***", "Bearer ***". A value with no scheme becomes "***".
func Authorization(value string) string {
	scheme, _, found := strings.Cut(strings.TrimSpace(value), " ")
	if !found || scheme == "" {
		return Mask
	}
	return scheme + " " + Mask
}

// SensitiveHeader reports whether a header's value must always be redacted.
func SensitiveHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-control-token":
		return true
	}
	return false
}

// A Redactor scrubs known secrets and tokens from text. It is safe for concurrent use.
// The zero value is not usable; call New.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // every encoded form of every secret, longest first
	tokens  map[string]struct{}
}

// New returns a Redactor that knows the given secrets (empty strings are ignored).
func New(secrets ...string) *Redactor {
	r := &Redactor{tokens: map[string]struct{}{}}
	r.AddSecret(secrets...)
	return r
}

// AddSecret registers more secrets. Each is removed in its raw, form-urlencoded,
// percent-encoded and base64 forms.
func (r *Redactor) AddSecret(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range encodings(s) {
			if !contains(r.secrets, form) {
				r.secrets = append(r.secrets, form)
			}
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// encodings are the forms a secret travels in: raw, form-urlencoded, percent-encoded, base64.
func encodings(s string) []string {
	return []string{s, url.QueryEscape(s), url.PathEscape(s),
		base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))}
}

// basicForms are the Basic credentials built from a client's ID and secret, in both RFC 6749
// §2.3.1 forms (plain and form-urlencoded before base64).
func basicForms(clientID, secret string) []string {
	return []string{base64.StdEncoding.EncodeToString([]byte(clientID + ":" + secret)),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)))}
}

// Forms returns every distinct form in which the secrets can appear in written evidence: each
// secret's encodings and, with a client ID, the Basic credentials built from it. Scanners that
// check a finished bundle use it; a Redactor removes the same forms.
func Forms(clientID string, secrets ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		forms := encodings(s)
		if clientID != "" {
			forms = append(forms, basicForms(clientID, s)...)
		}
		for _, f := range forms {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// AddCredential registers a client's credentials: the secret, and the Basic credential built
// from them in both RFC 6749 §2.3.1 forms (plain and form-urlencoded before base64).
func (r *Redactor) AddCredential(clientID, secret string) {
	if secret == "" {
		return
	}
	r.AddSecret(append([]string{secret, clientID + ":" + secret}, basicForms(clientID, secret)...)...)
}

// AddToken registers an access token (opaque or JWT) so that it is replaced by its fingerprint
// wherever it appears.
func (r *Redactor) AddToken(tokens ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tokens {
		if t != "" {
			r.tokens[t] = struct{}{}
		}
	}
}

// String returns s with every known secret masked, every known token and every JWT-shaped string
// replaced by its fingerprint.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for t := range r.tokens {
		if strings.Contains(s, t) {
			s = strings.ReplaceAll(s, t, Token(t).String())
		}
	}
	s = jwtRe.ReplaceAllStringFunc(s, func(t string) string { return Token(t).String() })
	// Secrets last, so that nothing substituted above can bring one back.
	// Repeat until stable: a secret that contains the mask itself could otherwise be rebuilt
	// from the text around a replacement. Each pass shortens s, so this ends.
	for changed := true; changed; {
		changed = false
		for _, sec := range r.secrets {
			if strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, Mask)
				changed = changed || len(sec) > len(Mask)
			}
		}
	}
	return s
}

// Bytes is String for byte slices.
func (r *Redactor) Bytes(b []byte) []byte { return []byte(r.String(string(b))) }

// Header returns a header value fit to keep: sensitive headers are reduced to their scheme,
// others pass through String.
func (r *Redactor) Header(name, value string) string {
	if SensitiveHeader(name) {
		if strings.EqualFold(name, "authorization") || strings.EqualFold(name, "proxy-authorization") {
			return Authorization(value)
		}
		return Mask
	}
	return r.String(value)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
