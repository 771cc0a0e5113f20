package mock

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// maxTokenBody bounds a token request body; a client-credentials request is a few dozen bytes.
const maxTokenBody = 64 << 10

const formContentType = "application/x-www-form-urlencoded"

// Shared header values: net/http never modifies them, so every response can point at them.
var (
	hvJSON    = []string{"application/json"}
	hvText    = []string{"text/plain; charset=utf-8"}
	hvNoStore = []string{"no-store"}
	hvNoCache = []string{"no-cache"}
)

// basicChallenge is the WWW-Authenticate of a 401 invalid_client.
const basicChallenge = `Basic realm="ticket-distributor-authorizer", charset="UTF-8"`

// oauthError is an RFC 6749 §5.2 error answer of the token endpoint.
type oauthError struct {
	status      int
	code        string // §5.2 error code
	description string
	malformed   bool // the request itself was malformed (quirk html-errors answers these in HTML)
	unknown     bool // the client ID was unknown (quirk enumerating-errors)
}

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: desc}
}

func errInvalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: desc}
}

// tokenRequest is what the handler learnt from a request, for the error writer and counters.
type tokenRequest struct {
	client *clientEntry
	secret string // the presented secret (quirk echo-secret-in-error only)
	authed bool   // client authenticated (it is only the named one otherwise)
}

// dummyHash is compared against when the client ID is unknown, so an unknown ID takes as long
// as a wrong secret.
var dummyHash = sha256.Sum256([]byte("authzcheck-mock-no-such-client"))

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := s.st.Load()
	outcome := faultNone
	if st.faults.KeyRotateEvery > 0 {
		s.maybeRotate(st.faults)
	}
	if st.faults.active() {
		if outcome = s.applyFaults(w, r, st.faults); outcome == faultAnswered {
			return
		}
	}
	var tr tokenRequest
	iss, oe := s.processToken(w, r, st, &tr)
	if oe != nil {
		if tr.client != nil {
			tr.client.counters.rejections.Add(1)
		}
		s.metrics.rejection("token", oe.code)
		if s.logOn {
			id := ""
			if tr.client != nil {
				id = tr.client.ID
			}
			s.log.Info("token request refused", "status", oe.status, "error", oe.code, "description", oe.description, "client", id)
		}
		if ex := observed(w); ex != nil && tr.authed {
			ex.ClientID = tr.client.ID
		}
		s.writeTokenError(w, st, oe, &tr)
		s.metrics.tokenLatency.Observe(since(start))
		return
	}
	if ex := observed(w); ex != nil {
		ex.ClientID, ex.IssuedToken, ex.ExpiresIn = iss.client, iss.token, iss.expiresIn
		if st.quirks.has(qExpiresInFloat) {
			ex.ExpiresIn-- // sent as expires_in-0.5
		}
	}
	if s.logOn {
		s.log.Info("token issued", "client", iss.client, "scope", iss.scope, "expires_in", iss.expiresIn)
	}
	bp := bufPool.Get().(*[]byte)
	body := appendTokenResponse((*bp)[:0], st.quirks, iss)
	h := w.Header()
	if st.quirks.has(qTokenContentTypeText) || (st.quirks.has(qScopedAnswerSloppy) && iss.scoped) {
		h["Content-Type"] = hvText
	} else {
		h["Content-Type"] = hvJSON
	}
	if !st.quirks.has(qNoCacheControl) && !(st.quirks.has(qScopedAnswerCacheable) && iss.scoped) {
		h["Cache-Control"] = hvNoStore
	}
	if !st.quirks.has(qNoPragma) {
		h["Pragma"] = hvNoCache
	}
	if outcome == faultTruncate {
		s.metrics.rejection("token", "fault_truncate")
		writeTruncated(w, body)
	}
	// One Write under net/http's buffer size: the server sets Content-Length itself.
	_, _ = w.Write(body)
	*bp = body
	bufPool.Put(bp)
	s.metrics.tokenLatency.Observe(since(start))
}

