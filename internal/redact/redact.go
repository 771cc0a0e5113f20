// Package redact removes secrets and replayable tokens from everything the harness writes:
// transcripts, logs, reports and the console. Redaction happens at the source: a value passes
// through a Redactor before it is stored anywhere.
//
// A client secret becomes "***" in every encoding it can travel in (raw, form-urlencoded,
// percent-encoded, base64, inside a Basic credential, and escaped inside JSON, Go-quoted and
// HTML text: see Variants). An access token becomes its fingerprint
// ("sha256:" and the first 12 hex digits of its SHA-256, and its length), and a JWT keeps its
// decoded header and claims but never its signature, so nothing written can be replayed.
package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// Mask is what a secret is replaced with.
const Mask = "***"

// Fingerprint returns "sha256:" and the first 12 hex digits of the token's SHA-256.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Token describes a token without keeping it: its fingerprint and length and, when it is a
// compact JWS whose header and payload decode to JSON objects, those objects. The signature is
// never kept.
func Token(token string) evidence.TokenInfo {
	info := evidence.TokenInfo{Fingerprint: Fingerprint(token), Length: len(token)}
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
	mu        sync.RWMutex
	secrets   []string          // every encoded form of every secret, longest first
	tokens    map[string]string // every variant of every token: its fingerprint text
	tokenList []string          // the keys of tokens, longest first
}

// New returns a Redactor that knows the given secrets (empty strings are ignored).
func New(secrets ...string) *Redactor {
	r := &Redactor{tokens: map[string]string{}}
	r.AddSecret(secrets...)
	return r
}

// Credential is a client's ID and secret: the secret travels alone and inside the Basic
// credential built from both, so the forms of a secret depend on the ID it goes with.
type Credential struct {
	ID     string
	Secret string
}

// Variants returns s and the escaped forms it takes in what the harness writes and what targets
// answer, each once and s first: form-urlencoded and percent-encoded; inside a JSON string
// (encoding/json with HTML escaping on, and off); with "/" written "\/" (JSON encoders that
// escape the solidus); inside a strconv.Quote (%q) string; and HTML-escaped (html/template's
// HTMLEscapeString, and as html/template writes text, which also escapes "+"). Escapes compose once:
// the JSON string of a quoted or HTML-escaped form is a variant too. Empty s has none.
func Variants(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	quoted := strconv.Quote(s)
	for _, b := range []string{s, url.QueryEscape(s), url.PathEscape(s), quoted[1 : len(quoted)-1],
		template.HTMLEscapeString(s), htmlText(s)} {
		add(b)
		add(jsonInner(b, true))
		add(jsonInner(b, false))
	}
	for _, v := range out {
		if strings.Contains(v, "/") {
			add(strings.ReplaceAll(v, "/", `\/`)) // appends to out: the loop sees it, and it has no bare "/"
		}
	}
	return out
}

// htmlTextTmpl writes a value as html/template does in HTML text and attributes: like
// HTMLEscapeString, and "+" as "&#43;".
var htmlTextTmpl = template.Must(template.New("").Parse("{{.}}"))

func htmlText(s string) string {
	var buf bytes.Buffer
	if htmlTextTmpl.Execute(&buf, s) != nil {
		return template.HTMLEscapeString(s)
	}
	return buf.String()
}

// jsonInner is s as encoding/json writes it inside a string, without the quotes.
func jsonInner(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	out := strings.TrimSuffix(buf.String(), "\n")
	return out[1 : len(out)-1]
}

// secretForms are the forms of a secret on its own: its Variants, and those of its base64 forms.
func secretForms(s string) []string {
	if s == "" {
		return nil
	}
	forms := Variants(s)
	for _, b := range []string{base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))} {
		forms = append(forms, Variants(b)...)
	}
	return forms
}

// basicForms are the Basic credentials built from a client's ID and secret, in both RFC 6749
// §2.3.1 forms (plain and form-urlencoded before base64).
func basicForms(clientID, secret string) []string {
	return []string{base64.StdEncoding.EncodeToString([]byte(clientID + ":" + secret)),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)))}
}

// credentialForms is the one list of the forms a client's credentials can be written in, used by
// both the Redactor (AddCredential) and the scanners (Forms, CredentialForms): the secret's
// forms, those of "id:secret", and the Variants of both Basic credentials.
func credentialForms(c Credential) []string {
	if c.Secret == "" {
		return nil
	}
	forms := append(secretForms(c.Secret), secretForms(c.ID+":"+c.Secret)...)
	for _, b := range basicForms(c.ID, c.Secret) {
		forms = append(forms, Variants(b)...)
	}
	return forms
}

// CredentialForms returns every distinct form in which the credentials' secrets can appear in
// written evidence, each secret with the Basic credentials built from its own client's ID.
// Scanners that check a finished bundle use it; a Redactor given the same credentials
// (AddCredential) removes exactly these forms.
func CredentialForms(creds ...Credential) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range creds {
		for _, f := range credentialForms(c) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// Forms is CredentialForms for secrets that share one client ID.
func Forms(clientID string, secrets ...string) []string {
	creds := make([]Credential, 0, len(secrets))
	for _, s := range secrets {
		creds = append(creds, Credential{ID: clientID, Secret: s})
	}
	return CredentialForms(creds...)
}

// AddSecret registers more secrets (empty strings are ignored). Each is removed in its Variants
// and those of its base64 forms.
func (r *Redactor) AddSecret(secrets ...string) {
	var forms []string
	for _, s := range secrets {
		forms = append(forms, secretForms(s)...)
	}
	r.addForms(forms)
}

// AddCredential registers a client's credentials: every form of CredentialForms.
func (r *Redactor) AddCredential(clientID, secret string) {
	r.addForms(credentialForms(Credential{ID: clientID, Secret: secret}))
}

func (r *Redactor) addForms(forms []string) {
	if len(forms) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range forms {
		if !contains(r.secrets, f) {
			r.secrets = append(r.secrets, f)
		}
	}
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// AddToken registers an access token (opaque or JWT) so that it is replaced by its fingerprint
// wherever it appears, in any of its Variants (percent-encoded, "\/"-escaped, ...).
func (r *Redactor) AddToken(tokens ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tokens {
		if t == "" {
			continue
		}
		if _, done := r.tokens[t]; done {
			continue
		}
		fp := Token(t).String()
		for _, v := range Variants(t) {
			if _, ok := r.tokens[v]; !ok {
				r.tokens[v] = fp
				r.tokenList = append(r.tokenList, v)
			}
		}
	}
	sort.SliceStable(r.tokenList, func(i, j int) bool { return len(r.tokenList[i]) > len(r.tokenList[j]) })
}

// String returns s with every known secret masked, every known token and every JWT-shaped string
// replaced by its fingerprint.
func (r *Redactor) String(s string) string {
	if s == "" {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.tokenList {
		if strings.Contains(s, t) {
			s = strings.ReplaceAll(s, t, r.tokens[t])
		}
	}
	if jwtRe.MatchString(s) { // ReplaceAllStringFunc copies s even when nothing matches
		s = jwtRe.ReplaceAllStringFunc(s, func(t string) string { return Token(t).String() })
	}
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
