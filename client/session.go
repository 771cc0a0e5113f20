package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authzcheck/authzcheck/internal/jwtexp"
	"github.com/authzcheck/authzcheck/mock"
)

// Bounds on what a run keeps, whatever the client does (a flood of 10,000 requests/s in every
// session at once stays within a few tens of megabytes).
const (
	maxRunRecords  = 20000   // exchanges kept by all the sessions of a run (recordBudget); the rest are only counted
	maxKeptBody    = 4 << 10 // of each request and answer body
	maxFrontBody   = 1 << 20 // a request body the front reads at most
	maxIssuedKnown = 20000   // tokens whose issue time the front remembers (revocation)
)

// droppedKey counts, beside the endpoints in session.counts, the exchanges not kept.
const droppedKey = "dropped"

// recordBudget is how many exchanges the sessions of one run may keep in all, so that a client
// flooding every session costs the run a bounded amount of memory. Each session may keep an
// equal share of half the budget whatever the others do; the other half goes to the sessions
// that need it first. Once a session can keep no more, it only counts what it sees.
type recordBudget struct {
	total  int          // what the sessions may keep in all
	floor  int          // what each session may keep before drawing on shared
	shared atomic.Int64 // what any session may still take beyond its floor
}

// newRecordBudget shares total between sessions.
func newRecordBudget(total, sessions int) *recordBudget {
	b := &recordBudget{total: total, floor: total / (2 * max(sessions, 1))}
	b.shared.Store(int64(total - b.floor*max(sessions, 1)))
	return b
}

