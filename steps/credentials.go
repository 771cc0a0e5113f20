package steps

import (
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// How the client's ID and secret are written inside HTTP Basic, found once per client and run.
//
// RFC 6749 §2.3.1 has the client form-urlencode its ID and secret before base64; the DerbySoft
// seed writes base64(client_id:client_secret) raw. The two differ for a secret such as
// "op:sec+ret %2F/&=1234", and a server that takes only one of them refuses the other with 401,
// which would turn every check that needs a token into a false failure. So the first request
// with a client's valid credentials tries the profile's form first (rfc6749: encoded; derbysoft:
// raw) and then the other; every later request of the run writes that client's credentials in
// the form that got a token. When neither did, the checks that need the valid credentials are
// skipped ("no token to judge"): only TOK-01 judges the valid request itself.

// answerGrant is the grant whose scenario judges the answer itself (TOK-02..10): a 2xx
// without an access_token is then the check's to judge, not a missing precondition.
const answerGrant = "a successful answer to a valid token request"

// credForm is a way of writing a client's ID and secret inside HTTP Basic.
type credForm int

const (
	formRaw     credForm = iota // the seed's base64(client_id:client_secret)
	formEncoded                 // RFC 6749 §2.3.1: each form-urlencoded, then base64
)

func (f credForm) String() string {
	if f == formEncoded {
		return "form-encoded (RFC 6749 §2.3.1)"
	}
	return "raw (the seed's base64(client_id:client_secret))"
}

// baselineCheck is the check that judges the valid token request itself: it runs and fails
// when no form of the credentials gets a token, where every other check that needs the valid
// credentials is skipped.
const baselineCheck = "TOK-01"

// credProbe is what the first valid requests of a client found. Its fields are written before
// done is closed and only read after.
type credProbe struct {
	done  chan struct{}
	same  bool     // both forms are the same bytes for this client: nothing to find
	form  credForm // the form every later request uses
	ok    bool     // a request in form was accepted (a 2xx: TOK-03 judges whether it holds a token)
	tried []formTry
}

// formTry is one form the probe sent and what came back.
type formTry struct {
	form credForm
	got  string // describe() of the answer
}

// credentials holds the run's probes, by client ID.
type credentials struct {
	mu     sync.Mutex
	probes map[string]*credProbe
}

// preferredForms is the order in which a profile tries the forms.
func preferredForms(profile string) []credForm {
	if profile == catalog.ProfileRFC6749 {
		return []credForm{formEncoded, formRaw}
	}
	return []credForm{formRaw, formEncoded}
}

// encodeCredentials writes id and secret in a form (without base64).
func encodeCredentials(f credForm, id, secret string) (string, string) {
	if f == formEncoded {
		return url.QueryEscape(id), url.QueryEscape(secret)
	}
	return id, secret
}

// basicIn is the Basic credential (after the scheme) of id and secret in a form.
func basicIn(f credForm, id, secret string) string {
	id, secret = encodeCredentials(f, id, secret)
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}

// secretOf is the configured secret of a client, and whether it is one of the run's clients.
func (r *runner) secretOf(client string) (string, bool) {
	switch {
	case client == "":
		return "", false
	case client == r.cfg.ClientID:
		return r.cfg.ClientSecret, true
	case client == r.cfg.Client2ID && r.cfg.Client2Secret != "":
		return r.cfg.Client2Secret, true
	}
	return "", false
}

// finished returns the client's probe when it has finished, else nil.
func (r *runner) finished(client string) *credProbe {
	r.creds.mu.Lock()
	p := r.creds.probes[client]
	r.creds.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p
	default:
		return nil
	}
}

// formFor is the form in which requests write client's credentials (or, for an ID that is not
// one of the run's clients, a wrong secret or an altered one: the first client's form, so that
// such a request differs from the valid one only in what it means to change).
func (r *runner) formFor(client string) credForm {
	if p := r.finished(client); p != nil {
		return p.form
	}
	if p := r.finished(r.cfg.ClientID); p != nil {
		return p.form
	}
	return preferredForms(r.cfg.Profile)[0]
}

// credential is the Basic credential (after the scheme) of id and secret, written in the form
// the run found for client.
func (r *runner) credential(client, id, secret string) string {
	return basicIn(r.formFor(client), id, secret)
}

// basicAs is the Authorization value of id and secret for client's requests.
func (r *runner) basicAs(client, id, secret string) string {
	return "Basic " + r.credential(client, id, secret)
}