// processToken validates a token request and issues (or reuses) a token.
func (s *Server) processToken(w http.ResponseWriter, r *http.Request, st *state, tr *tokenRequest) (*issuedToken, *oauthError) {
	q := st.quirks
	var query url.Values
	if r.URL.RawQuery != "" {
		query, _ = url.ParseQuery(r.URL.RawQuery)
	}
	var vals url.Values
	switch {
	case r.Method == http.MethodPost:
	case r.Method == http.MethodGet && q.has(qAcceptGet):
		vals = query
	default:
		w.Header().Set("Allow", http.MethodPost)
		return nil, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request",
			description: "the token endpoint accepts POST only"}
	}
	if (query.Has("client_id") || query.Has("client_secret")) && !q.has(qAcceptQueryCredentials) {
		return nil, errInvalidRequest("client credentials must not be sent in the URL query; use HTTP Basic")
	}
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 && !q.has(qAcceptDuplicateAuthorization) {
		return nil, errInvalidRequest("more than one Authorization header")
	}
	if vals == nil {
		var oe *oauthError
		if vals, oe = readTokenBody(w, r, q, query); oe != nil {
			return nil, oe
		}
	}
	for k, v := range vals {
		if len(v) > 1 && !(k == "grant_type" && q.has(qDuplicateGrantTypeOK)) {
			return nil, errInvalidRequest("parameter " + knownParam(k) + " is repeated")
		}
		if q.has(qRejectUnknownParam) && knownParam(k) == "" {
			return nil, errInvalidRequest("unknown parameter")
		}
	}

	client, secret, oe := s.authenticateClient(st, authz, vals, query)
	tr.client, tr.secret, tr.authed = client, secret, client != nil && oe == nil
	if client != nil {
		client.counters.tokenRequests.Add(1)
	}
	if oe != nil {
		return nil, oe
	}

	gts := vals["grant_type"]
	if len(gts) == 0 && q.has(qGrantTypeFromQuery) {
		gts = query["grant_type"]
	}
	gt := "client_credentials"
	switch {
	case len(gts) > 0:
		gt = gts[0]
	case !q.has(qGrantTypeOptional):
		return nil, errInvalidRequest("grant_type is required")
	}
	switch {
	case gt == "client_credentials":
	case gt == "" && q.has(qGrantTypeEmptyOK):
	case gt == "":
		return nil, errInvalidRequest("grant_type is empty")
	case q.has(qAnyGrantType):
	case q.has(qGrantTypeCaseInsensitive) && strings.EqualFold(gt, "client_credentials"):
	default:
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			description: "only grant_type=client_credentials is supported"}
	}

	scopes, scopeStr, oe := grantScopes(client, vals.Get("scope"), q)
	if oe != nil {
		return nil, oe
	}
	iss, err := s.issue(st, client, scopes, scopeStr)
	if err != nil {
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error", description: "token signing failed"}
	}
	iss.scoped = vals.Get("scope") != ""
	return iss, nil
}

// knownParam returns a parameter's name when it is one the endpoint knows, else "" (request
// data is never echoed).
func knownParam(k string) string {
	switch k {
	case "grant_type", "scope", "client_id", "client_secret":
		return k
	}
	return ""
}

// readTokenBody checks the Content-Type and reads the bounded form body.
func readTokenBody(w http.ResponseWriter, r *http.Request, q quirkSet, query url.Values) (url.Values, *oauthError) {
	ct := r.Header.Get("Content-Type")
	isForm := ct == formContentType
	isJSON := false
	if !isForm && !q.has(qStrictContentType) && ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			isForm = mt == formContentType
			isJSON = mt == "application/json"
		}
	} else if !isForm && strings.HasPrefix(ct, "application/json") {
		isJSON = true
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	body, err := readBounded(w, r, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			if q.has(qCrashOnLargeBody) {
				return nil, &oauthError{status: http.StatusInternalServerError, code: "invalid_request",
					description: "internal error", malformed: true}
			}
			return nil, &oauthError{status: http.StatusRequestEntityTooLarge, code: "invalid_request",
				description: "request body too large", malformed: true}
		}
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request",
			description: "could not read the request body", malformed: true}
	}
	if len(body) == 0 && !q.has(qGrantTypeOptional) && !(q.has(qGrantTypeFromQuery) && query.Has("grant_type")) {
		return nil, errInvalidRequest("empty body: send grant_type=client_credentials as a form")
	}
	if isJSON && q.has(qAcceptJSONBody) {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, errInvalidRequest("malformed JSON body")
		}
		vals := url.Values{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				vals.Set(k, s)
			}
		}
		return vals, nil
	}
	if !isForm && len(body) > 0 {
		return nil, errInvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("malformed form body")
	}
	return vals, nil
}