// take reports whether a session that keeps kept exchanges may keep one more.
func (b *recordBudget) take(kept int) bool {
	if kept < b.floor {
		return true
	}
	for {
		n := b.shared.Load()
		if n <= 0 {
			return false
		}
		if b.shared.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// TLS modes of a session.
const (
	tlsOff       = ""
	tlsTrusted   = "trusted"   // HTTPS, the CA named in the CA variables
	tlsUntrusted = "untrusted" // HTTPS, the CA named nowhere
)

// sessionDef is one scenario's setting: what the mock and the front do while COMMAND runs.
type sessionDef struct {
	name  string
	about string // for the report: what the session does
	ttl   time.Duration
	run   time.Duration
	tls   string
	// revokeAfter: tokens issued before this point of the session are rejected by the API from
	// then on (401 invalid_token), as a revocation would.
	revokeAfter time.Duration
	// rejectAll: the API rejects every token with 401 invalid_token.
	rejectAll bool
	// unavailable: the token endpoint answers 503 for this long from the session's start.
	unavailable time.Duration
	// retryAfter: the first token request gets 429 with this Retry-After, and so does every
	// token request until it elapsed.
	retryAfter time.Duration
	// redirect: the token endpoint answers 307 to the same path on another origin.
	redirect bool
	// expiresInString: expires_in is a JSON string ("3").
	expiresInString bool
	// lowerBearer: token_type is "bearer" and the answer has no scope.
	lowerBearer bool
	// lenientExpiry: the API accepts expired tokens (mock quirk api-ignore-expiry), so that a
	// client that does not honour expires_in keeps presenting its token instead of learning
	// from a 401 (CLIENT-05 sees it).
	lenientExpiry bool
}

// quirks are the mock quirks a session needs.
func (d sessionDef) quirks() []string {
	if d.lenientExpiry {
		return []string{"api-ignore-expiry"}
	}
	return []string{}
}

// sessionDefs are the client catalogue's sessions. Lifetimes are seconds, never 28800, so that
// a client that hard-codes it fails within the session.
var sessionDefs = []sessionDef{
	{name: "baseline", about: "tokens of 3 s for 13 s; the API does not reject expired tokens, so only the client's own bookkeeping decides when it refreshes", ttl: 3 * time.Second, run: 13 * time.Second, lenientExpiry: true},
	{name: "revocation", about: "tokens of 20 s; every token issued in the first 3 s is revoked at 3 s", ttl: 20 * time.Second, run: 8 * time.Second, revokeAfter: 3 * time.Second},
	{name: "every token rejected", about: "the API rejects every token with 401 invalid_token", ttl: 3 * time.Second, run: 6 * time.Second, rejectAll: true},
	{name: "rate limited", about: "the first token request gets 429 with Retry-After: 2", ttl: 3 * time.Second, run: 10 * time.Second, retryAfter: 2 * time.Second},
	{name: "unavailable", about: "the token endpoint answers 503 for the first 3 s", ttl: 3 * time.Second, run: 10 * time.Second, unavailable: 3 * time.Second},
	{name: "string expires_in", about: "expires_in is a numeric string; tokens of 2 s; the API does not reject expired tokens", ttl: 2 * time.Second, run: 8 * time.Second, expiresInString: true, lenientExpiry: true},
	{name: "lower-case bearer", about: "token_type is \"bearer\" and no scope is returned", ttl: 3 * time.Second, run: 8 * time.Second, lowerBearer: true},
	{name: "trusted TLS", about: "HTTPS with a CA of its own, named in AUTHZ_CA_FILE and the usual CA variables", ttl: 3 * time.Second, run: 7 * time.Second, tls: tlsTrusted},
	{name: "untrusted TLS", about: "HTTPS with a CA the client was not told about", ttl: 3 * time.Second, run: 6 * time.Second, tls: tlsUntrusted},
	{name: "redirect", about: "the token endpoint redirects (307) to another origin", ttl: 3 * time.Second, run: 6 * time.Second, redirect: true},
}

func lookupSession(name string) (sessionDef, bool) {
	for _, d := range sessionDefs {
		if d.name == name {
			return d, true
		}
	}
	return sessionDef{}, false
}

// record is one exchange a session saw: the mock's Exchange, filled in by the mock's observer
// (TLS sessions) or by the recording front (the others), plus where it came from.
type record struct {
	mock.Exchange
	Seq   int    // order of arrival in the session, from 1
	Phase string // the session definition it belongs to
	// Origin is "main" (the URLs the client was given) or "other" (the redirect's target).
	Origin string
	// ByHarness: the front answered itself (503, 429, revocation, redirect), not the mock.
	ByHarness bool
	// Answer is the answer body (bounded), for the transcript.
	Answer []byte
	// Observed: recorded by the mock's observer (TLS sessions), whose Body holds only what the
	// mock read (nothing, for a request it refused before reading the body).
	Observed bool
	// SecretForm says how the Basic credential carried the secret: "as is", "form-encoded",
	// "wrong" or "" (no Basic credential).
	SecretForm string
}

// phase is a session definition in force from start.
type phase struct {
	def   sessionDef
	start time.Time
	// revokeAt is start+revokeAfter; limitedUntil is when the 429 spell ends (0: not begun).
	revokeAt     time.Time
	limitedUntil atomic.Int64
	limitedOnce  sync.Once
}

// session is one embedded mock, its recording front and what they saw.
type session struct {
	clientID, secret, distributor string

	mock     *mock.Server
	front    *http.Server
	other    *http.Server
	fwd      *http.Transport
	base     string // the URL the client is given (the front's or, under TLS, the mock's)
	otherURL string
	caPEM    []byte

	cur    atomic.Pointer[phase]
	budget *recordBudget // the run's, shared with its other sessions

	mu      sync.Mutex
	recs    []record
	seq     int
	counts  map[string]int // by endpoint, including what was not kept
	issued  map[string]time.Time
	started time.Time
	// stopping is when the harness sent COMMAND SIGTERM (zero when it was not stopped): what it
	// sends while it shuts down may be cut short by the signal.
	stopping time.Time
	proc     *procResult
	ended    time.Time
}

// newSession starts a mock (and, unless the definition is TLS, a recording front) with fresh
// credentials; the exchanges it keeps come out of budget. Close stops them.
func newSession(def sessionDef, budget *recordBudget) (*session, error) {
	return newSessionAt(def, "127.0.0.1:0", budget)
}

// newSessionAt is newSession with the front listening on addr (--serve).
func newSessionAt(def sessionDef, addr string, budget *recordBudget) (*session, error) {
	s := &session{
		budget:      budget,
		clientID:    "cert-" + randHex(4),
		secret:      freshSecret(),
		distributor: "DIST-" + strings.ToUpper(randHex(3)),
		counts:      map[string]int{},
		issued:      map[string]time.Time{},
	}
	opts := []mock.Option{
		mock.WithClients(mock.Client{ID: s.clientID, Secret: s.secret, Distributor: s.distributor}),
		mock.WithTokenTTL(def.ttl),
		mock.WithQuirks(def.quirks()...),
	}
	if def.tls != tlsOff {
		opts = append(opts, mock.WithTLS(), mock.WithObserver(s.observe))
	}
	m, err := mock.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("session %s: mock: %w", def.name, err)
	}
	s.mock = m
	if def.tls != tlsOff {
		s.base = m.URL()
		s.caPEM = m.CACertPEM()
	} else if err := s.startFront(addr); err != nil {
		m.Close()
		return nil, fmt.Errorf("session %s: %w", def.name, err)
	}
	if def.redirect {
		if err := s.startOther(); err != nil {
			s.Close()
			return nil, fmt.Errorf("session %s: %w", def.name, err)
		}
	}
	s.setPhase(def)
	return s, nil
}

// freshSecret is a random secret holding '+', '/', '=' and '%': form-encoding changes it, so
// both ways of building the Basic credential (RFC 6749 §2.3.1, and the seed's plain base64) are
// told apart (CLIENT-03).
func freshSecret() string {
	h := randHex(12)
	return h[:6] + "+" + h[6:12] + "/" + h[12:18] + "=" + h[18:] + "%!"
}

func (s *session) setPhase(def sessionDef) {
	p := &phase{def: def, start: time.Now()}
	p.revokeAt = p.start.Add(def.revokeAfter)
	s.cur.Store(p)
}

// TokenURL and APIURL are what the client is given.
func (s *session) TokenURL() string { return s.base + mock.TokenPath }
func (s *session) APIURL() string   { return s.base }

func (s *session) startFront(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("front: %w", err)
	}
	s.fwd = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 10 * time.Second}
	s.front = &http.Server{Handler: http.HandlerFunc(s.serveFront), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: log.New(io.Discard, "", 0)}
	s.base = "http://" + ln.Addr().String()
	go func() { _ = s.front.Serve(ln) }()
	return nil
}

