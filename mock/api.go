package mock

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// apiEndpoint is one sample Ticket API operation and the scope it needs.
type apiEndpoint struct {
	path, method, scope string
	body                []byte // the canned answer
}

// apiEndpoints are the sample Ticket API (seed/derbysoft-context.md), with small canned data.
var apiEndpoints = []apiEndpoint{
	{path: "/products", method: http.MethodGet, scope: "product.all", body: []byte(`{"products":[` +
		`{"productId":"PRD-1001","name":"City Museum Day Pass","supplierId":"SUP-01","currency":"USD"},` +
		`{"productId":"PRD-1002","name":"Harbour Cruise","supplierId":"SUP-01","currency":"USD"},` +
		`{"productId":"PRD-2001","name":"Theme Park 2-Day Ticket","supplierId":"SUP-02","currency":"EUR"}]}`)},
	{path: "/shopping", method: http.MethodPost, scope: "shop.all", body: []byte(`{"productId":"PRD-1001",` +
		`"availabilities":[{"date":"2026-12-01","price":{"amount":25.00,"currency":"USD"},"available":true},` +
		`{"date":"2026-12-02","price":{"amount":25.00,"currency":"USD"},"available":false}]}`)},
	{path: "/livecheck", method: http.MethodPost, scope: "livecheck.all", body: []byte(`{"date":"2026-12-01",` +
		`"products":[{"productId":"PRD-1001","quantity":2,"available":true,"price":{"amount":50.00,"currency":"USD"}}]}`)},
	{path: "/reservations", method: http.MethodPost, scope: "reservation.all", body: []byte(`{"reservationId":"RSV-000042",` +
		`"status":"Confirmed","products":[{"productId":"PRD-1001","quantity":2}]}`)},
}

// maxAPIBody bounds a sample API request body.
const maxAPIBody = 1 << 20

// apiRealm names the protection space of the sample API.
const apiRealm = "ticket-api"

// apiError is an RFC 6750 answer with a DerbySoft body.
type apiError struct {
	status  int
	errCode string // RFC 6750 error for WWW-Authenticate; "" for a request with no token
	desc    string
	reason  string // metrics label
	invalid bool   // a token was presented and failed verification (quirk api-403-for-invalid)
}

// tokenClaims are the claims the sample API reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope scopeList `json:"scope"`
	Dis   string    `json:"dis,omitempty"`
}

// scopeList reads a scope claim written as a JSON array or a space-delimited string.
type scopeList []string

// UnmarshalJSON accepts ["a","b"] or "a b".
func (s *scopeList) UnmarshalJSON(b []byte) error {
	var arr []string
	if err := json.Unmarshal(b, &arr); err == nil {
		*s = arr
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return errors.New("scope claim is neither an array nor a string")
	}
	*s = strings.Fields(str)
	return nil
}

func (s *Server) apiHandler(ep apiEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() { s.metrics.apiLatency.Observe(since(start)) }()
		if r.Method != ep.method {
			w.Header().Set("Allow", ep.method)
			writeAPIBody(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use "+ep.method)
			return
		}
		st := s.st.Load()
		q := st.quirks
		if !q.has(qAPINoAuth) {
			c, claims, ae := s.authorizeBearer(r, st)
			if ex := observed(w); ex != nil && c != nil {
				ex.ClientID = c.ID
			}
			if ae == nil && !q.has(qAPINoScopeCheck) && !hasScope(claims.Scope, ep.scope) {
				ae = &apiError{status: http.StatusForbidden, errCode: "insufficient_scope",
					desc: "the token lacks scope " + ep.scope, reason: "insufficient_scope"}
			}
			if ae != nil {
				if c != nil {
					c.counters.rejections.Add(1)
				}
				s.metrics.rejection("api", ae.reason)
				if s.logOn {
					s.log.Info("API call refused", "path", ep.path, "status", ae.status, "reason", ae.reason)
				}
				writeAPIError(w, st.quirks, ae, ep.scope)
				return
			}
			if c != nil {
				c.counters.apiCalls.Add(1)
			}
		}
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxAPIBody))
		}
		h := w.Header()
		h["Content-Type"] = hvJSON
		if et := r.Header.Get("Echo-Token"); et != "" && len(et) <= 64 && isToken68(et) {
			h.Set("Echo-Token", et)
		}
		_, _ = w.Write(ep.body)
	})
}

func hasScope(have []string, want string) bool {
	for _, s := range have {
		if s == want {
			return true
		}
	}
	return false
}

// isToken68 reports whether s is an RFC 9110 token68 (the b64token of RFC 6750).
func isToken68(s string) bool {
	if s == "" {
		return false
	}
	i := len(s)
	for i > 0 && s[i-1] == '=' {
		i--
	}
	if i == 0 {
		return false
	}
	for _, c := range []byte(s[:i]) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}

