package steps

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"github.com/cucumber/godog"
)

// stepDef is one step definition: its pattern, compiled once per process, and its function.
type stepDef struct {
	re *regexp.Regexp
	fn any
}

// stepTable collects step definitions; it has the shape of godog's ScenarioContext.Step.
type stepTable []stepDef

// Step adds a step whose pattern is matched as written.
func (t *stepTable) Step(pattern string, fn any) {
	*t = append(*t, stepDef{regexp.MustCompile(pattern), fn})
}

// then adds an outcome step: it accepts the modifiers of parseModifiers in front of its wording.
func then(t *stepTable, pattern string, fn any) {
	t.Step(modifierPattern+pattern+`$`, fn)
}

// stepDefs is every step of the suite, compiled once: godog registers the steps of every
// scenario anew, and compiling their patterns each time would cost more than the HTTP.
var stepDefs = sync.OnceValue(func() stepTable {
	var t stepTable
	defineSteps(&t)
	return t
})

// registerSteps gives godog the suite's step definitions.
func registerSteps(sc *godog.ScenarioContext) {
	for _, d := range stepDefs() {
		sc.Step(d.re, d.fn)
	}
}

// defineSteps defines every step of the suite. Steps are few and general: a new check
// should usually need only new Gherkin.
func defineSteps(sc *stepTable) {
	// Token requests.
	sc.Step(`^I have a valid token$`, haveToken)
	sc.Step(`^I have a valid token as the second client$`, haveTokenClient2)
	sc.Step(`^I have a token with the scope "([^"]*)"$`, haveScopedToken)
	sc.Step(`^I request a token with valid credentials$`, requestValid)
	sc.Step(`^I request a token with valid credentials (\d+) times in a row$`, requestRepeated)
	sc.Step(`^I request a token with valid credentials (\d+) times at once$`, requestConcurrent)
	sc.Step(`^I request a token with the form "([^"]*)"$`, requestForm)
	sc.Step(`^I request a token with the form "([^"]*)" and the content type "([^"]*)"$`, requestFormContentType)
	sc.Step(`^I request a token with the JSON body (\{.*\})$`, requestJSON)
	sc.Step(`^I request a token with an empty body$`, requestEmptyBody)
	sc.Step(`^I request a token with a form body of 1 MiB$`, requestHugeBody)
	sc.Step(`^I request a token without any credentials$`, requestNoCredentials)
	sc.Step(`^I request a token with a wrong secret$`, requestWrongSecret)
	sc.Step(`^I request a token with a wrong secret (\d+) times in a row$`, requestWrongSecretRepeated)
	sc.Step(`^I request a token for an unknown client$`, requestUnknownClient)
	sc.Step(`^I request a token with the Authorization header "([^"]*)"$`, requestAuthorization)
	sc.Step(`^I request a token with Basic credentials that have no colon$`, requestNoColon)
	sc.Step(`^I request a token with an empty secret$`, requestEmptySecret)
	sc.Step(`^I request a token with the scheme written "([^"]*)"$`, requestScheme)
	sc.Step(`^I request a token with the credentials form-encoded before base64$`, requestFormEncodedCredentials)
	sc.Step(`^I request a token with the client ID and secret in the URL query and no Authorization header$`, requestQueryCredentials)
	sc.Step(`^I request a token with valid credentials and the client secret also in the body$`, requestBothAuth)
	sc.Step(`^I request a token with the client ID and secret in the body only$`, requestSecretPost)
	sc.Step(`^I request a token with the secret altered: (.+)$`, requestAlteredSecret)
	sc.Step(`^I request a token with two Authorization headers$`, requestTwoAuthorizations)
	sc.Step(`^I send a (GET|POST|PUT|DELETE|PATCH) to the token endpoint with valid credentials and the query "([^"]*)"$`, sendMethodQuery)
	sc.Step(`^I send a (GET|POST|PUT|DELETE|PATCH) to the token endpoint with valid credentials and the form "([^"]*)"$`, sendMethodForm)
	sc.Step(`^I send a POST to the token endpoint with valid credentials, the query "([^"]*)" and an empty body$`, sendQueryEmptyBody)

	// API calls.
	sc.Step(`^I call the API with (.+)$`, callAPIWith)
	sc.Step(`^I call the API without an Authorization header$`, callAPIWithoutAuthorization)
	sc.Step(`^I call an API that needs another scope with that token$`, callOtherScopeAPI)

	// Outcomes.
	then(sc, `the response status is (\d+)`, statusIs)
	then(sc, `the response status is (\d+) or (\d+)`, statusIsEither)
	then(sc, `the response status is (\d+) or another client error`, statusIsOrClientError)
	then(sc, `the response status is not a server error`, statusNot5xx)
	then(sc, `the response has no access token`, noToken)
	then(sc, `the response has an access token`, hasToken)
	then(sc, `the response has no field (\w+)`, noField)
	then(sc, `the error is (\w+)`, errorIs)
	then(sc, `the error is (\w+) or (\w+)`, errorIsEither)
	then(sc, `the body is a JSON object`, bodyIsObject)
	then(sc, `the field access_token is a non-empty string`, accessTokenNonEmpty)
	then(sc, `the field token_type is "([^"]*)" in any letter case`, tokenTypeIs)
	then(sc, `the field expires_in is a positive whole number of seconds`, expiresInPositive)
	then(sc, `the field expires_in is (\d+)`, expiresInIs)
	then(sc, `the field scope is absent or a space-delimited string`, scopeForm)
	then(sc, `the field scope holds "([^"]*)"`, scopeHolds)
	then(sc, `the granted scope is stated when it differs from "([^"]*)"`, grantedScopeStated)
	then(sc, `the response header ([\w-]+) is application/json`, headerIsJSON)
	then(sc, `the response header ([\w-]+) has ([\w-]+)`, headerHas)
	then(sc, `the response header WWW-Authenticate names the (\w+) scheme`, challengeScheme)
	then(sc, `the response header WWW-Authenticate has error "([^"]*)"`, challengeError)
	then(sc, `the response header ([\w-]+) is reported`, headerReported)
	then(sc, `the last two answers have the same status, error and body shape`, sameShape)
	then(sc, `whether the token endpoint accepted it is reported`, reportAccepted)
	then(sc, `whether the token endpoint throttled is reported`, reportThrottling)
	then(sc, `whether the tokens are reissued, cached or mixed is reported`, reportIssuance)
	then(sc, `every one of those answers has status 200 and an access token`, batchAllTokens)
	then(sc, `the API accepted the call`, apiAccepted)
	then(sc, `the two clients' tokens differ`, clientTokensDiffer)
	then(sc, `each token's sub and dis belong to its own client`, clientClaimsOwn)
	registerJWTSteps(sc)
	registerTransportSteps(sc)
	registerWholeRunSteps(sc)
}