// startOther starts the redirect's target: another origin (127.0.0.2 where the system routes
// it, else "localhost"), which records what reaches it and answers 401.
func (s *session) startOther() error {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	host := ""
	if err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("redirect target: %w", err)
		}
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if host == "" {
		host = "127.0.0.2"
	}
	s.otherURL = "http://" + net.JoinHostPort(host, port)
	s.other = &http.Server{ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := s.begin(r, "other")
			w.Header().Set("Content-Type", "application/json")
			rec.Status = http.StatusUnauthorized
			rec.Answer = []byte(`{"error":"invalid_client","error_description":"this origin issues no tokens"}`)
			rec.Error = "invalid_client"
			rec.ByHarness = true
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Answer)
			s.finish(rec, w.Header())
		})}
	go func() { _ = s.other.Serve(ln) }()
	return nil
}

// observe records an exchange the mock reports (TLS sessions).
func (s *session) observe(ex mock.Exchange) {
	rec := &record{Exchange: ex, Origin: "main", Phase: s.cur.Load().def.name, Observed: true}
	if len(rec.Body) > maxKeptBody {
		rec.Body, rec.BodyTruncated = append([]byte(nil), rec.Body[:maxKeptBody]...), true
	}
	if rec.Endpoint == "api" && rec.Status < 400 {
		rec.ResponseHeader = nil // as finish: nothing to judge in a successful API answer
	}
	rec.SecretForm = s.secretForm(ex.Header)
	s.add(rec)
}

// begin starts a record of a request to the front or the other origin, its body read (bounded).
func (s *session) begin(r *http.Request, origin string) *record {
	rec := &record{Origin: origin, Phase: s.cur.Load().def.name}
	rec.Start = time.Now()
	rec.Remote, rec.Method, rec.Path, rec.RawQuery = r.RemoteAddr, r.Method, r.URL.Path, r.URL.RawQuery
	rec.Header = r.Header.Clone()
	rec.Endpoint = mock.EndpointOf(r.URL.Path)
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxFrontBody+1))
		if err == nil && len(b) > maxFrontBody {
			b, rec.BodyTruncated = b[:maxFrontBody], true
		}
		rec.Body = b
	}
	if rec.Endpoint == "token" {
		rec.ClientID, _, _ = basicCredentials(r.Header)
	}
	rec.SecretForm = s.secretForm(r.Header)
	if rec.Endpoint == "api" {
		rec.BearerToken = mock.BearerToken(r.Header)
	}
	return rec
}

// finish completes a record with the answer's headers and stores it. What it keeps is copied
// out at its bound, so that no record holds a larger buffer.
func (s *session) finish(rec *record, h http.Header) {
	rec.End = time.Now()
	if len(rec.Body) > maxKeptBody {
		rec.Body, rec.BodyTruncated = append([]byte(nil), rec.Body[:maxKeptBody]...), true
	}
	if rec.Endpoint == "api" && rec.Status < 400 {
		// The sample API's canned answer: nothing to judge, and a flood of it.
		rec.Answer = nil
	} else {
		rec.ResponseHeader = h.Clone()
		if len(rec.Answer) > maxKeptBody {
			rec.Answer = append([]byte(nil), rec.Answer[:maxKeptBody]...)
		}
	}
	if rec.BearerToken != "" && rec.TokenExpiry.IsZero() {
		rec.TokenExpiry = tokenExp(rec.BearerToken)
	}
	s.add(rec)
}