// readBounded appends the request body, at most maxTokenBody bytes, to buf.
func readBounded(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, error) {
	if r.Body == nil {
		return buf, nil
	}
	body := http.MaxBytesReader(w, r.Body, maxTokenBody)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var (
	errBasicEncoding = errors.New("malformed HTTP Basic credentials")
	errBasicNoColon  = errors.New("malformed HTTP Basic credentials: no colon between ID and secret")
)

// DecodeBasic reads HTTP Basic credentials, the part after the scheme (RFC 7617): ID and
// secret as sent (not form-decoded), or an error when they are not base64 or have no colon.
func DecodeBasic(cred string) (id, secret string, err error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", errBasicEncoding
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errBasicNoColon
	}
	return id, secret, nil
}

// authenticateClient finds the client the request authenticates as. On failure the client is
// the one the request named, when it names a known one (its counters get the rejection), or
// nil. secret is the secret the request presented ("" when none was read).
func (s *Server) authenticateClient(st *state, authz []string, vals, query url.Values) (*clientEntry, string, *oauthError) {
	q := st.quirks
	if len(authz) > 0 {
		scheme, rest, _ := strings.Cut(authz[0], " ")
		isBasic := strings.EqualFold(scheme, "Basic")
		if q.has(qCaseSensitiveBasic) {
			isBasic = scheme == "Basic"
		}
		if q.has(qBasicTwoSpellings) {
			isBasic = scheme == "Basic" || scheme == "basic"
		}
		if !isBasic {
			if q.has(qAcceptBearerOnToken) && strings.EqualFold(scheme, "Bearer") {
				return st.order[0], "", nil
			}
			if q.has(qAcceptAccessTokenOnToken) && strings.EqualFold(scheme, "Bearer") {
				if claims, ae := s.verifyToken(strings.TrimSpace(rest), st); ae == nil && st.clients[claims.Subject] != nil {
					return st.clients[claims.Subject], "", nil
				}
			}
			return nil, "", errInvalidClient("client authentication failed: use HTTP Basic")
		}
		loneSecretIgnored := q.has(qIgnoreLoneBodySecret) && !vals.Has("client_id")
		if vals.Has("client_secret") && !q.has(qAcceptBothAuth) && !loneSecretIgnored {
			return nil, "", errInvalidRequest("send client credentials once: HTTP Basic or the body, not both")
		}
		id, secret, err := DecodeBasic(rest)
		if errors.Is(err, errBasicEncoding) {
			if q.has(q5xxOnBadBasic) {
				return nil, "", &oauthError{status: http.StatusInternalServerError, code: "invalid_request",
					description: "internal error", malformed: true}
			}
			oe := errInvalidClient(err.Error())
			oe.malformed = true
			return nil, "", oe
		}
		if err != nil {
			if q.has(qAcceptNoColon) {
				return st.order[0], "", nil
			}
			oe := errInvalidClient(err.Error())
			oe.malformed = true
			return nil, "", oe
		}
		if q.has(qTrimSecret) {
			secret = strings.TrimSpace(secret)
		}
		c, oe := s.checkSecret(st, id, secret)
		if oe != nil {
			return c, secret, oe
		}
		if bid, ok := vals["client_id"]; ok && bid[0] != c.ID && bid[0] != id && !q.has(qIgnoreBodyClientID) {
			return c, secret, errInvalidRequest("client_id in the body differs from the authenticated client")
		}
		return c, secret, nil
	}
	if q.has(qAcceptQueryCredentials) && query.Has("client_id") {
		secret := query.Get("client_secret")
		c, oe := s.checkSecret(st, query.Get("client_id"), secret)
		return c, secret, oe
	}
	if vals.Has("client_secret") {
		return st.clients[vals.Get("client_id")], "",
			errInvalidClient("client_secret_post is not supported: authenticate with HTTP Basic")
	}
	if q.has(qAcceptNoCredentials) {
		return st.order[0], "", nil
	}
	return nil, "", errInvalidClient("client authentication required: use HTTP Basic")
}

