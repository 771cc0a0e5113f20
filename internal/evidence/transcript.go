package evidence

import (
	"net/url"
	"strconv"
	"time"
)

// Transcript is one HTTP exchange, redacted, as stored in transcripts/NNNN.json.
type Transcript struct {
	Seq        int                 `json:"seq"`
	Checks     []string            `json:"checks"` // check IDs that made this exchange
	Started    time.Time           `json:"started"`
	DurationMS float64             `json:"duration_ms"`
	Request    TranscriptRequest   `json:"request"`
	Response   *TranscriptResponse `json:"response,omitempty"` // nil when no answer came
	Error      string              `json:"error,omitempty"`    // transport error, redacted
}

// TranscriptRequest is the redacted request.
type TranscriptRequest struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body,omitempty"`
}

// Origin is where the request went: scheme://host[:port] of its URL, or "" when the URL does
// not parse or has no host.
func (r TranscriptRequest) Origin() string {
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// TranscriptResponse is the redacted response. An access token in the body is replaced by its
// fingerprint, and described in Tokens.
type TranscriptResponse struct {
	Status    int                 `json:"status"`
	Header    map[string][]string `json:"header"`
	Body      string              `json:"body,omitempty"`
	Truncated bool                `json:"truncated,omitempty"` // body cut at the harness's limit
	Tokens    []TokenInfo         `json:"tokens,omitempty"`
	TLS       *TLSInfo            `json:"tls,omitempty"`
}

// TLSInfo describes the connection of an HTTPS exchange.
type TLSInfo struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
}

// TokenInfo is what the evidence keeps of an access token (internal/redact makes it): never
// the token, only its fingerprint, its length and, for a JWT, its decoded header and claims.
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