// Requests to the token endpoint.

const formType = "application/x-www-form-urlencoded"
const validForm = "grant_type=client_credentials"

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// tokenReq is a token request with the client's valid Basic credentials and a form body.
func (r *runner) tokenReq(form string) request {
	return request{to: toToken, method: http.MethodPost, url: r.cfg.TokenURL, client: r.cfg.ClientID,
		header: http.Header{"Authorization": {basic(r.cfg.ClientID, r.cfg.ClientSecret)}, "Content-Type": {formType},
			"Accept": {"application/json"}},
		body: []byte(form), malformed: form != validForm}
}

// send makes a request for the scenario and keeps its answer; a token it carries is held.
func send(ctx context.Context, req request) *exchange {
	s := stateOf(ctx)
	ex := s.record(s.r.rec.do(ctx, s.id, req))
	if tok, ok := ex.accessToken(); ok && tok != "" && ex.status/100 == 2 {
		s.tokens = append(s.tokens, heldToken{raw: tok, client: req.client, ex: ex})
	}
	return ex
}

// sendSecret registers a secret the harness is about to send (a variant of the real one) with
// the redactor first, so no transcript can show it.
func sendSecret(ctx context.Context, id, secret string) {
	stateOf(ctx).r.red.AddCredential(id, secret)
}

func requestValid(ctx context.Context) error {
	send(ctx, stateOf(ctx).r.tokenReq(validForm))
	return nil
}

func obtain(ctx context.Context, req request, what string) error {
	s := stateOf(ctx)
	ex := send(ctx, req)
	if _, ok := ex.accessToken(); !ok || ex.status/100 != 2 {
		return precondition(s, fmt.Errorf("could not get %s: expected status 200 with an access_token, got %s", what, ex.describe()))
	}
	return nil
}

func haveToken(ctx context.Context) error {
	return obtain(ctx, stateOf(ctx).r.tokenReq(validForm), "a token")
}

func haveTokenClient2(ctx context.Context) error {
	r := stateOf(ctx).r
	req := r.tokenReq(validForm)
	req.client = r.cfg.Client2ID
	req.header.Set("Authorization", basic(r.cfg.Client2ID, r.cfg.Client2Secret))
	return obtain(ctx, req, "a token for the second client")
}