// checkSecret authenticates id and secret, as sent or form-urldecoded (RFC 6749 §2.3.1), in
// time independent of the secret's length and of whether the client exists. It returns the
// client id names (nil when none), whether or not the secret matched: only a nil error
// authenticates it.
func (s *Server) checkSecret(st *state, id, secret string) (*clientEntry, *oauthError) {
	q := st.quirks
	decode := !q.has(qNoFormDecodeCredentials)
	if q.has(qEncodedCredentialsOnly) {
		// Only the decoded form counts: an ID or secret that does not decode is refused.
		did, ierr := url.QueryUnescape(id)
		ds, serr := url.QueryUnescape(secret)
		if ierr != nil || serr != nil {
			did, ds = "", "\x00not-a-secret"
		}
		id, secret, decode = did, ds, false
	}
	c := st.clients[id]
	if c == nil && decode {
		if did, err := url.QueryUnescape(id); err == nil && did != id {
			c = st.clients[did]
		}
	}
	want := &dummyHash
	if c != nil {
		want = &c.secretHash
	}
	got := sha256.Sum256([]byte(secret))
	ok := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	// decoded is the secret as the quirks compare it: form-urldecoded when it decodes. It is
	// decoded only when the raw form did not match (the common case pays nothing).
	decoded := secret
	if !ok && decode && strings.ContainsAny(secret, "%+") {
		if ds, err := url.QueryUnescape(secret); err == nil {
			decoded = ds
			got = sha256.Sum256([]byte(ds))
			ok = subtle.ConstantTimeCompare(got[:], want[:]) == 1
		}
	}
	if c != nil && !ok {
		switch {
		case q.has(qAcceptEmptySecret) && secret == "":
			ok = true
		case q.has(qWeakSecretCompare) && secret != "" && (weakEqual(secret, c.Secret) || weakEqual(decoded, c.Secret)):
			ok = true
		case q.has(qTrimSecret) && strings.TrimSpace(decoded) == c.Secret:
			ok = true // whitespace sent form-encoded ("+", "%09") is trimmed after decoding
		}
	}
	if c == nil || !ok {
		oe := errInvalidClient("client authentication failed")
		oe.unknown = c == nil
		return c, oe
	}
	return c, nil
}

// weakEqual is quirk weak-secret-compare: case-insensitive, either string a prefix of the other.
func weakEqual(got, want string) bool {
	g, w := strings.ToLower(got), strings.ToLower(want)
	return strings.HasPrefix(g, w) || strings.HasPrefix(w, g)
}