func (s *session) add(rec *record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.counts[rec.Endpoint]++
	s.counts[rec.Phase+"/"+rec.Endpoint]++
	if rec.IssuedToken != "" && len(s.issued) < maxIssuedKnown {
		s.issued[rec.IssuedToken] = rec.End
	}
	if !s.budget.take(len(s.recs)) {
		s.counts[droppedKey]++
		s.counts[rec.Phase+"/"+droppedKey]++
		return
	}
	rec.Seq = s.seq
	s.recs = append(s.recs, *rec)
}

// serveFront is the recording front: it answers what the session's phase answers itself and
// forwards the rest to the mock, recording every exchange.
func (s *session) serveFront(w http.ResponseWriter, r *http.Request) {
	p := s.cur.Load()
	rec := s.begin(r, "main")
	now := rec.Start
	h := w.Header()
	local := func(status int, code, desc string) {
		rec.ByHarness, rec.Status, rec.Error = true, status, code
		rec.Answer, _ = json.Marshal(map[string]string{"error": code, "error_description": desc})
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(rec.Answer)
		s.finish(rec, h)
	}
	switch rec.Endpoint {
	case "token":
		switch {
		case p.def.redirect:
			h.Set("Location", s.otherURL+r.URL.RequestURI())
			rec.ByHarness, rec.Status = true, http.StatusTemporaryRedirect
			w.WriteHeader(rec.Status)
			s.finish(rec, h)
			return
		case p.def.unavailable > 0 && now.Before(p.start.Add(p.def.unavailable)):
			local(http.StatusServiceUnavailable, "temporarily_unavailable", "the token endpoint is down for maintenance")
			return
		case p.def.retryAfter > 0:
			p.limitedOnce.Do(func() { p.limitedUntil.Store(now.Add(p.def.retryAfter).UnixNano()) })
			if until := time.Unix(0, p.limitedUntil.Load()); now.Before(until) {
				secs := int64((until.Sub(now) + time.Second - 1) / time.Second)
				h.Set("Retry-After", strconv.FormatInt(secs, 10))
				local(http.StatusTooManyRequests, "temporarily_unavailable", "rate limit exceeded: retry after "+strconv.FormatInt(secs, 10)+" s")
				return
			}
		}
	case "api":
		if p.def.rejectAll || (p.def.revokeAfter > 0 && !now.Before(p.revokeAt) && s.issuedBefore(rec.BearerToken, p.revokeAt)) {
			if rec.BearerToken != "" {
				h.Set("WWW-Authenticate", `Bearer realm="ticket-api", error="invalid_token", error_description="the access token was revoked"`)
				local(http.StatusUnauthorized, "invalid_token", "the access token was revoked")
				return
			}
		}
	}
	s.forward(w, r, rec, p)
}

// issuedBefore reports whether tok was issued before t (a token the session never issued
// counts as issued before: it cannot be valid either).
func (s *session) issuedBefore(tok string, t time.Time) bool {
	s.mu.Lock()
	at, ok := s.issued[tok]
	s.mu.Unlock()
	return !ok || at.Before(t)
}

// forward sends the request to the mock and its answer back, rewriting a token answer as the
// phase wants it.
func (s *session) forward(w http.ResponseWriter, r *http.Request, rec *record, p *phase) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, s.mock.URL()+r.URL.RequestURI(), bytes.NewReader(rec.Body))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	out.Host = r.Host
	if rec.Endpoint == "token" {
		basicFromElsewhere(out, rec.Body)
	}
	resp, err := s.fwd.RoundTrip(out)
	if err != nil {
		rec.Error = "harness: " + err.Error()
		rec.ByHarness = true
		w.WriteHeader(http.StatusBadGateway)
		s.finish(rec, w.Header())
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxFrontBody))
	if rec.Endpoint == "token" && resp.StatusCode == http.StatusOK {
		body = s.tokenAnswer(rec, body, p.def)
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error     string `json:"error"`
			ErrorCode string `json:"errorCode"`
		}
		_ = json.Unmarshal(body, &e)
		rec.Error = e.Error
		if rec.Error == "" {
			rec.Error = e.ErrorCode
		}
	}
	h := w.Header()
	for k, v := range resp.Header {
		if k != "Content-Length" {
			h[k] = v
		}
	}
	rec.Status, rec.Answer = resp.StatusCode, body
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	s.finish(rec, h)
}