var (
	errMissingToken = &apiError{status: http.StatusUnauthorized, desc: "an access token is required in the Authorization header (Bearer scheme)", reason: "missing_token"}
	// errInvalidAccessToken400 is how some APIs refuse a token: 400, no challenge error code
	// (quirks api-400-lowercase-bearer, api-400-for-valid-token).
	errInvalidAccessToken400 = &apiError{status: http.StatusBadRequest, desc: "invalid access token", reason: "invalid_access_token_400"}
	errNotBearer             = &apiError{status: http.StatusUnauthorized, errCode: "invalid_token", desc: "use Authorization: Bearer <access_token>", reason: "not_bearer"}
)

func invalidToken(desc, reason string) *apiError {
	return &apiError{status: http.StatusUnauthorized, errCode: "invalid_token", desc: desc, reason: reason, invalid: true}
}

// authorizeBearer finds and verifies the request's access token (RFC 6750 §2.1; the query and
// the body are never read for it).
func (s *Server) authorizeBearer(r *http.Request, st *state) (*clientEntry, *tokenClaims, *apiError) {
	q := st.quirks
	authz := r.Header.Values("Authorization")
	var tok string
	switch {
	case len(authz) == 0:
		if q.has(qAPIQueryToken) {
			tok = r.URL.Query().Get("access_token")
		}
		if tok == "" {
			return nil, nil, errMissingToken
		}
	case len(authz) > 1:
		return nil, nil, &apiError{status: http.StatusBadRequest, errCode: "invalid_request", desc: "more than one Authorization header", reason: "invalid_request"}
	default:
		scheme, rest, hasSpace := strings.Cut(authz[0], " ")
		bearer := strings.EqualFold(scheme, "Bearer")
		if q.has(qAPIRejectsLowercaseBearer) {
			bearer = scheme == "Bearer"
		}
		if q.has(qAPI400LowercaseBearer) && bearer && scheme != "Bearer" {
			return nil, nil, errInvalidAccessToken400
		}
		switch {
		case bearer && strings.TrimSpace(rest) == "" && q.has(qAPIEmptyBearerPasses):
			c := st.order[0]
			return c, &tokenClaims{Scope: c.Scopes}, nil
		case bearer && hasSpace:
			tok = strings.TrimLeft(rest, " ")
		case strings.EqualFold(scheme, "Basic") && q.has(qAPIAcceptsBasic):
			if c := s.basicClient(st, rest); c != nil {
				return c, &tokenClaims{Scope: c.Scopes}, nil
			}
			return nil, nil, errNotBearer
		case !hasSpace && q.has(qAPITokenWithoutScheme):
			tok = scheme
		default:
			return nil, nil, errNotBearer
		}
	}
	if q.has(qAPIRejectAll) {
		return nil, nil, invalidToken("the access token is invalid", "reject_all")
	}
	claims, ae := s.verifyToken(tok, st)
	c := st.clients[claims.Subject]
	if ae != nil {
		return c, nil, ae
	}
	if st.revokePrevious || q.has(qLateRevokePrevious) {
		if v, ok := s.latest.Load(claims.Subject); ok {
			if r := v.(revocation); r.jti != claims.ID && !s.clock.now().Before(r.at) {
				return c, nil, invalidToken("the access token was revoked by a newer one", "revoked")
			}
		}
	}
	if q.has(qAPI400ForValidToken) {
		return c, nil, errInvalidAccessToken400
	}
	if claims.Scope == nil && q.has(qNoScopeClaim) {
		if sc, ok := s.scopes.Load(tok); ok {
			claims.Scope = sc.([]string)
		}
	}
	return c, claims, nil
}

// basicClient is quirk api-accepts-basic: the client whose Basic credentials these are.
func (s *Server) basicClient(st *state, cred string) *clientEntry {
	id, secret, err := DecodeBasic(cred)
	if err != nil {
		return nil
	}
	c, oe := s.checkSecret(st, id, secret)
	if oe != nil {
		return nil
	}
	return c
}

// verifyToken checks a token's signature (RS256 with the mock's own keys only, unless a quirk
// says otherwise) and its claims (exp required and in the future, nbf not in the future, iss).
// It always returns non-nil claims (empty when the token could not be parsed).
func (s *Server) verifyToken(tok string, st *state) (*tokenClaims, *apiError) {
	q := st.quirks
	ks := s.keys.Load()
	claims := &tokenClaims{}
	if q.has(qOpaqueToken) {
		if v, ok := s.opaque.Load(tok); ok {
			e := v.(opaqueEntry)
			claims.Subject, claims.Scope = e.client, e.scopes
			if s.clock.now().Unix() >= e.exp && !q.has(qAPIIgnoreExpiry) {
				return claims, invalidToken("the access token expired", "expired")
			}
			return claims, nil
		}
	}
	if !isToken68(tok) && !q.has(qPaddedJWT) {
		return claims, invalidToken("the access token is malformed", "malformed")
	}
	jc := st.verifier
	if jc == nil { // a state that was never published (tests)
		jc = newJWTCheck(q, s.clock.now)
	}
	p := jc.parser
	var err error
	if q.has(qAPIAcceptsAlgNoneAnyCase) && noneInAnotherCase(tok) {
		claims, err = unsignedClaims(tok)
	} else if q.has(qAPINoSignatureCheck) || q.has(qAPIRS256Unverified) {
		var t *jwt.Token
		t, _, err = p.ParseUnverified(tok, claims)
		if err == nil && q.has(qAPIRS256Unverified) && !q.has(qAPINoSignatureCheck) {
			if alg, _ := t.Header["alg"].(string); alg != "RS256" {
				err = errors.New("alg is not RS256")
			}
		}
	} else {
		_, err = p.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
			return keyFor(t, ks, q)
		})
	}
	if err != nil {
		// Claims of a token that failed verification are not to be believed (nor counted).
		return &tokenClaims{}, invalidToken("the access token is invalid", "invalid_signature")
	}
	check := *claims
	if q.has(qNbfFuture) {
		check.NotBefore = nil
	}
	if q.has(qAPIIgnoreExpiry) {
		check.ExpiresAt = jwt.NewNumericDate(s.clock.now().Add(time.Hour))
	}
	if err := jc.validator.Validate(&check); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return claims, invalidToken("the access token expired", "expired")
		}
		return claims, invalidToken("the access token is not valid now or not for this API", "invalid_claims")
	}
	if claims.Subject == "" {
		return claims, invalidToken("the access token names no client", "invalid_claims")
	}
	return claims, nil
}