// grantScopes resolves the scope parameter against the client's scopes.
func grantScopes(c *clientEntry, param string, q quirkSet) ([]string, string, *oauthError) {
	if param == "" || q.has(qIgnoreScope) {
		return c.Scopes, c.defaultScope, nil
	}
	req := strings.Fields(param)
	out := make([]string, 0, len(req))
	seen := make(map[string]bool, len(req))
	for _, sc := range req {
		if !c.scopeSet[sc] {
			if q.has(qDropUnknownScope) {
				continue
			}
			return nil, "", &oauthError{status: http.StatusBadRequest, code: "invalid_scope",
				description: "the requested scope is not granted to this client"}
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return out, strings.Join(out, " "), nil
}

// writeTokenError writes an RFC 6749 §5.2 error.
func (s *Server) writeTokenError(w http.ResponseWriter, st *state, oe *oauthError, tr *tokenRequest) {
	q := st.quirks
	status := oe.status
	if oe.code == "invalid_client" && q.has(qStatus400ForBadClient) {
		status = http.StatusBadRequest
	}
	if oe.code == "invalid_client" && oe.status == http.StatusUnauthorized && !q.has(qNoWWWAuthenticate) {
		w.Header().Set("WWW-Authenticate", basicChallenge)
	}
	desc := oe.description
	if q.has(qEchoSecretInError) && tr.secret != "" {
		desc += " (client_secret " + tr.secret + ")"
	}
	clientStatus := ""
	if q.has(qEnumeratingErrors) && oe.code == "invalid_client" && oe.unknown {
		desc = "no such client"
		clientStatus = "unknown"
	}
	if q.has(qHTMLErrors) && oe.malformed {
		if ex := observed(w); ex != nil {
			ex.Error = oe.code
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
		if !q.has(qErrorsCacheable) {
			h["Cache-Control"] = hvNoStore
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<html><body><h1>"+strconv.Itoa(status)+" "+http.StatusText(status)+"</h1></body></html>\n")
		return
	}
	writeJSONErrorCaching(w, status, oe.code, desc, clientStatus, !q.has(qErrorsCacheable))
}

// writeJSONError writes {"error","error_description"} with no-store caching headers.
func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	writeJSONErrorCaching(w, status, code, desc, "", true)
}

// writeJSONErrorCaching writes {"error","error_description"}, with "client_status" when not
// empty (quirk enumerating-errors), and no-store caching headers when noStore.
func writeJSONErrorCaching(w http.ResponseWriter, status int, code, desc, clientStatus string, noStore bool) {
	if ex := observed(w); ex != nil {
		ex.Error = code
	}
	b, _ := json.Marshal(struct {
		ClientStatus string `json:"client_status,omitempty"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}{clientStatus, code, desc})
	h := w.Header()
	h["Content-Type"] = hvJSON
	if noStore {
		h["Cache-Control"] = hvNoStore
		h["Pragma"] = hvNoCache
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// issuedToken is one answer of the token endpoint.
type issuedToken struct {
	client    string // the client ID
	token     string
	scope     string // space-delimited
	expiresIn int64
	scoped    bool // the request had a scope parameter (quirks scoped-answer-cacheable, scoped-answer-sloppy)
}

// appendTokenResponse appends the JSON success body.
func appendTokenResponse(b []byte, q quirkSet, it *issuedToken) []byte {
	b = append(b, `{"access_token":"`...)
	b = append(b, it.token...)
	b = append(b, `","scope":"`...)
	if q.has(qScopeCommaDelimited) {
		b = append(b, strings.ReplaceAll(it.scope, " ", ",")...)
	} else {
		b = append(b, it.scope...)
	}
	b = append(b, `","token_type":"`...)
	if q.has(qTokenTypeWrong) || (q.has(qScopedAnswerSloppy) && it.scoped) {
		b = append(b, "JWT"...)
	} else {
		b = append(b, "Bearer"...)
	}
	b = append(b, `","expires_in":`...)
	switch {
	case q.has(qExpiresInString):
		b = append(b, '"')
		b = strconv.AppendInt(b, it.expiresIn, 10)
		b = append(b, '"')
	case q.has(qExpiresInFloat):
		b = strconv.AppendInt(b, it.expiresIn-1, 10)
		b = append(b, ".5"...)
	default:
		b = strconv.AppendInt(b, it.expiresIn, 10)
	}
	if q.has(qRefreshToken) || (q.has(qScopedAnswerSloppy) && it.scoped) {
		b = append(b, `,"refresh_token":"`...)
		b = append(b, uuid.NewString()...)
		b = append(b, '"')
	}
	return append(b, '}')
}