// basicFromElsewhere moves client credentials sent in the body or the query (CLIENT-02 fails
// them) into an Authorization: Basic header before the request reaches the mock, which accepts
// HTTP Basic only: each defect is judged by its own check, and the client's other behaviour is
// still seen. The record keeps the request as the client sent it.
func basicFromElsewhere(out *http.Request, body []byte) {
	if out.Header.Get("Authorization") != "" {
		return
	}
	q := out.URL.Query()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return
	}
	id, secret := q.Get("client_id"), q.Get("client_secret")
	inQuery := id != "" && secret != ""
	if !inQuery {
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if id == "" || secret == "" {
			return
		}
	}
	for _, v := range []url.Values{q, form} {
		v.Del("client_id")
		v.Del("client_secret")
	}
	out.URL.RawQuery = q.Encode()
	nb := []byte(form.Encode())
	out.Body = io.NopCloser(bytes.NewReader(nb))
	out.ContentLength = int64(len(nb))
	out.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
}

// tokenAnswer reads an issued token from the mock's answer and rewrites the answer for the
// phase (expires_in as a string; token_type "bearer" and no scope).
func (s *session) tokenAnswer(rec *record, body []byte, def sessionDef) []byte {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return body
	}
	rec.IssuedToken, _ = m["access_token"].(string)
	if n, ok := m["expires_in"].(json.Number); ok {
		rec.ExpiresIn, _ = n.Int64()
	}
	rec.TokenExpiry = tokenExp(rec.IssuedToken)
	if !def.expiresInString && !def.lowerBearer {
		return body
	}
	if def.expiresInString {
		m["expires_in"] = strconv.FormatInt(rec.ExpiresIn, 10)
	}
	if def.lowerBearer {
		m["token_type"] = "bearer"
		delete(m, "scope")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return b
}

// secretForm says how a Basic credential carries this session's secret.
func (s *session) secretForm(h http.Header) string {
	_, secret, ok := basicCredentials(h)
	switch {
	case !ok:
		return ""
	case secret == s.secret:
		return "as is"
	case secret == url.QueryEscape(s.secret):
		return "form-encoded"
	}
	return "wrong"
}

// Close stops the front, the other origin and the mock.
func (s *session) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, hs := range []*http.Server{s.front, s.other} {
		if hs != nil {
			if hs.Shutdown(ctx) != nil {
				_ = hs.Close()
			}
		}
	}
	if s.fwd != nil {
		s.fwd.CloseIdleConnections()
	}
	if err := s.mock.Shutdown(ctx); err != nil {
		s.mock.Close()
	}
}

// issuedTokens is the set of tokens the session issued (up to maxIssuedKnown).
func (s *session) issuedTokens() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.issued))
	for t := range s.issued {
		out[t] = true
	}
	return out
}

// records returns what the session kept, in order of arrival.
func (s *session) records() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record(nil), s.recs...)
}

// env is COMMAND's environment for this session: base plus the harness's variables.
func (s *session) env(base []string, caFile string) []string {
	set := map[string]string{
		"AUTHZ_TOKEN_URL":     s.TokenURL(),
		"AUTHZ_API_URL":       s.APIURL(),
		"AUTHZ_CLIENT_ID":     s.clientID,
		"AUTHZ_CLIENT_SECRET": s.secret,
	}
	if caFile != "" {
		for _, v := range caVars {
			set[v] = caFile
		}
	}
	return clientEnv(base, set)
}

// writeCA writes the session's CA certificate into dir for the CA variables.
func (s *session) writeCA(dir string) (string, error) {
	name := filepath.Join(dir, "authzcheck-ca-"+randHex(4)+".pem")
	if err := os.WriteFile(name, s.caPEM, 0o644); err != nil {
		return "", fmt.Errorf("CA file: %w", err)
	}
	return name, nil
}

// apiPaths are the sample Ticket API's operations.
// basicCredentials decodes the single Authorization: Basic header (the secret as sent, not
// form-decoded). ok is false when there is none or it is malformed.
func basicCredentials(h http.Header) (id, secret string, ok bool) {
	v := h.Values("Authorization")
	if len(v) != 1 {
		return "", "", false
	}
	scheme, rest, found := strings.Cut(v[0], " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	id, secret, err := mock.DecodeBasic(rest)
	if err != nil {
		return "", "", false
	}
	if d, err := url.QueryUnescape(id); err == nil {
		id = d
	}
	return id, secret, true
}

// tokenExp is a JWT's exp claim, read without verification (zero when there is none).
func tokenExp(tok string) time.Time {
	exp, _ := jwtexp.ExpString(tok)
	return exp
}

var errNoCommand = errors.New("no command given: authzcheck client [flags] -- COMMAND [ARG...]")