// probeCredentials finds, once per run and client, which form of the client's credentials the
// token endpoint accepts (answers with a 2xx); concurrent scenarios wait for the first. The exchanges are the
// scenario's evidence (not its answers). A client that is not one of the run's is not probed.
func (r *runner) probeCredentials(ctx context.Context, s *scenario, client string) *credProbe {
	secret, known := r.secretOf(client)
	if !known {
		return nil
	}
	r.creds.mu.Lock()
	if r.creds.probes == nil {
		r.creds.probes = map[string]*credProbe{}
	}
	p := r.creds.probes[client]
	if p != nil {
		r.creds.mu.Unlock()
		select {
		case <-p.done:
		case <-ctx.Done():
			return nil
		}
		return p
	}
	p = &credProbe{done: make(chan struct{})}
	r.creds.probes[client] = p
	r.creds.mu.Unlock()
	defer close(p.done)

	forms := preferredForms(r.cfg.Profile)
	p.form = forms[0]
	if basicIn(formRaw, client, secret) == basicIn(formEncoded, client, secret) {
		p.same, forms = true, forms[:1]
	}
	for _, f := range forms {
		req := r.validRequestIn(f, client, secret)
		ex := r.rec.do(ctx, s.id, req)
		s.transcripts = append(s.transcripts, ex.file)
		ok := ex.status/100 == 2
		p.tried = append(p.tried, formTry{form: f, got: ex.describe()})
		if ok {
			p.form, p.ok = f, true
			break
		}
		if !ex.answered() {
			break // no answer says nothing about the form; the run reports the target down
		}
	}
	return p
}

// validRequestIn is the valid token request of client with its credentials in form f.
func (r *runner) validRequestIn(f credForm, client, secret string) request {
	return request{to: toToken, method: http.MethodPost, url: r.cfg.TokenURL, client: client,
		header: http.Header{"Authorization": {"Basic " + basicIn(f, client, secret)}, "Content-Type": {formType},
			"Accept": {"application/json"}},
		body: []byte(validForm)}
}

// noBaseline says why a probe found no token ("" when it did).
func (p *credProbe) noBaseline() string {
	if p == nil || p.ok {
		return ""
	}
	return "no token to judge: the valid token request got no 2xx answer (" + p.triedText() + "; see " + baselineCheck + ")"
}

// triedText says what each form the probe sent got.
func (p *credProbe) triedText() string {
	var got []string
	for _, t := range p.tried {
		got = append(got, fmt.Sprintf("%s credentials: %s", strings.SplitN(t.form.String(), " ", 2)[0], t.got))
	}
	return strings.Join(got, "; ")
}

// prepare probes the credentials a request of the scenario needs: the first client's (every
// token request is built from them) unless the scenario runs as a client of its own
// (ownClientCheck), and client's when it is another of the run's.
func (r *runner) prepare(ctx context.Context, s *scenario, client string) {
	if s.as == "" {
		r.probeCredentials(ctx, s, r.cfg.ClientID)
	}
	if client != "" && client != r.cfg.ClientID {
		r.probeCredentials(ctx, s, client)
	}
}

// baseline skips a request that presents one of the run's clients' valid credentials when no
// form of them got a token: whatever the endpoint answers then says nothing about what the
// check asks. The baseline check itself is judged, and so are the SEC checks: they judge the
// connection, whatever the answer.
func (r *runner) baseline(s *scenario, req request) error {
	if s.id == baselineCheck || s.check.Area == "SEC" {
		return nil
	}
	for _, client := range []string{r.cfg.ClientID, r.cfg.Client2ID} {
		secret, known := r.secretOf(client)
		if !known || (client != r.cfg.ClientID && req.client != client) {
			// The second client's probe judges only the requests made as that client (its
			// secret may be the first's): which probes have finished when another scenario's
			// request is built depends on timing.
			continue
		}
		p := r.finished(client)
		if why := p.noBaseline(); why != "" && presents(req, client, secret) {
			return skipf("%s", why)
		}
	}
	return nil
}

// presents reports whether req carries client's valid credentials, in either form, in an
// Authorization header (any scheme spelling), the form body or the query.
func presents(req request, client, secret string) bool {
	forms := []string{basicIn(formRaw, client, secret), basicIn(formEncoded, client, secret)}
	for _, v := range req.header.Values("Authorization") {
		if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok && (strings.TrimSpace(cred) == forms[0] || strings.TrimSpace(cred) == forms[1]) {
			return true
		}
	}
	if q, err := url.ParseQuery(string(req.body)); err == nil && q.Get("client_secret") == secret {
		return true
	}
	if u, err := url.Parse(req.url); err == nil && u.Query().Get("client_secret") == secret {
		return true
	}
	return false
}

