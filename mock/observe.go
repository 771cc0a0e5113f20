package mock

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Exchange is one request the mock served and the answer it gave, as reported to an observer.
// Values are raw (unredacted): the observer is in-process and redacts what it writes.
type Exchange struct {
	Start, End     time.Time // wall clock: request received, answer written
	Remote         string    // the client's address
	TLSVersion     uint16    // tls.VersionTLS12 ... ; 0 over plain HTTP
	Method, Path   string
	RawQuery       string
	Header         http.Header // request headers as received (a clone)
	Body           []byte      // request body as received, at most 64 KiB
	BodyTruncated  bool
	Status         int
	ResponseHeader http.Header // a clone
	Endpoint       string      // "token", "api", "jwks", "metrics", "healthz", "control" or "other"
	ClientID       string      // the client the request authenticated as (token: Basic or form; api: the token's client), "" if none
	BearerToken    string      // API calls: the token presented in Authorization (raw), "" if none
	IssuedToken    string      // token answers: the access_token issued, "" if none
	ExpiresIn      int64       // token answers: the expires_in sent, in seconds (also when sent as a string); 0 if none
	TokenExpiry    time.Time   // the exp of IssuedToken or BearerToken when known; zero otherwise
	Error          string      // the OAuth error code or API errorCode of the answer, "" on success
}

// maxObservedBody bounds the request body an Exchange keeps.
const maxObservedBody = 64 << 10

// WithObserver reports every request the mock serves, after its answer is written, to fn
// (called from the serving goroutine; fn must be safe for concurrent use and quick).
func WithObserver(fn func(Exchange)) Option { return func(c *Config) { c.Observer = fn } }

// observedWriter is the ResponseWriter of a request served with an observer: it records the
// status, and the handlers record what only they know (client, token, error code) in ex through
// observed. Without an observer the handlers' only cost is observed's failed type assertion.
type observedWriter struct {
	http.ResponseWriter
	ex *Exchange
}

func (o *observedWriter) WriteHeader(code int) {
	if o.ex.Status == 0 {
		o.ex.Status = code
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *observedWriter) Write(b []byte) (int, error) {
	if o.ex.Status == 0 {
		o.ex.Status = http.StatusOK
	}
	return o.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (faults flush and hijack it).
func (o *observedWriter) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// Hijack is for callers that assert http.Hijacker directly rather than use a ResponseController.
func (o *observedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(o.ResponseWriter).Hijack()
}

// observed is the Exchange being recorded for the request w answers, or nil without an observer.
func observed(w http.ResponseWriter) *Exchange {
	if o, ok := w.(*observedWriter); ok {
		return o.ex
	}
	return nil
}

// teeBody keeps the first maxObservedBody bytes the handler reads from a request body.
type teeBody struct {
	io.ReadCloser
	ex *Exchange
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		room := maxObservedBody - len(t.ex.Body)
		if room < n {
			t.ex.BodyTruncated = true
		}
		if room > 0 {
			t.ex.Body = append(t.ex.Body, p[:min(n, room)]...)
		}
	}
	return n, err
}

// serveObserved serves one request through next and reports it to the observer once answered
// (also when the handler aborts the connection, as the reset and truncate faults do).
func (s *Server) serveObserved(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ex := &Exchange{Start: time.Now(), Remote: r.RemoteAddr, Method: r.Method, Path: r.URL.Path,
		RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Endpoint: EndpointOf(r.URL.Path)}
	if r.TLS != nil {
		ex.TLSVersion = r.TLS.Version
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &teeBody{ReadCloser: r.Body, ex: ex}
	}
	ow := &observedWriter{ResponseWriter: w, ex: ex}
	defer func() {
		ex.End = time.Now()
		ex.ResponseHeader = w.Header().Clone()
		if ex.Endpoint == "api" {
			ex.BearerToken = BearerToken(r.Header)
		}
		switch {
		case ex.IssuedToken != "":
			ex.TokenExpiry = s.tokenExpiry(ex.IssuedToken)
		case ex.BearerToken != "":
			ex.TokenExpiry = s.tokenExpiry(ex.BearerToken)
		}
		s.cfg.Observer(*ex)
	}()
	next.ServeHTTP(ow, r)
}

// EndpointOf names the part of the mock a path belongs to, as Exchange.Endpoint does: "token",
// "api", "jwks", "metrics", "healthz" or "other".
func EndpointOf(path string) string {
	switch path {
	case TokenPath:
		return "token"
	case JWKSPath:
		return "jwks"
	case "/metrics":
		return "metrics"
	case "/healthz":
		return "healthz"
	}
	for _, ep := range apiEndpoints {
		if path == ep.path {
			return "api"
		}
	}
	if strings.HasPrefix(path, ControlPath) {
		return "control"
	}
	return "other"
}

// BearerToken is the token of a single "Authorization: Bearer ..." header (the scheme in any
// case), "" otherwise. The client catalogue's recording front reads calls the same way.
func BearerToken(h http.Header) string {
	v := h.Values("Authorization")
	if len(v) != 1 {
		return ""
	}
	scheme, rest, ok := strings.Cut(v[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimLeft(rest, " ")
}

// tokenExpiry is the exp of a token the mock could have issued: a JWT's exp claim (read without
// verification: the observer wants what was presented), or an opaque token's recorded expiry.
func (s *Server) tokenExpiry(tok string) time.Time {
	if v, ok := s.opaque.Load(tok); ok {
		return time.Unix(v.(opaqueEntry).exp, 0)
	}
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser(jwt.WithPaddingAllowed()).ParseUnverified(tok, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}
	}
	return claims.ExpiresAt.Time
}