// jwtCheck is the sample API's JWT parser and claims validator for one quirk set. Both are safe
// for concurrent use, so each published state builds its own once (Server.publish) rather than
// every API call.
type jwtCheck struct {
	parser    *jwt.Parser
	validator *jwt.Validator
}

func newJWTCheck(q quirkSet, now func() time.Time) *jwtCheck {
	methods := []string{"RS256"}
	if q.has(qAlgHS256) || q.has(qAPIAcceptsHS256PublicKey) || q.has(qAPIKidNamesKeyFile) {
		methods = append(methods, "HS256")
	}
	if q.has(qAPIAcceptsAlgNone) {
		methods = append(methods, "none")
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithoutClaimsValidation()}
	if q.has(qPaddedJWT) {
		opts = append(opts, jwt.WithPaddingAllowed())
	}
	vopts := []jwt.ParserOption{jwt.WithTimeFunc(now), jwt.WithExpirationRequired()}
	if !q.has(qNoIss) {
		vopts = append(vopts, jwt.WithIssuer(Issuer))
	}
	return &jwtCheck{parser: jwt.NewParser(opts...), validator: jwt.NewValidator(vopts...)}
}

// keyFor picks the verification key for a parsed header.
func keyFor(t *jwt.Token, ks *keySet, q quirkSet) (any, error) {
	switch t.Method.Alg() {
	case "RS256":
		if pub := headerKey(t, q); pub != nil {
			return pub, nil
		}
		if kid, ok := t.Header["kid"].(string); ok {
			if k := ks.public[kid]; k != nil {
				return k, nil
			}
			return nil, errors.New("unknown kid")
		}
		set := jwt.VerificationKeySet{}
		for _, k := range ks.public {
			set.Keys = append(set.Keys, k)
		}
		return set, nil
	case "HS256":
		set := jwt.VerificationKeySet{}
		if q.has(qAlgHS256) {
			set.Keys = append(set.Keys, ks.current.hmacSecret)
		}
		if q.has(qAPIAcceptsHS256PublicKey) {
			for _, k := range ks.pubPEMs {
				set.Keys = append(set.Keys, k)
			}
		}
		if q.has(qAPIKidNamesKeyFile) {
			if k, ok := kidFileKey(t); ok {
				set.Keys = append(set.Keys, k)
			}
		}
		return set, nil
	case "none":
		if q.has(qAPIAcceptsAlgNone) {
			return jwt.UnsafeAllowNoneSignatureType, nil
		}
	}
	return nil, errors.New("algorithm not accepted")
}

// writeAPIError writes an RFC 6750 challenge and a DerbySoft error body.
func writeAPIError(w http.ResponseWriter, q quirkSet, ae *apiError, scope string) {
	status := ae.status
	if ae.invalid && q.has(qAPI403ForInvalid) {
		status = http.StatusForbidden
	}
	challenge := `Bearer realm="` + apiRealm + `"`
	if ae.errCode != "" && !(ae.invalid && q.has(qAPIInvalidTokenNoError)) {
		challenge += `, error="` + ae.errCode + `", error_description="` + ae.desc + `"`
		if ae.errCode == "insufficient_scope" {
			challenge += `, scope="` + scope + `"`
		}
	}
	if !(status == http.StatusUnauthorized && q.has(qAPINoWWWAuthenticate)) {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	code := "Unauthorized"
	switch status {
	case http.StatusForbidden:
		code = "Forbidden"
	case http.StatusBadRequest:
		code = "InvalidRequest"
	}
	writeAPIBody(w, status, code, ae.desc)
}

// writeAPIBody writes DerbySoft's {"errorCode","errorMessage"} error body.
func writeAPIBody(w http.ResponseWriter, status int, code, msg string) {
	if ex := observed(w); ex != nil {
		ex.Error = code
	}
	b, _ := json.Marshal(struct {
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	}{code, msg})
	h := w.Header()
	h["Content-Type"] = hvJSON
	h["Cache-Control"] = hvNoStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