func haveScopedToken(ctx context.Context, scope string) error {
	s := stateOf(ctx)
	if s.r.cfg.OtherScopeURL == "" {
		return precondition(s, skipf("needs an API that requires a scope other than %s (known only for the embedded mock)", scope))
	}
	req := s.r.tokenReq(validForm + "&scope=" + url.QueryEscape(scope))
	req.malformed = false
	return obtain(ctx, req, "a token with the scope "+scope)
}

func requestRepeated(ctx context.Context, n int) error {
	s := stateOf(ctx)
	s.batch = nil
	for i := 0; i < n; i++ {
		s.batch = append(s.batch, send(ctx, s.r.tokenReq(validForm)))
	}
	return nil
}

func requestConcurrent(ctx context.Context, n int) error {
	s := stateOf(ctx)
	exs := make([]*exchange, n)
	var wg sync.WaitGroup
	for i := range exs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exs[i] = s.r.rec.do(ctx, s.id, s.r.tokenReq(validForm))
		}()
	}
	wg.Wait()
	s.batch = exs
	for _, ex := range exs {
		s.record(ex)
	}
	return nil
}

func requestForm(ctx context.Context, form string) error {
	send(ctx, stateOf(ctx).r.tokenReq(form))
	return nil
}

func requestFormContentType(ctx context.Context, form, ct string) error {
	req := stateOf(ctx).r.tokenReq(form)
	req.header.Set("Content-Type", ct)
	req.malformed = true
	send(ctx, req)
	return nil
}

func requestJSON(ctx context.Context, body string) error {
	req := stateOf(ctx).r.tokenReq(body)
	req.header.Set("Content-Type", "application/json")
	send(ctx, req)
	return nil
}

func requestEmptyBody(ctx context.Context) error {
	send(ctx, stateOf(ctx).r.tokenReq(""))
	return nil
}

func requestHugeBody(ctx context.Context) error {
	const size = 1 << 20
	form := validForm + "&padding="
	form += strings.Repeat("a", size-len(form))
	send(ctx, stateOf(ctx).r.tokenReq(form))
	return nil
}

func requestNoCredentials(ctx context.Context) error {
	req := stateOf(ctx).r.tokenReq(validForm)
	req.header.Del("Authorization")
	req.malformed = true
	send(ctx, req)
	return nil
}

// wrongSecret is a secret that is certainly not the client's.
func wrongSecret(real string) string {
	w := "wrong-secret-for-conformance"
	if w == real {
		w += "-2"
	}
	return w
}

func requestWrongSecret(ctx context.Context) error {
	r := stateOf(ctx).r
	return requestAuthorization(ctx, basic(r.cfg.ClientID, wrongSecret(r.cfg.ClientSecret)))
}

func requestWrongSecretRepeated(ctx context.Context, n int) error {
	s := stateOf(ctx)
	s.batch = nil
	for i := 0; i < n; i++ {
		req := s.r.tokenReq(validForm)
		req.header.Set("Authorization", basic(s.r.cfg.ClientID, wrongSecret(s.r.cfg.ClientSecret)))
		req.malformed = true
		s.batch = append(s.batch, send(ctx, req))
	}
	return nil
}

