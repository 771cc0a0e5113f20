package steps

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Requests to the token endpoint.

const formType = "application/x-www-form-urlencoded"
const validForm = "grant_type=client_credentials"

// tokenReq is a token request with the client's valid Basic credentials and a form body; the
// table entry that builds it says whether it is malformed.
func (r *runner) tokenReq(form string) request {
	return r.tokenReqAs(r.cfg.ClientID, form)
}

// tokenReqAs is tokenReq as client, one of the run's clients.
func (r *runner) tokenReqAs(client, form string) request {
	secret, _ := r.secretOf(client)
	return request{to: toToken, method: http.MethodPost, url: r.cfg.TokenURL, client: client,
		header: http.Header{"Authorization": {r.basicAs(client, client, secret)}, "Content-Type": {formType},
			"Accept": {"application/json"}},
		body: []byte(form)}
}

// tokenRequest is a named request to the token endpoint: the wording that asks for it (after
// "I "), whether it is deliberately not a valid request (HTTP-07 judges those for server
// errors), and how it is built from the wording's arguments. A build error is a precondition
// (a skip when the variant cannot be made for this client).
type tokenRequest struct {
	wording   string
	malformed bool
	build     func(s *scenario, args []string) (request, error)
}

// tokenRequests are the requests "When I ..." can send to the token endpoint. Every variant
// but the valid one is malformed: a form that is not exactly the valid one (an unknown
// parameter, a narrower scope) is something the endpoint must survive too.
var tokenRequests = []tokenRequest{
	{"request a token with valid credentials", false, form(validForm)},
	{`request a token with the form "([^"]*)" and the content type "([^"]*)"`, true, func(s *scenario, a []string) (request, error) {
		req := s.r.tokenReq(a[0])
		req.header.Set("Content-Type", a[1])
		return req, nil
	}},
	{`request a token with the form "([^"]*)"`, true, func(s *scenario, a []string) (request, error) { return s.r.tokenReq(a[0]), nil }},
	{`request a token with the JSON body (\{.*\})`, true, func(s *scenario, a []string) (request, error) {
		req := s.r.tokenReq(a[0])
		req.header.Set("Content-Type", "application/json")
		return req, nil
	}},
	{"request a token with an empty body", true, form("")},
	{"request a token with a form body of 1 MiB", true, func(s *scenario, _ []string) (request, error) {
		const size = 1 << 20
		f := validForm + "&padding="
		return s.r.tokenReq(f + strings.Repeat("a", size-len(f))), nil
	}},
	{"request a token without any credentials", true, func(s *scenario, _ []string) (request, error) {
		req := s.r.tokenReq(validForm)
		req.header.Del("Authorization")
		return req, nil
	}},
	{"request a token with a wrong secret", true, func(s *scenario, _ []string) (request, error) {
		return withAuthorization(s, s.r.basicAs(s.r.cfg.ClientID, s.r.cfg.ClientID, wrongSecret(s.r.cfg.ClientSecret))), nil
	}},
	{"request a token for an unknown client", true, func(s *scenario, _ []string) (request, error) {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return withAuthorization(s, s.r.basicAs(s.r.cfg.ClientID, "unknown-client-"+hex.EncodeToString(b[:]), wrongSecret(s.r.cfg.ClientSecret))), nil
	}},
	{`request a token with the Authorization header "([^"]*)"`, true, func(s *scenario, a []string) (request, error) {
		return withAuthorization(s, a[0]), nil
	}},
	{"request a token with Basic credentials that have no colon", true, func(s *scenario, _ []string) (request, error) {
		id, _ := encodeCredentials(s.r.formFor(s.r.cfg.ClientID), s.r.cfg.ClientID, "")
		return withAuthorization(s, "Basic "+base64.StdEncoding.EncodeToString([]byte(id))), nil
	}},
	{"request a token with an empty secret", true, func(s *scenario, _ []string) (request, error) {
		return withAuthorization(s, s.r.basicAs(s.r.cfg.ClientID, s.r.cfg.ClientID, "")), nil
	}},
	{`request a token with the scheme written "([^"]*)"`, true, func(s *scenario, a []string) (request, error) {
		c := s.r.cfg
		return withAuthorization(s, a[0]+" "+s.r.credential(c.ClientID, c.ClientID, c.ClientSecret)), nil
	}},
	{"request a token with the credentials form-encoded before base64", true, func(s *scenario, _ []string) (request, error) {
		id, secret := s.r.cfg.ClientID, s.r.cfg.ClientSecret
		encoded := basicIn(formEncoded, id, secret)
		if encoded == basicIn(formRaw, id, secret) {
			return request{}, skipf("form-encoding changes nothing in this client's ID and secret")
		}
		return withAuthorization(s, "Basic "+encoded), nil
	}},
	{"request a token with the client ID and secret in the URL query and no Authorization header", true, func(s *scenario, _ []string) (request, error) {
		c := s.r.cfg
		req := s.r.tokenReq(validForm)
		req.header.Del("Authorization")
		req.url = withQuery(c.TokenURL, url.Values{"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
		return req, nil
	}},
	{"request a token with valid credentials and the client secret also in the body", true, func(s *scenario, _ []string) (request, error) {
		c := s.r.cfg
		s.variant = "valid Basic plus the client's own client_id and client_secret in the body"
		return s.r.tokenReq(validForm + "&" + url.Values{"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}.Encode()), nil
	}},
	// Real servers get these two wrong: one ignores a wrong secret in the body when Basic is
	// valid, another issues a token for the Basic client whatever client_id the body names.
	{"request a token with valid credentials and a wrong client secret in the body", true, func(s *scenario, _ []string) (request, error) {
		s.variant = "valid Basic plus a wrong client_secret (and no client_id) in the body"
		return s.r.tokenReq(validForm + "&" + url.Values{"client_secret": {wrongSecret(s.r.cfg.ClientSecret)}}.Encode()), nil
	}},
	{"request a token with valid credentials and another client's ID in the body", true, func(s *scenario, _ []string) (request, error) {
		other := s.r.cfg.Client2ID
		if other == "" || other == s.r.cfg.ClientID {
			other = "another-client-for-conformance"
		}
		s.variant = "valid Basic plus another client's client_id in the body"
		return s.r.tokenReq(validForm + "&" + url.Values{"client_id": {other}}.Encode()), nil
	}},
	// AUTH-09: an access token this run obtained is no client credential either.
	{"request a token with that access token as a Bearer credential", true, func(s *scenario, _ []string) (request, error) {
		tok, err := s.token(false)
		if err != nil {
			return request{}, err
		}
		s.variant = "a valid access token of this run as Authorization: Bearer"
		return withAuthorization(s, "Bearer "+tok), nil
	}},
	{"request a token with the client ID and secret in the body only", true, func(s *scenario, _ []string) (request, error) {
		c := s.r.cfg
		req := s.r.tokenReq(validForm + "&" + url.Values{"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}.Encode())
		req.header.Del("Authorization")
		return req, nil
	}},
	{"request a token with the secret altered: " + secretChangeWordings(), true, func(s *scenario, a []string) (request, error) {
		alt, err := alterSecret(s.r.cfg.ClientSecret, a[0])
		if err != nil {
			return request{}, err
		}
		if alt == "" {
			return request{}, skipf("the secret has no letters whose case could be flipped")
		}
		// Registered with the redactor before it is sent, so no transcript can show it.
		s.r.red.AddCredential(s.r.cfg.ClientID, alt)
		s.variant = "the secret altered: " + a[0]
		return withAuthorization(s, s.r.basicAs(s.r.cfg.ClientID, s.r.cfg.ClientID, alt)), nil
	}},
	{"request a token with two Authorization headers", true, func(s *scenario, _ []string) (request, error) {
		c := s.r.cfg
		req := s.r.tokenReq(validForm)
		req.header["Authorization"] = []string{s.r.basicAs(c.ClientID, c.ClientID, c.ClientSecret), s.r.basicAs(c.ClientID, c.ClientID, wrongSecret(c.ClientSecret))}
		return req, nil
	}},
	{`send a (GET|POST|PUT|DELETE|PATCH) to the token endpoint with valid credentials and the query "([^"]*)"`, true, func(s *scenario, a []string) (request, error) {
		req := s.r.tokenReq("")
		req.method = a[0]
		req.body = nil
		req.header.Del("Content-Type")
		q, _ := url.ParseQuery(a[1])
		req.url = withQuery(s.r.cfg.TokenURL, q)
		return req, nil
	}},
	{`send a (GET|POST|PUT|DELETE|PATCH) to the token endpoint with valid credentials and the form "([^"]*)"`, true, func(s *scenario, a []string) (request, error) {
		req := s.r.tokenReq(a[1])
		req.method = a[0]
		return req, nil
	}},
	{`send a (GET|POST|PUT|DELETE|PATCH) to the token endpoint with valid credentials, the query "([^"]*)" and an empty body`, true, func(s *scenario, a []string) (request, error) {
		req := s.r.tokenReq("")
		req.method = a[0]
		q, _ := url.ParseQuery(a[1])
		req.url = withQuery(s.r.cfg.TokenURL, q)
		return req, nil
	}},
}

// tokenGrants are the valid token requests "Given I have ..." makes: the scenario cannot go on
// without the token (a precondition).
var tokenGrants = []struct {
	wording string
	what    string // "could not get <what>"
	build   func(s *scenario, args []string) (request, error)
}{
	{"a valid token", "a token", form(validForm)},
	{`a token with the scope "([^"]*)"`, "a token with the scope", func(s *scenario, a []string) (request, error) {
		if s.r.cfg.OtherScopeURL == "" {
			return request{}, skipf("needs an API that requires a scope other than %s: give --api-url-for SCOPE=URL (derbysoft: --api-url-for shopping=https://host/.../shopping)", a[0])
		}
		return s.r.tokenReq(validForm + "&scope=" + url.QueryEscape(a[0])), nil
	}},
	{answerGrant, "a successful token answer", form(validForm)},
}

// client2Req is the valid token request of the second client (CACHE-05).
func (r *runner) client2Req() request {
	return r.tokenReqAs(r.cfg.Client2ID, validForm)
}

// form builds the token request with the valid credentials of the scenario's client (the
// first, or the one it runs as: ownClient) and the given form.
func form(f string) func(s *scenario, _ []string) (request, error) {
	return func(s *scenario, _ []string) (request, error) { return s.r.tokenReqAs(s.client(), f), nil }
}

// withAuthorization is the valid token request with another Authorization header.
func withAuthorization(s *scenario, value string) request {
	req := s.r.tokenReq(validForm)
	req.header.Set("Authorization", value)
	return req
}

// wrongSecret is a secret that is certainly not the client's.
func wrongSecret(real string) string {
	w := "wrong-secret-for-conformance"
	if w == real {
		w += "-2"
	}
	return w
}

// secretChanges are the ways "the secret altered: ..." changes the client's secret.
var secretChanges = []struct {
	wording string
	change  func(secret string) string
}{
	{"one character changed", func(secret string) string {
		if secret == "" {
			return ""
		}
		b := []byte(secret)
		last := len(b) - 1
		if b[last] == 'x' {
			b[last] = 'y'
		} else {
			b[last] = 'x'
		}
		return string(b)
	}},
	{"one character removed", func(secret string) string {
		if secret == "" {
			return ""
		}
		return secret[:len(secret)-1]
	}},
	{"one character appended", func(secret string) string { return secret + "x" }},
	// A server that trims the secret (or the decoded Basic value) accepts these.
	{"a space appended", func(secret string) string { return secret + " " }},
	{"a tab prepended", func(secret string) string { return "\t" + secret }},
	{"its letter case flipped", func(secret string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsUpper(r) {
				return unicode.ToLower(r)
			}
			return unicode.ToUpper(r)
		}, secret)
	}},
}

// secretChangeWordings is the group of every secretChanges wording.
func secretChangeWordings() string {
	var ws []string
	for _, c := range secretChanges {
		ws = append(ws, regexp.QuoteMeta(c.wording))
	}
	return "(" + strings.Join(ws, "|") + ")"
}

// alterSecret returns the client's secret changed the named way, or "" when it cannot be
// changed that way; an unknown change is an error.
func alterSecret(secret, change string) (string, error) {
	for _, c := range secretChanges {
		if c.wording == change {
			if alt := c.change(secret); alt != secret {
				return alt, nil
			}
			return "", nil
		}
	}
	return "", fmt.Errorf("unknown change %q", change)
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

// send makes a request for the scenario and keeps its answer; a token it carries is held.
func send(ctx context.Context, req request) *exchange {
	s := stateOf(ctx)
	ex := s.record(s.r.rec.do(ctx, s.id, req))
	if tok, ok := ex.accessToken(); ok && tok != "" && ex.status/100 == 2 {
		s.tokens = append(s.tokens, heldToken{raw: tok, client: req.client, ex: ex})
	}
	return ex
}

// buildRequest builds the table's request for a wording as written.
func buildRequest(s *scenario, wording string) (request, error) {
	i, args, ok := tokenRequestWordings().match(wording)
	if !ok {
		return request{}, noWording(wording)
	}
	v := tokenRequests[i]
	req, err := v.build(s, args)
	// Only a request that is not a valid token request counts as malformed (HTTP-07): a valid
	// one written another legitimate way (lower-case basic, form-encoded credentials, a scope,
	// an unknown parameter, the content type's case) does not, whatever the table says.
	req.malformed = v.malformed && !s.r.wellFormed(req)
	if err == nil {
		err = s.r.baseline(s, req)
	}
	return req, err
}

var tokenRequestWordings = sync.OnceValue(func() *wordings {
	ws := make([]string, len(tokenRequests))
	for i, v := range tokenRequests {
		ws[i] = v.wording
	}
	return newWordings(ws)
})

var tokenGrantWordings = sync.OnceValue(func() *wordings {
	ws := make([]string, len(tokenGrants))
	for i, v := range tokenGrants {
		ws[i] = v.wording
	}
	return newWordings(ws)
})

// requestToken is "When I <request>": one request of the table.
func requestToken(ctx context.Context, wording string) error {
	s := stateOf(ctx)
	s.r.prepare(ctx, s, s.client())
	req, err := buildRequest(s, wording)
	if err != nil {
		return precondition(s, err)
	}
	send(ctx, req)
	return nil
}

// requestTokenRepeated is "When I <request> N times in a row|at once": the answers are the
// scenario's batch. Those sent at once are recorded, not held as the scenario's tokens.
func requestTokenRepeated(ctx context.Context, wording, times, how string) error {
	s := stateOf(ctx)
	n, err := strconv.Atoi(times)
	if err != nil {
		return fmt.Errorf("the harness expected a number of times, got %q", times)
	}
	s.r.prepare(ctx, s, "")
	reqs := make([]request, n)
	for i := range reqs {
		if reqs[i], err = buildRequest(s, wording); err != nil {
			return precondition(s, err)
		}
	}
	s.batch = nil
	if how == "in a row" {
		for _, req := range reqs {
			s.batch = append(s.batch, send(ctx, req))
		}
		return nil
	}
	exs := make([]*exchange, n)
	var wg sync.WaitGroup
	for i := range exs {
		wg.Go(func() { exs[i] = s.r.rec.do(ctx, s.id, reqs[i]) })
	}
	wg.Wait()
	s.batch = exs
	for _, ex := range exs {
		s.record(ex)
	}
	return nil
}

// haveToken is "Given I have <token>": a valid request whose token the scenario needs. A
// scenario running as the second client that cannot get it there runs on as the first, alone
// (aloneAsFirstClient).
func haveToken(ctx context.Context, wording string) error {
	s := stateOf(ctx)
	i, args, ok := tokenGrantWordings().match(wording)
	if !ok {
		return noWording(wording)
	}
	g := tokenGrants[i]
	answerOnly := g.wording == answerGrant
	s.r.prepare(ctx, s, s.client())
	err := getToken(ctx, s, g.build, args, g.what, answerOnly)
	if err != nil && s.as != "" {
		why := strings.TrimPrefix(err.Error(), "no token to judge: ")
		if p := s.r.finished(s.as); p != nil && !p.ok {
			why = "its valid token request got no 2xx answer (" + p.triedText() + ")"
		}
		if err = s.aloneAsFirstClient(ctx, why, 0); err == nil {
			err = getToken(ctx, s, g.build, args, g.what, answerOnly)
		}
	}
	if err != nil {
		return precondition(s, err)
	}
	return nil
}

// getToken sends the valid request build makes and says why it got no token (answerOnly: no
// 2xx) as a precondition's error.
func getToken(ctx context.Context, s *scenario, build func(*scenario, []string) (request, error), args []string, what string, answerOnly bool) error {
	req, err := build(s, args)
	if err == nil {
		err = s.r.baseline(s, req)
	}
	if err != nil {
		return err
	}
	if len(args) > 0 {
		what += " " + args[0]
	}
	ex := send(ctx, req)
	if _, ok := ex.accessToken(); (!ok && !answerOnly) || ex.status/100 != 2 {
		expected := "status 200 with an access_token"
		if answerOnly {
			expected = "a 2xx status"
		}
		return fmt.Errorf("no token to judge: could not get %s: expected %s, got %s", what, expected, ex.describe())
	}
	return nil
}
