package steps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// Calls to the API.

// apiReq is a GET of the API with the DerbySoft request headers and the given Authorization.
func (r *runner) apiReq(authorization string) request {
	return r.apiReqAs(r.cfg.ClientID, authorization)
}

// apiReqAs is apiReq as client, one of the run's clients: the DerbySoft header names it.
func (r *runner) apiReqAs(client, authorization string) request {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := http.Header{"Accept": {"application/json"}, "Echo-Token": {hex.EncodeToString(b[:])},
		"Distributor-Id": {client}}
	if authorization != "" {
		h.Set("Authorization", authorization)
	}
	return request{to: toAPI, method: http.MethodGet, url: r.cfg.APIURL, header: h, client: client}
}

// apiReq is the API call of the scenario's client (the first, or the one it runs as).
func (s *scenario) apiReq(authorization string) request {
	return s.r.apiReqAs(s.client(), authorization)
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

// apiCall is a named way of calling the API (the wording after "I call "): whether it is
// deliberately not a valid call (HTTP-07) and the requests it makes. A forgery with several
// variants (HS256 with each encoding of the key) makes one request each. A build error is a
// precondition.
type apiCall struct {
	wording   string
	malformed bool
	build     func(ctx context.Context, s *scenario, args []string) ([]request, error)
}

var apiCalls = []apiCall{
	{"the API with the token", false, withToken(false, func(s *scenario, tok string) request { return s.apiReq("Bearer " + tok) })},
	{firstTokenCall, false, withToken(true, func(s *scenario, tok string) request { return s.apiReq("Bearer " + tok) })},
	{`the API with the first token again, (\d+) seconds? later`, false, firstTokenLater},
	{"the API with the token but without the word Bearer", true, withToken(false, func(s *scenario, tok string) request { return s.apiReq(tok) })},
	// The scheme in another letter case is a valid call (RFC 9110 §11.1): only another scheme
	// counts as malformed for HTTP-07.
	{`the API with the token and the scheme written "([^"]*)"`, false, func(_ context.Context, s *scenario, a []string) ([]request, error) {
		tok, err := s.token(false)
		if err != nil {
			return nil, err
		}
		s.variant = "the scheme written " + strconv.Quote(a[0])
		req := s.apiReq(a[0] + " " + tok)
		req.malformed = !strings.EqualFold(a[0], "Bearer")
		return []request{req}, nil
	}},
	{"the API with the client's Basic credentials", true, withToken(false, func(s *scenario, _ string) request {
		return s.apiReq(s.r.basicAs(s.r.cfg.ClientID, s.r.cfg.ClientID, s.r.cfg.ClientSecret))
	})},
	{"the API with the token in the URL query and no Authorization header", true, withToken(false, func(s *scenario, tok string) request {
		req := s.apiReq("")
		req.url = withQuery(s.r.cfg.APIURL, url.Values{"access_token": {tok}})
		return req
	})},
	{`the API with the Authorization header "([^"]*)"`, true, func(_ context.Context, s *scenario, a []string) ([]request, error) {
		return []request{s.apiReq(a[0])}, nil
	}},
	{"the API with an expired token", true, func(ctx context.Context, s *scenario, _ []string) ([]request, error) {
		r := s.r
		if r.cfg.Control == nil {
			t := r.stored
			if t.Token == "" {
				return nil, skipf("%s", r.storedWhy)
			}
			s.note("presented %s, kept by --token-store: obtained %s, expired %s", redact.Fingerprint(t.Token),
				t.Obtained.UTC().Format(time.RFC3339), t.Expires.UTC().Format(time.RFC3339))
			return []request{r.apiReq("Bearer " + t.Token)}, nil
		}
		if err := r.rec.acquire(ctx); err != nil { // the control API is a request in flight too
			return nil, err
		}
		tok, err := r.cfg.Control.ExpiredToken(ctx, r.cfg.ClientID)
		r.rec.release()
		if err != nil {
			return nil, fmt.Errorf("could not mint an expired token: %v", err)
		}
		r.red.AddToken(tok)
		return []request{r.apiReq("Bearer " + tok)}, nil
	}},
	{"the API with the token, its signature altered", true, forged(func(_ context.Context, _ *scenario, p *jwtParts) ([]string, error) {
		return []string{alterSignature(p)}, nil
	})},
	{"the API with the token, its claims altered and its signature kept", true, forged(func(_ context.Context, _ *scenario, p *jwtParts) ([]string, error) {
		return []string{alterClaims(p)}, nil
	})},
	{"the API with the token, re-signed with alg none", true, forged(func(_ context.Context, s *scenario, p *jwtParts) ([]string, error) {
		// A verifier that compares alg with "none" exactly, and then looks the algorithm up
		// case-insensitively, accepts "None": every spelling is sent.
		var toks []string
		for _, alg := range algNoneSpellings {
			toks = append(toks, algNoneAs(p, alg))
			s.variants = append(s.variants, "re-signed with alg "+strconv.Quote(alg))
		}
		return toks, nil
	})},
	{"the API with the token, re-signed with HS256 using the issuer's public key as the secret", true, forged(func(ctx context.Context, s *scenario, p *jwtParts) ([]string, error) {
		keys, err := s.r.issuerKeys(ctx, s)
		if err != nil {
			return nil, err
		}
		pub, ok := keys.rsaKey(p.header)
		if !ok {
			return nil, skipf("the issuer has no RSA public key to misuse as an HMAC secret")
		}
		return hs256WithPublicKey(p, pub), nil
	})},
	{"the API with the token, re-signed by a key the issuer never had", true, forged(func(_ context.Context, s *scenario, p *jwtParts) ([]string, error) {
		toks, names, err := foreignForgeries(s.r, p)
		s.variants = names
		return toks, err
	})},
	{"the API without an Authorization header", true, func(_ context.Context, s *scenario, _ []string) ([]request, error) {
		return []request{s.apiReq("")}, nil
	}},
	{"an API that needs another scope with that token", true, withToken(false, func(s *scenario, tok string) request {
		req := s.apiReq("Bearer " + tok)
		req.method, req.url = http.MethodPost, s.r.cfg.OtherScopeURL
		req.header.Set("Content-Type", "application/json")
		req.body = []byte(`{"productId":"P001","dateRange":{"startDate":"2030-01-01","endDate":"2030-01-02"},"durationDays":1,"affiliation":"conformance"}`)
		return req
	})},
}

// withToken is a call with the scenario's latest (or first) token, sent as build says.
func withToken(first bool, build func(s *scenario, tok string) request) func(context.Context, *scenario, []string) ([]request, error) {
	return func(_ context.Context, s *scenario, _ []string) ([]request, error) {
		tok, err := s.token(first)
		if err != nil {
			return nil, err
		}
		return []request{build(s, tok)}, nil
	}
}

// forged is a call with forgeries of the scenario's latest token, sent as Bearer tokens; a
// token that is not a JWT cannot be forged as one, and the check is skipped.
func forged(forge func(ctx context.Context, s *scenario, p *jwtParts) ([]string, error)) func(context.Context, *scenario, []string) ([]request, error) {
	return func(ctx context.Context, s *scenario, _ []string) ([]request, error) {
		tok, err := s.token(false)
		if err != nil {
			return nil, err
		}
		p, err := parseJWT(tok, false)
		if err != nil {
			return nil, skipf("the access token is not a JWT (%v), so it cannot be altered as a JWT", err)
		}
		fs, err := forge(ctx, s, p)
		if err != nil {
			return nil, err
		}
		var reqs []request
		for _, f := range fs {
			reqs = append(reqs, s.apiReq("Bearer "+f))
		}
		return reqs, nil
	}
}

// baselineCalls are the calls whose expectation is "accepted" by comparison (BEARER-05,
// CACHE-03): before each, the same call is made with "Bearer <the latest token>", and the
// API must answer the call as it answered that one (a 2xx where that got a 2xx).
var baselineCalls = map[string]bool{
	`the API with the token and the scheme written "([^"]*)"`: true,
	firstTokenCall: true,
}

var apiCallWordings = sync.OnceValue(func() *wordings {
	ws := make([]string, len(apiCalls))
	for i, c := range apiCalls {
		ws[i] = c.wording
	}
	return newWordings(ws)
})

// callAPI is "When I call <call>": the call's requests are sent in turn and the most damning
// answer (an accepted one) is kept as the scenario's answer. A scenario running as the second
// client whose newest token the API refuses runs on as the first, alone (aloneAsFirstClient),
// and calls again.
func callAPI(ctx context.Context, wording string) error {
	s := stateOf(ctx)
	i, args, ok := apiCallWordings().match(wording)
	if !ok {
		return noWording(wording)
	}
	c := apiCalls[i]
	err := sendCall(ctx, s, c, args)
	if s.as != "" {
		why := ""
		var none noNewerToken
		switch b := s.baseline; {
		case errors.As(err, &none):
			why = "it got no newer token (" + none.got + ")"
		case err == nil && b != nil && b.answered() && b.status/100 != 2:
			why = "the API did not accept its newest token (" + b.describe() + apiMessage(b) + ")"
		}
		if why != "" {
			if err = s.aloneAsFirstClient(ctx, why, firstTokenCallTokens); err == nil {
				err = sendCall(ctx, s, c, args)
			}
		}
	}
	if err != nil {
		return precondition(s, err)
	}
	return nil
}

// firstTokenCall is the call that presents the scenario's first token after a newer one was
// issued (CACHE-03): it needs both, and is compared with the same call with the newer one.
const (
	firstTokenCall       = "the API with the first token"
	firstTokenCallTokens = 2
)

// noNewerToken is why firstTokenCall cannot be made: the request for a newer token got none
// (got describes its answer), so there is nothing to compare the first token with.
type noNewerToken struct{ got string }

func (e noNewerToken) Error() string {
	return "no token to judge: the request for a newer token got none (" + e.got + ")"
}

// sendCall makes an API call's requests, and its baseline call when it has one.
func sendCall(ctx context.Context, s *scenario, c apiCall, args []string) error {
	if c.wording == firstTokenCall && len(s.tokens) < firstTokenCallTokens {
		got := "no request"
		if s.last != nil {
			got = s.last.describe()
		}
		return noNewerToken{got}
	}
	s.variants = nil
	reqs, err := c.build(ctx, s, args)
	if err != nil {
		return err
	}
	s.baseline = nil
	var baseline chan *exchange
	if baselineCalls[c.wording] {
		tok, err := s.token(false)
		if err != nil {
			return err
		}
		// The baseline goes at the same moment as the call: both present tokens already
		// issued, so neither's answer depends on the other's (one round trip, not two).
		base := s.apiReq("Bearer " + tok)
		baseline = make(chan *exchange, 1)
		go func() { baseline <- s.r.rec.do(ctx, s.id, base) }()
	}
	var keep *exchange
	for i, req := range reqs {
		req.malformed = req.malformed || c.malformed
		ex := send(ctx, req)
		if keep == nil || (ex.answered() && ex.status != http.StatusUnauthorized && keep.status == http.StatusUnauthorized) {
			keep = ex
			if len(s.variants) == len(reqs) {
				s.variant = s.variants[i]
			}
		}
	}
	if baseline != nil {
		s.baseline = s.record(<-baseline)
	}
	s.last = keep
	return nil
}