func requestUnknownClient(ctx context.Context) error {
	s := stateOf(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	req := s.r.tokenReq(validForm)
	req.header.Set("Authorization", basic("unknown-client-"+hex.EncodeToString(b[:]), wrongSecret(s.r.cfg.ClientSecret)))
	req.malformed = true
	send(ctx, req)
	return nil
}

func requestAuthorization(ctx context.Context, value string) error {
	req := stateOf(ctx).r.tokenReq(validForm)
	req.header.Set("Authorization", value)
	req.malformed = true
	send(ctx, req)
	return nil
}

func requestNoColon(ctx context.Context) error {
	return requestAuthorization(ctx, "Basic "+base64.StdEncoding.EncodeToString([]byte(stateOf(ctx).r.cfg.ClientID)))
}

func requestEmptySecret(ctx context.Context) error {
	return requestAuthorization(ctx, basic(stateOf(ctx).r.cfg.ClientID, ""))
}

func requestScheme(ctx context.Context, scheme string) error {
	r := stateOf(ctx).r
	return requestAuthorization(ctx, scheme+" "+base64.StdEncoding.EncodeToString([]byte(r.cfg.ClientID+":"+r.cfg.ClientSecret)))
}

func requestFormEncodedCredentials(ctx context.Context) error {
	s := stateOf(ctx)
	id, secret := url.QueryEscape(s.r.cfg.ClientID), url.QueryEscape(s.r.cfg.ClientSecret)
	if id == s.r.cfg.ClientID && secret == s.r.cfg.ClientSecret {
		return precondition(s, skipf("form-encoding changes nothing in this client's ID and secret"))
	}
	return requestAuthorization(ctx, basic(id, secret))
}

func requestQueryCredentials(ctx context.Context) error {
	r := stateOf(ctx).r
	req := r.tokenReq(validForm)
	req.header.Del("Authorization")
	req.url = withQuery(r.cfg.TokenURL, url.Values{"client_id": {r.cfg.ClientID}, "client_secret": {r.cfg.ClientSecret}})
	req.malformed = true
	send(ctx, req)
	return nil
}

func requestBothAuth(ctx context.Context) error {
	r := stateOf(ctx).r
	req := r.tokenReq(validForm + "&" + url.Values{"client_id": {r.cfg.ClientID}, "client_secret": {r.cfg.ClientSecret}}.Encode())
	send(ctx, req)
	return nil
}

func requestSecretPost(ctx context.Context) error {
	r := stateOf(ctx).r
	req := r.tokenReq(validForm + "&" + url.Values{"client_id": {r.cfg.ClientID}, "client_secret": {r.cfg.ClientSecret}}.Encode())
	req.header.Del("Authorization")
	send(ctx, req)
	return nil
}

// alterSecret returns the client's secret changed the named way, or "" when it cannot be
// changed that way; an unknown change is an error.
func alterSecret(secret, change string) (string, error) {
	var alt string
	switch change {
	case "one character changed":
		if secret == "" {
			break
		}
		b := []byte(secret)
		last := len(b) - 1
		if b[last] == 'x' {
			b[last] = 'y'
		} else {
			b[last] = 'x'
		}
		alt = string(b)
	case "one character removed":
		if secret != "" {
			alt = secret[:len(secret)-1]
		}
	case "one character appended":
		alt = secret + "x"
	case "its letter case flipped":
		alt = strings.Map(func(r rune) rune {
			if unicode.IsUpper(r) {
				return unicode.ToLower(r)
			}
			return unicode.ToUpper(r)
		}, secret)
	default:
		return "", fmt.Errorf("unknown change %q", change)
	}
	if alt == secret {
		return "", nil
	}
	return alt, nil
}

func requestAlteredSecret(ctx context.Context, change string) error {
	s := stateOf(ctx)
	alt, err := alterSecret(s.r.cfg.ClientSecret, change)
	if err != nil {
		return err
	}
	if alt == "" {
		return precondition(s, skipf("the secret has no letters whose case could be flipped"))
	}
	sendSecret(ctx, s.r.cfg.ClientID, alt)
	return requestAuthorization(ctx, basic(s.r.cfg.ClientID, alt))
}

func requestTwoAuthorizations(ctx context.Context) error {
	r := stateOf(ctx).r
	req := r.tokenReq(validForm)
	req.header["Authorization"] = []string{basic(r.cfg.ClientID, r.cfg.ClientSecret), basic(r.cfg.ClientID, wrongSecret(r.cfg.ClientSecret))}
	req.malformed = true
	send(ctx, req)
	return nil
}

func withQuery(raw string, q url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	v := u.Query()
	for k, vs := range q {
		v[k] = append(v[k], vs...)
	}
	u.RawQuery = v.Encode()
	return u.String()
}

func sendMethodQuery(ctx context.Context, method, query string) error {
	r := stateOf(ctx).r
	req := r.tokenReq("")
	req.method = method
	req.body = nil
	req.header.Del("Content-Type")
	q, _ := url.ParseQuery(query)
	req.url = withQuery(r.cfg.TokenURL, q)
	req.malformed = true
	send(ctx, req)
	return nil
}

func sendMethodForm(ctx context.Context, method, form string) error {
	req := stateOf(ctx).r.tokenReq(form)
	req.method = method
	req.malformed = true
	send(ctx, req)
	return nil
}

func sendQueryEmptyBody(ctx context.Context, query string) error {
	r := stateOf(ctx).r
	req := r.tokenReq("")
	q, _ := url.ParseQuery(query)
	req.url = withQuery(r.cfg.TokenURL, q)
	req.malformed = true
	send(ctx, req)
	return nil
}

// Calls to the API.

// apiReq is a GET of the API with the DerbySoft request headers and the given Authorization.
func (r *runner) apiReq(authorization string) request {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := http.Header{"Accept": {"application/json"}, "Echo-Token": {hex.EncodeToString(b[:])},
		"Distributor-Id": {r.cfg.ClientID}}
	if authorization != "" {
		h.Set("Authorization", authorization)
	}
	return request{to: toAPI, method: http.MethodGet, url: r.cfg.APIURL, header: h, client: r.cfg.ClientID,
		malformed: true}
}

// token returns the scenario's latest token (first: its first one).
func (s *scenario) token(first bool) (string, error) {
	if len(s.tokens) == 0 {
		return "", errors.New("no token was obtained in this scenario")
	}
	if first {
		return s.tokens[0].raw, nil
	}
	return s.tokens[len(s.tokens)-1].raw, nil
}

// callAPIWith calls the API with the token sent a named way. Forgeries with several variants
// (HS256 with each encoding of the key) make one call each; the most damning answer (an
// accepted one) is kept as the answer.
func callAPIWith(ctx context.Context, how string) error {
	s := stateOf(ctx)
	r := s.r
	if v, ok := strings.CutPrefix(how, `the Authorization header "`); ok && strings.HasSuffix(v, `"`) {
		send(ctx, r.apiReq(strings.TrimSuffix(v, `"`)))
		return nil
	}
	if how == "an expired token" {
		if r.cfg.Control == nil {
			return precondition(s, skipf("needs the mock's control API to mint an expired token"))
		}
		tok, err := r.cfg.Control.ExpiredToken(ctx, r.cfg.ClientID)
		if err != nil {
			return precondition(s, fmt.Errorf("could not mint an expired token: %v", err))
		}
		r.red.AddToken(tok)
		send(ctx, r.apiReq("Bearer "+tok))
		return nil
	}
	tok, err := s.token(how == "the first token")
	if err != nil {
		return precondition(s, err)
	}
	valid := r.apiReq("Bearer " + tok)
	switch how {
	case "the token", "the first token":
		valid.malformed = false
		send(ctx, valid)
		return nil
	case "the token but without the word Bearer":
		send(ctx, r.apiReq(tok))
		return nil
	case `the token and the scheme written "bearer"`:
		send(ctx, r.apiReq("bearer "+tok))
		return nil
	case "the client's Basic credentials":
		send(ctx, r.apiReq(basic(r.cfg.ClientID, r.cfg.ClientSecret)))
		return nil
	case "the token in the URL query and no Authorization header":
		req := r.apiReq("")
		req.url = withQuery(r.cfg.APIURL, url.Values{"access_token": {tok}})
		send(ctx, req)
		return nil
	}
	p, err := parseJWT(tok, false)
	if err != nil {
		return precondition(s, skipf("the access token is not a JWT (%v), so it cannot be altered as a JWT", err))
	}
	var forged []string
	switch how {
	case "the token, its signature altered":
		forged = []string{alterSignature(p)}
	case "the token, its claims altered and its signature kept":
		forged = []string{alterClaims(p)}
	case "the token, re-signed with alg none":
		forged = []string{algNone(p)}
	case "the token, re-signed with HS256 using the issuer's public key as the secret":
		keys, err := r.issuerKeys(ctx, s)
		if err != nil {
			return precondition(s, err)
		}
		pub, ok := keys.rsaKey(p.header)
		if !ok {
			return precondition(s, skipf("the issuer has no RSA public key to misuse as an HMAC secret"))
		}
		forged = hs256WithPublicKey(p, pub)
	case "the token, re-signed by a key the issuer never had":
		key, err := foreignKey()
		if err != nil {
			return precondition(s, fmt.Errorf("could not make a foreign key: %v", err))
		}
		f, err := foreignRS256(p, key)
		if err != nil {
			return precondition(s, err)
		}
		forged = []string{f}
	default:
		return fmt.Errorf("unknown way to call the API: %q", how)
	}
	var keep *exchange
	for _, f := range forged {
		ex := send(ctx, r.apiReq("Bearer "+f))
		if keep == nil || (ex.answered() && ex.status != http.StatusUnauthorized && keep.status == http.StatusUnauthorized) {
			keep = ex
		}
	}
	s.last = keep
	return nil
}

func callAPIWithoutAuthorization(ctx context.Context) error {
	send(ctx, stateOf(ctx).r.apiReq(""))
	return nil
}

func callOtherScopeAPI(ctx context.Context) error {
	s := stateOf(ctx)
	tok, err := s.token(false)
	if err != nil {
		return precondition(s, err)
	}
	req := s.r.apiReq("Bearer " + tok)
	req.method, req.url = http.MethodPost, s.r.cfg.OtherScopeURL
	req.header.Set("Content-Type", "application/json")
	req.body = []byte(`{"productId":"P001","dateRange":{"startDate":"2030-01-01","endDate":"2030-01-02"},"durationDays":1,"affiliation":"conformance"}`)
	send(ctx, req)
	return nil
}