// maxWellFormedBody is the largest form body counted as a well-formed token request: a valid
// one is a few dozen bytes, and HTTP-04's 1 MiB body is one the endpoint should refuse.
const maxWellFormedBody = 8 << 10

// wellFormed reports whether req is a valid client-credentials token request written in one
// of the ways the RFCs allow (the scheme in any case, the credentials raw or form-encoded, an
// unknown parameter, a scope, the content type in any case and with parameters): HTTP-07
// counts only the requests that are not, so a server error to a valid request is judged by
// the check that sent it, not as a malformed request's.
func (r *runner) wellFormed(req request) bool {
	if req.to != toToken || req.method != http.MethodPost || req.url != r.cfg.TokenURL || len(req.body) > maxWellFormedBody {
		return false
	}
	if ct := req.header.Values("Content-Type"); len(ct) != 1 {
		return false
	} else if mt, _, err := mime.ParseMediaType(ct[0]); err != nil || mt != formType {
		return false
	}
	auth := req.header.Values("Authorization")
	if len(auth) != 1 {
		return false
	}
	scheme, cred, _ := strings.Cut(auth[0], " ")
	if !strings.EqualFold(scheme, "Basic") {
		return false
	}
	valid := false
	for _, client := range []string{r.cfg.ClientID, r.cfg.Client2ID} {
		if secret, known := r.secretOf(client); known && (cred == basicIn(formRaw, client, secret) || cred == basicIn(formEncoded, client, secret)) {
			valid = true
		}
	}
	if !valid {
		return false
	}
	q, err := url.ParseQuery(string(req.body))
	if err != nil {
		return false
	}
	for k, vs := range q {
		if len(vs) != 1 || k == "client_id" || k == "client_secret" {
			return false
		}
	}
	return q.Get("grant_type") == "client_credentials"
}

// AUTH-18: which form of the credentials the token endpoint accepts.

func registerCredentialSteps(t *stepTable) {
	t.Step(`^I request a token with the credentials raw and form-encoded before base64$`, requestBothForms)
	outcomeFamily(t, "", []outcomeEntry{
		{"which form of the credentials the token endpoint accepts is reported", args0(reportForms)},
		{"the credentials as the seed writes them were accepted", args0(rawFormAccepted)},
	})
}

// requestBothForms sends the valid token request with the first client's credentials raw,
// then form-encoded.
func requestBothForms(ctx context.Context) error {
	s := stateOf(ctx)
	c := s.r.cfg
	p := s.r.probeCredentials(ctx, s, c.ClientID)
	if p == nil {
		return precondition(s, fmt.Errorf("the run ended before the credentials were tried"))
	}
	if p.same {
		return precondition(s, skipf("form-encoding changes nothing in this client's ID and secret: both forms are one request"))
	}
	s.forms = map[credForm]*exchange{}
	for _, f := range []credForm{formRaw, formEncoded} {
		req := s.r.validRequestIn(f, c.ClientID, c.ClientSecret)
		if err := s.r.baseline(s, req); err != nil {
			return precondition(s, err)
		}
		s.forms[f] = send(ctx, req)
	}
	return nil
}

// gotToken reports whether an answer is a success with an access token.
func gotToken(ex *exchange) bool {
	tok, ok := ex.accessToken()
	return ok && tok != "" && ex.status/100 == 2
}

func reportForms(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		if len(s.forms) != 2 {
			return fmt.Errorf("the harness sent no credentials in both forms before this step")
		}
		raw, enc := gotToken(s.forms[formRaw]), gotToken(s.forms[formEncoded])
		var what string
		switch {
		case raw && enc:
			what = "both forms of the credentials, raw (the seed's) and form-encoded (RFC 6749 §2.3.1)"
		case raw:
			what = "only the raw credentials (the seed's base64(client_id:client_secret)); form-encoded: " + s.forms[formEncoded].describe()
		case enc:
			what = "only the form-encoded credentials (RFC 6749 §2.3.1); raw: " + s.forms[formRaw].describe()
		default:
			what = "neither form of the credentials (raw: " + s.forms[formRaw].describe() + "; form-encoded: " + s.forms[formEncoded].describe() + ")"
		}
		s.note("the token endpoint accepts %s; the run sent the credentials %s", what, s.r.formFor(s.r.cfg.ClientID))
		return nil
	})
}

func rawFormAccepted(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex := s.forms[formRaw]
		if ex == nil {
			return fmt.Errorf("the harness sent no raw credentials before this step")
		}
		if !gotToken(ex) {
			return fmt.Errorf("expected the credentials as the seed writes them, base64(client_id:client_secret), to get a token, got %s", ex.describe())
		}
		return nil
	})
}
