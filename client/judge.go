package client

import (
	"context"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cucumber/godog"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// outcome is one session's run: the session (its records) and how COMMAND ended.
type outcome struct {
	def      sessionDef
	s        *session // nil when the session could not start
	startErr error
	// started and ended bound the session (under --serve: its phase); proc is how COMMAND
	// ended (nil under --serve).
	started, ended time.Time
	proc           *procResult
	// phase keeps only the records of one phase (under --serve, where sessions share a mock).
	phase string

	once sync.Once
	all  []record // the phase's records, read once when judging starts
}

// recs is the session's records from the given origin ("" = all).
func (o *outcome) recs(origin string) []record {
	if o.s == nil {
		return nil
	}
	o.once.Do(func() {
		for _, r := range o.s.records() {
			if o.phase == "" || r.Phase == o.phase {
				o.all = append(o.all, r)
			}
		}
	})
	if origin == "" {
		return o.all
	}
	var out []record
	for _, r := range o.all {
		if r.Origin == origin {
			out = append(out, r)
		}
	}
	return out
}

func (o *outcome) count(endpoint string) int {
	if o.s == nil {
		return 0
	}
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	if o.phase != "" {
		return o.s.counts[o.phase+"/"+endpoint]
	}
	return o.s.counts[endpoint]
}

// ended says how COMMAND ended when it ended on its own before it was stopped, else "".
func (o *outcome) exit(j *judge) string {
	switch {
	case o.startErr != nil:
		return "could not be started: " + j.red.String(o.startErr.Error())
	case o.proc == nil:
		return ""
	case o.proc.exited:
		return o.proc.describe(j.red)
	}
	return ""
}

// dropped is how many of the session's exchanges were only counted, not kept (recordBudget).
func (o *outcome) dropped() int { return o.count(droppedKey) }

// droppedNote says, for a verdict, which of its sessions kept only their first exchanges,
// because the run's budget of records ran out; "" when none did.
func droppedNote(outs []*outcome) string {
	var parts []string
	budget := 0
	for _, o := range outs {
		if d := o.dropped(); d > 0 {
			kept := len(o.recs(""))
			parts = append(parts, fmt.Sprintf("the %s session kept its first %d of %d exchanges", o.def.name, kept, kept+d))
			budget = o.s.budget.total
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("records dropped: the run keeps at most %d exchanges in all; %s and only counted the rest, so this verdict judges the kept ones (counts include all)",
		budget, strings.Join(parts, "; "))
}

func filter(rs []record, keep func(*record) bool) []record {
	var out []record
	for i := range rs {
		if keep(&rs[i]) {
			out = append(out, rs[i])
		}
	}
	return out
}

func isToken(r *record) bool { return r.Endpoint == "token" }
func isAPI(r *record) bool   { return r.Endpoint == "api" }
func ok2xx(r *record) bool   { return r.Status >= 200 && r.Status < 300 }

// scenarioState is one check's judgement in progress.
type scenarioState struct {
	id      string
	level   catalog.Level
	outs    []*outcome
	fails   []string
	notes   []string
	cites   []cite
	started time.Time
	missing string // a session it needs did not run
}

// cite names one record of one session for the check's transcripts.
type cite struct {
	sess string
	seq  int
}

func (st *scenarioState) fail(format string, args ...any) {
	st.fails = append(st.fails, fmt.Sprintf(format, args...))
}

func (st *scenarioState) note(format string, args ...any) {
	st.notes = append(st.notes, fmt.Sprintf(format, args...))
}

func (st *scenarioState) cite(o *outcome, rs ...record) {
	for i, r := range rs {
		if i >= 3 {
			return
		}
		st.cites = append(st.cites, cite{o.def.name, r.Seq})
	}
}

type stateKey struct{}

func stateOf(ctx context.Context) *scenarioState {
	s, _ := ctx.Value(stateKey{}).(*scenarioState)
	return s
}

// step wraps a judgement over the scenario's state as a godog step.
func step(f func(*scenarioState) error) func(context.Context) error {
	return func(ctx context.Context) error { return f(stateOf(ctx)) }
}

// registerSteps binds the client suite's generic steps.
func (j *judge) registerSteps(sc *godog.ScenarioContext) {
	sc.Step(`^the "([^"]+)" session$`, func(ctx context.Context, name string) error {
		st := stateOf(ctx)
		o, ok := j.outcomes[name]
		if !ok {
			if _, known := lookupSession(name); !known {
				return fmt.Errorf("unknown session %q", name)
			}
			st.missing = name
			return godog.ErrSkip
		}
		st.outs = append(st.outs, o)
		return nil
	})
	sc.Step(`^every session$`, func(ctx context.Context) error {
		st := stateOf(ctx)
		for _, d := range sessionDefs {
			if o, ok := j.outcomes[d.name]; ok {
				st.outs = append(st.outs, o)
			}
		}
		return nil
	})
	sc.Step(`^the client made token requests$`, step(j.made(isToken, "token request")))
	sc.Step(`^the client made API calls$`, step(j.made(isAPI, "API call")))
	sc.Step(`^the client kept calling the API until it was stopped$`, step(j.keptCalling))
	sc.Step(`^every token request is a POST to the token URL$`, step(j.tokenPOST))
	sc.Step(`^every token request has the content type "([^"]+)"$`, func(ctx context.Context, ct string) error { return j.tokenContentType(stateOf(ctx), ct) })
	sc.Step(`^every token request body has grant_type=client_credentials$`, step(j.tokenGrant))
	sc.Step(`^every token request carries the credentials in HTTP Basic only$`, step(j.basicOnly))
	sc.Step(`^no API call carries the client's credentials$`, step(j.noCredentialsAtAPI))
	sc.Step(`^how the client encodes its secret in HTTP Basic is noted$`, step(j.secretEncoding))
	sc.Step(`^token fetches are at most the token lifetimes spanned plus (\d+)$`, func(ctx context.Context, n int) error { return j.fetchesBounded(stateOf(ctx), n) })
	sc.Step(`^no API call presents a token more than (\d+) s after it expired$`, func(ctx context.Context, n int) error { return j.noExpiredToken(stateOf(ctx), n) })
	sc.Step(`^no API call is rejected because its token expired$`, step(j.noRejectedExpired))
	sc.Step(`^each new token is fetched before the previous one expires$`, step(j.refreshEarly))
	sc.Step(`^every API call carries exactly one "Authorization: Bearer <token>" header$`, step(j.bearerHeader))
	sc.Step(`^no URL carries a token$`, step(j.noTokenInURL))
	sc.Step(`^after the first rejected API call the client fetches a new token and an API call succeeds within (\d+) s$`, func(ctx context.Context, n int) error { return j.recovers(stateOf(ctx), n) })
	sc.Step(`^the token request rate stays at most (\d+) per second over any (\d+) s$`, func(ctx context.Context, n, w int) error { return j.tokenRate(stateOf(ctx), n, w) })
	sc.Step(`^no token request is sent before the Retry-After elapsed$`, step(j.honoursRetryAfter))
	sc.Step(`^the client gets a token again and an API call succeeds$`, step(j.recoversAfterSpell))
	sc.Step(`^the client was seen calling the API in parallel this is a SHOULD, otherwise INFO$`, step(j.levelByConcurrency))
	sc.Step(`^at most one token request is sent before the first token arrives$`, step(j.oneColdFetch))
	sc.Step(`^no two token requests are in flight at once$`, step(j.noOverlappingFetches))
	sc.Step(`^no credential reaches the harness$`, step(j.noCredentialReceived))
	sc.Step(`^it is noted whether the client worked in the "([^"]+)" session$`, func(ctx context.Context, name string) error { return j.notedWorked(stateOf(ctx), name) })
	sc.Step(`^the other origin receives no credential$`, step(j.otherOriginClean))
	sc.Step(`^every API call carries an? "([^"]+)" header$`, func(ctx context.Context, h string) error { return j.apiHeader(stateOf(ctx), h, false) })
	sc.Step(`^every API call carries an? "([^"]+)" header unique per request$`, func(ctx context.Context, h string) error { return j.apiHeader(stateOf(ctx), h, true) })
	sc.Step(`^the token fetches per hour with 8-hour tokens are noted$`, step(j.noteFetchRate))
	sc.Step(`^the API calls and their latency are noted$`, step(j.noteLatency))
}

// exitNote says, for a failure, that the client ended on its own in a session.
func (j *judge) exitNote(st *scenarioState) string {
	var parts []string
	for _, o := range st.outs {
		if e := o.exit(j); e != "" {
			parts = append(parts, "in the "+o.def.name+" session the client "+e)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// made judges that the client sent at least one exchange of a kind (what names it) in the
// scenario's sessions.
func (j *judge) made(kind func(*record) bool, what string) func(*scenarioState) error {
	return func(st *scenarioState) error {
		n := 0
		for _, o := range st.outs {
			n += len(filter(o.recs("main"), kind))
		}
		if n == 0 {
			st.fail("the client made no %s%s", what, j.exitNote(st))
		}
		return nil
	}
}

func (j *judge) keptCalling(st *scenarioState) error {
	for _, o := range st.outs {
		if e := o.exit(j); e != "" {
			st.fail("the client %s, before the %s session ended", e, o.def.name)
			continue
		}
		api := filter(o.recs("main"), isAPI)
		good := filter(api, ok2xx)
		switch {
		case len(api) == 0:
			st.fail("in the %s session the client made no API call", o.def.name)
		case len(good) == 0:
			st.fail("in the %s session none of the client's %d API calls succeeded (first: status %d)", o.def.name, len(api), api[0].Status)
			st.cite(o, api[0])
		}
	}
	return nil
}

func (j *judge) tokenPOST(st *scenarioState) error {
	for _, o := range st.outs {
		bad := filter(o.recs("main"), func(r *record) bool { return isToken(r) && r.Method != http.MethodPost })
		if len(bad) > 0 {
			st.fail("%d token requests in the %s session were %s, not POST", len(bad), o.def.name, bad[0].Method)
			st.cite(o, bad...)
		}
	}
	return nil
}

func (j *judge) tokenContentType(st *scenarioState, want string) error {
	for _, o := range st.outs {
		bad := filter(o.recs("main"), func(r *record) bool {
			if !isToken(r) || r.Method != http.MethodPost {
				return false
			}
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			return err != nil || !strings.EqualFold(mt, want)
		})
		if len(bad) > 0 {
			st.fail("%d token requests in the %s session had Content-Type %q, not %s", len(bad), o.def.name, clip(j.red.String(bad[0].Header.Get("Content-Type")), 60), want)
			st.cite(o, bad...)
		}
	}
	return nil
}

func (j *judge) tokenGrant(st *scenarioState) error {
	for _, o := range st.outs {
		bad := filter(o.recs("main"), func(r *record) bool {
			if !isToken(r) || r.Method != http.MethodPost || (r.Observed && len(r.Body) == 0 && r.Status >= 400) {
				return false // the mock refused it before reading the body: nothing to judge
			}
			v, err := url.ParseQuery(string(r.Body))
			return err != nil || len(v["grant_type"]) != 1 || v.Get("grant_type") != "client_credentials"
		})
		if len(bad) > 0 {
			st.fail("%d token requests in the %s session had no single grant_type=client_credentials in the body (first body: %q)", len(bad), o.def.name, clip(j.red.String(string(bad[0].Body)), 80))
			st.cite(o, bad...)
		}
	}
	return nil
}

// credentialIn reports where, if anywhere, a request carries client credentials outside an
// Authorization: Basic header: "query", "body" or "".
func (j *judge) credentialIn(o *outcome, r *record) string {
	q, _ := url.ParseQuery(r.RawQuery)
	if q.Has("client_secret") || q.Has("client_id") || j.holdsSecret(o, r.RawQuery) {
		return "the query string"
	}
	b, _ := url.ParseQuery(string(r.Body))
	if b.Has("client_secret") || j.holdsSecret(o, string(r.Body)) {
		return "the body"
	}
	return ""
}

// holdsSecret reports whether s holds the session's secret, raw or percent-encoded.
func (j *judge) holdsSecret(o *outcome, s string) bool {
	if o.s == nil || s == "" {
		return false
	}
	sec := o.s.secret
	return strings.Contains(s, sec) || strings.Contains(s, url.QueryEscape(sec)) || strings.Contains(s, url.PathEscape(sec))
}

func (j *judge) basicOnly(st *scenarioState) error {
	for _, o := range st.outs {
		var noBasic, elsewhere []record
		where := ""
		for _, r := range filter(o.recs("main"), isToken) {
			if w := j.credentialIn(o, &r); w != "" {
				elsewhere = append(elsewhere, r)
				where = w
			}
			if r.SecretForm == "" {
				noBasic = append(noBasic, r)
			}
		}
		if len(elsewhere) > 0 {
			st.fail("%d token requests in the %s session carried credentials in %s", len(elsewhere), o.def.name, where)
			st.cite(o, elsewhere...)
		}
		if len(noBasic) > 0 {
			st.fail("%d token requests in the %s session had no Authorization: Basic header", len(noBasic), o.def.name)
			st.cite(o, noBasic...)
		}
	}
	return nil
}

func (j *judge) noCredentialsAtAPI(st *scenarioState) error {
	for _, o := range st.outs {
		bad := filter(o.recs("main"), func(r *record) bool {
			if isToken(r) {
				return false
			}
			if r.SecretForm != "" || j.credentialIn(o, r) != "" {
				return true
			}
			for _, vs := range r.Header {
				for _, v := range vs {
					if j.holdsSecret(o, v) {
						return true
					}
				}
			}
			return false
		})
		if len(bad) > 0 {
			st.fail("%d requests to the API in the %s session carried the client's credentials (first: %s %s)", len(bad), o.def.name, bad[0].Method, bad[0].Path)
			st.cite(o, bad...)
		}
	}
	return nil
}

func (j *judge) secretEncoding(st *scenarioState) error {
	for _, o := range st.outs {
		forms := map[string]int{}
		for _, r := range filter(o.recs("main"), isToken) {
			if r.SecretForm != "" {
				forms[r.SecretForm]++
			}
		}
		switch {
		case forms["form-encoded"] > 0 && forms["as is"] == 0:
			st.note("the client form-encodes the secret before base64 (RFC 6749 §2.3.1): %d token requests", forms["form-encoded"])
		case forms["as is"] > 0 && forms["form-encoded"] == 0:
			st.note("the client sends the secret as is inside base64 (the seed's base64(client_id:client_secret)): %d token requests; a server that form-decodes as RFC 6749 §2.3.1 says would refuse a secret holding '+' or '%%'", forms["as is"])
		case len(forms) > 0:
			st.note("secret encodings seen: %s", fmtCounts(forms))
		}
		if forms["wrong"] > 0 {
			st.fail("%d token requests in the %s session carried a secret that is not the client's, in either encoding", forms["wrong"], o.def.name)
		}
	}
	return nil
}

// span is the part of a session the client was active in: from its first token request to
// its last exchange.
func span(rs []record) (time.Time, time.Time, bool) {
	var first, last time.Time
	for _, r := range rs {
		if first.IsZero() && isToken(&r) {
			first = r.Start
		}
		if r.End.After(last) {
			last = r.End
		}
	}
	return first, last, !first.IsZero() && last.After(first)
}

func (j *judge) fetchesBounded(st *scenarioState, extra int) error {
	for _, o := range st.outs {
		rs := o.recs("main")
		first, last, ok := span(rs)
		if !ok {
			st.fail("in the %s session the client fetched no token%s", o.def.name, j.exitNote(st))
			continue
		}
		lifetimes := int(math.Ceil(last.Sub(first).Seconds() / o.def.ttl.Seconds()))
		fetches := o.count("token")
		// A client that refreshes ahead of expiry, as CLIENT-06 wants, starts a new token every
		// 70-80% of a lifetime (tokencache: 75-80% of the lifetime less a tenth for clock skew),
		// so over many lifetimes it fetches more than one per lifetime. Reuse is a token kept
		// for at least half its lifetime: one fetch per half lifetime spanned, plus extra.
		allowed := int(math.Ceil(last.Sub(first).Seconds()/(o.def.ttl.Seconds()/2))) + extra
		if fetches > allowed {
			st.fail("%d token fetches over %d lifetimes of %s (%.1f s): at most %d allowed (one per half lifetime, plus %d)", fetches, lifetimes, o.def.ttl, last.Sub(first).Seconds(), allowed, extra)
			st.cite(o, filter(rs, isToken)...)
		} else {
			st.note("%d token fetches over %d lifetimes of %s in the %s session", fetches, lifetimes, o.def.ttl, o.def.name)
		}
		if lifetimes < 2 {
			st.fail("in the %s session the client was active for %.1f s only, less than two token lifetimes: its token reuse could not be judged%s", o.def.name, last.Sub(first).Seconds(), j.exitNote(st))
		}
	}
	return nil
}

func (j *judge) noExpiredToken(st *scenarioState, grace int) error {
	g := time.Duration(grace) * time.Second
	for _, o := range st.outs {
		var bad []record
		var worst time.Duration
		for _, r := range filter(o.recs("main"), isAPI) {
			if r.TokenExpiry.IsZero() {
				continue
			}
			if late := r.Start.Sub(r.TokenExpiry); late > g {
				bad = append(bad, r)
				worst = max(worst, late)
			}
		}
		if len(bad) > 0 {
			st.fail("%d API calls in the %s session presented a token up to %.1f s after it expired (expires_in was %d s; at most %d s of grace)", len(bad), o.def.name, worst.Seconds(), int(o.def.ttl.Seconds()), grace)
			st.cite(o, bad...)
		}
	}
	return nil
}

func (j *judge) noRejectedExpired(st *scenarioState) error {
	for _, o := range st.outs {
		bad := filter(o.recs("main"), func(r *record) bool {
			return isAPI(r) && r.Status == http.StatusUnauthorized && !r.TokenExpiry.IsZero() && !r.Start.Before(r.TokenExpiry)
		})
		if len(bad) > 0 {
			st.fail("%d API calls in the %s session were rejected because the token had expired", len(bad), o.def.name)
			st.cite(o, bad...)
		}
	}
	return nil
}

// issuedTokens are the session's successful token answers in order.
func issuedTokens(rs []record) []record {
	return filter(rs, func(r *record) bool { return isToken(r) && r.IssuedToken != "" })
}

func (j *judge) refreshEarly(st *scenarioState) error {
	for _, o := range st.outs {
		toks := issuedTokens(o.recs("main"))
		if len(toks) < 2 {
			st.fail("in the %s session the client fetched %d token(s) over %.0f s of tokens lasting %s: it never refreshed", o.def.name, len(toks), o.ended.Sub(o.started).Seconds(), o.def.ttl)
			continue
		}
		var late []record
		for i := 1; i < len(toks); i++ {
			prev := toks[i-1].TokenExpiry
			if !prev.IsZero() && !toks[i].Start.Before(prev) {
				late = append(late, toks[i])
			}
		}
		if len(late) > 0 {
			st.fail("%d of %d new tokens in the %s session were fetched only after the previous one had expired", len(late), len(toks)-1, o.def.name)
			st.cite(o, late...)
		}
	}
	return nil
}

// bearerRe is one Authorization value of RFC 6750 §2.1: the scheme, one space, a b64token.
var bearerRe = regexp.MustCompile(`^(?i:bearer) [A-Za-z0-9\-._~+/]+=*$`)

func (j *judge) bearerHeader(st *scenarioState) error {
	for _, o := range st.outs {
		rs := o.recs("main")
		known := o.s.issuedTokens()
		var bad []record
		why := ""
		for _, r := range filter(rs, isAPI) {
			v := r.Header.Values("Authorization")
			switch {
			case len(v) == 0:
				why = "no Authorization header"
			case len(v) > 1:
				why = fmt.Sprintf("%d Authorization headers", len(v))
			case !bearerRe.MatchString(v[0]):
				why = "an Authorization header that is not \"Bearer <token>\" (" + clip(j.red.Header("Authorization", v[0]), 40) + ")"
			case o.def.tls == tlsOff && !known[mock.BearerToken(r.Header)]:
				why = "a token the harness did not issue in this session"
			default:
				continue
			}
			bad = append(bad, r)
		}
		if len(bad) > 0 {
			st.fail("%d API calls in the %s session had %s", len(bad), o.def.name, why)
			st.cite(o, bad...)
		}
	}
	return nil
}

func (j *judge) noTokenInURL(st *scenarioState) error {
	for _, o := range st.outs {
		rs := o.recs("")
		var toks []string
		for _, r := range issuedTokens(rs) {
			toks = append(toks, r.IssuedToken)
		}
		bad := filter(rs, func(r *record) bool {
			u := r.Path + "?" + r.RawQuery
			if q, _ := url.ParseQuery(r.RawQuery); q.Has("access_token") {
				return true
			}
			for _, t := range toks {
				if strings.Contains(u, t) || strings.Contains(u, url.QueryEscape(t)) {
					return true
				}
			}
			return false
		})
		if len(bad) > 0 {
			st.fail("%d requests in the %s session carried a token in the URL", len(bad), o.def.name)
			st.cite(o, bad...)
		}
	}
	return nil
}

func (j *judge) recovers(st *scenarioState, within int) error {
	lim := time.Duration(within) * time.Second
	for _, o := range st.outs {
		rs := o.recs("main")
		var rejected *record
		for i := range rs {
			if isAPI(&rs[i]) && rs[i].ByHarness && rs[i].Status == http.StatusUnauthorized {
				rejected = &rs[i]
				break
			}
		}
		if rejected == nil {
			// A client whose tokens all post-date the revocation (one that fetches per call)
			// never presents a revoked token: there is nothing to recover from.
			revokeAt := o.started.Add(o.def.revokeAfter)
			if after := filter(rs, func(r *record) bool { return isAPI(r) && ok2xx(r) && r.Start.After(revokeAt) }); len(after) > 0 {
				st.note("in the %s session the client never presented a revoked token; %d API calls succeeded after the revocation at %s", o.def.name, len(after), o.def.revokeAfter)
				continue
			}
			st.fail("in the %s session the client made no API call after the revocation at %s%s", o.def.name, o.def.revokeAfter, j.exitNote(st))
			continue
		}
		var fetched, success *record
		for i := range rs {
			r := &rs[i]
			if r.Start.Before(rejected.End) {
				continue
			}
			if fetched == nil && isToken(r) && r.IssuedToken != "" {
				fetched = r
			}
			if fetched != nil && isAPI(r) && ok2xx(r) {
				success = r
				break
			}
		}
		switch {
		case fetched == nil:
			st.fail("after its token was rejected (401 invalid_token) the client fetched no new token in %.1f s%s", o.ended.Sub(rejected.End).Seconds(), j.exitNote(st))
			st.cite(o, *rejected)
		case success == nil:
			st.fail("after its token was rejected the client fetched a new token but no API call succeeded in %.1f s%s", o.ended.Sub(rejected.End).Seconds(), j.exitNote(st))
			st.cite(o, *rejected, *fetched)
		case success.End.Sub(rejected.End) > lim:
			st.fail("after its token was rejected the client's API calls succeeded again only %.1f s later (at most %d s)", success.End.Sub(rejected.End).Seconds(), within)
			st.cite(o, *rejected, *fetched, *success)
		default:
			st.note("recovered %.2f s after the first 401 invalid_token", success.End.Sub(rejected.End).Seconds())
			st.cite(o, *rejected, *fetched, *success)
		}
	}
	return nil
}

// maxInWindow is the most of the times that fall in any window of length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	sort.Slice(ts, func(a, b int) bool { return ts[a].Before(ts[b]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// tokenRate bounds the token request rate over sliding windows of w seconds: a window, not a
// single second, so that a burst at cold start (several workers, one retry each) is not taken
// for a storm, while a retry loop (hundreds a second) is.
func (j *judge) tokenRate(st *scenarioState, perSec, w int) error {
	win := time.Duration(w) * time.Second
	limit := perSec * w
	for _, o := range st.outs {
		toks := filter(o.recs("main"), isToken)
		var ts []time.Time
		for _, r := range toks {
			// While the endpoint is unavailable the rate judged is the client's retries, not
			// that of its normal work once the endpoint is back (a fetch-per-call client's
			// traffic, which CLIENT-04 judges, and which depends on the machine's speed).
			if o.def.unavailable > 0 && !r.Start.Before(o.started.Add(o.def.unavailable)) {
				continue
			}
			ts = append(ts, r.Start)
		}
		peak := maxInWindow(ts, win)
		total := o.count("token")
		span := o.ended.Sub(o.started)
		secs := span.Seconds()
		// The peak is over the kept records only. When the run's budget ran out, the total still
		// counts every request: more than the limit for each window the session spans means
		// some window held more (judged only where the whole session is, not a spell of it).
		windows := int((span + win - 1) / win)
		if peak > limit || (o.def.unavailable == 0 && total > limit*max(windows, 1)) {
			st.fail("up to %d token requests in %d s in the %s session (%d in %.1f s): at most %d per second allowed", peak, w, o.def.name, total, secs, perSec)
			st.cite(o, toks...)
		} else {
			st.note("at most %d token requests in any %d s (%d in %.1f s, %d API calls)", peak, w, total, secs, o.count("api"))
		}
	}
	return nil
}

func (j *judge) honoursRetryAfter(st *scenarioState) error {
	for _, o := range st.outs {
		toks := filter(o.recs("main"), isToken)
		var first *record
		for i := range toks {
			if toks[i].Status == http.StatusTooManyRequests {
				first = &toks[i]
				break
			}
		}
		if first == nil {
			st.fail("the client made no token request in the %s session%s", o.def.name, j.exitNote(st))
			continue
		}
		until := first.Start.Add(o.def.retryAfter)
		// The Retry-After was whole seconds counted from the answer; 100 ms of slack for the
		// scheduler of a busy machine.
		slack := 100 * time.Millisecond
		var early []record
		for _, r := range toks {
			if r.Seq != first.Seq && r.Start.After(first.End) && r.Start.Before(until.Add(-slack)) {
				early = append(early, r)
			}
		}
		if len(early) > 0 {
			st.fail("%d token requests within the %s of Retry-After: %d (the first %.2f s after the 429)", len(early), o.def.retryAfter, int(o.def.retryAfter.Seconds()), early[0].Start.Sub(first.End).Seconds())
			st.cite(o, append([]record{*first}, early...)...)
		} else {
			st.cite(o, *first)
		}
	}
	return nil
}

func (j *judge) recoversAfterSpell(st *scenarioState) error {
	for _, o := range st.outs {
		rs := o.recs("main")
		var tok *record
		for i := range rs {
			if isToken(&rs[i]) && rs[i].IssuedToken != "" {
				tok = &rs[i]
				break
			}
		}
		if tok == nil {
			st.fail("the client got no token in the %s session after the fault ended%s", o.def.name, j.exitNote(st))
			continue
		}
		good := filter(rs, func(r *record) bool { return isAPI(r) && ok2xx(r) && r.Start.After(tok.End) })
		if len(good) == 0 {
			st.fail("the client got a token %.1f s into the %s session but no API call succeeded after it%s", tok.End.Sub(o.started).Seconds(), o.def.name, j.exitNote(st))
			st.cite(o, *tok)
			continue
		}
		st.note("in the %s session: first token %.1f s in, first successful API call %.1f s in", o.def.name, tok.End.Sub(o.started).Seconds(), good[0].End.Sub(o.started).Seconds())
		st.cite(o, *tok, good[0])
	}
	return nil
}

// overlapping counts the records that overlap another in time (all of rs sorted by start).
func overlapping(rs []record) int {
	sort.Slice(rs, func(a, b int) bool { return rs[a].Start.Before(rs[b].Start) })
	n := 0
	var end time.Time
	for i, r := range rs {
		if i > 0 && r.Start.Before(end) {
			n++
		}
		if r.End.After(end) {
			end = r.End
		}
	}
	return n
}

func (j *judge) levelByConcurrency(st *scenarioState) error {
	n := 0
	for _, o := range st.outs {
		n += overlapping(filter(o.recs("main"), isAPI))
	}
	if n > 0 {
		st.level = catalog.Should
		st.note("the client made concurrent API calls (%d overlapped another): judged at SHOULD", n)
	} else {
		st.level = catalog.Info
		st.note("no concurrent API calls were seen: judged at INFO")
	}
	return nil
}

func (j *judge) oneColdFetch(st *scenarioState) error {
	for _, o := range st.outs {
		rs := o.recs("main")
		toks := issuedTokens(rs)
		if len(toks) == 0 {
			continue // "the client made token requests" says so
		}
		before := filter(rs, func(r *record) bool { return isToken(r) && r.Start.Before(toks[0].End) })
		if len(before) > 1 {
			st.fail("%d token requests at cold start in the %s session, before the first token arrived", len(before), o.def.name)
			st.cite(o, before...)
		}
	}
	return nil
}

func (j *judge) noOverlappingFetches(st *scenarioState) error {
	for _, o := range st.outs {
		toks := filter(o.recs("main"), isToken)
		if n := overlapping(toks); n > 0 {
			st.fail("%d token requests in the %s session were sent while another was in flight", n, o.def.name)
			st.cite(o, toks...)
		}
	}
	return nil
}

func (j *judge) noCredentialReceived(st *scenarioState) error {
	for _, o := range st.outs {
		rs := o.recs("")
		bad := filter(rs, func(r *record) bool { return r.SecretForm != "" || j.credentialIn(o, r) != "" })
		if len(bad) > 0 {
			st.fail("the client sent its credentials to a server whose certificate it was not told to trust (%d requests)", len(bad))
			st.cite(o, bad...)
			continue
		}
		if len(rs) == 0 {
			st.note("no request reached the harness: the client refused the TLS handshake")
		} else {
			st.note("%d requests reached the harness, none with a credential", len(rs))
		}
	}
	return nil
}

func (j *judge) notedWorked(st *scenarioState, name string) error {
	o, ok := j.outcomes[name]
	if !ok {
		st.note("the %s session did not run", name)
		return nil
	}
	if len(issuedTokens(o.recs("main"))) == 0 {
		st.note("in the %s session, with the CA named in AUTHZ_CA_FILE, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS and REQUESTS_CA_BUNDLE, the client fetched no token either: its refusal here proves less%s", name, j.exitNote(&scenarioState{outs: []*outcome{o}}))
	} else {
		st.note("in the %s session, with the CA it was given, the client fetched %d tokens over HTTPS", name, len(issuedTokens(o.recs("main"))))
	}
	return nil
}

func (j *judge) otherOriginClean(st *scenarioState) error {
	for _, o := range st.outs {
		other := o.recs("other")
		bad := filter(other, func(r *record) bool { return r.SecretForm != "" || j.credentialIn(o, r) != "" })
		switch {
		case len(bad) > 0:
			st.fail("the client followed the redirect to %s and sent its credentials there (%d requests)", o.s.otherURL, len(bad))
			st.cite(o, bad...)
		case len(other) > 0:
			st.note("the client followed the redirect to another origin, without its credentials (%d requests)", len(other))
			st.cite(o, other...)
		case len(filter(o.recs("main"), isToken)) == 0:
			st.note("the client made no token request in the %s session", o.def.name)
		default:
			st.note("the client did not follow the redirect")
		}
	}
	return nil
}

func (j *judge) apiHeader(st *scenarioState, name string, unique bool) error {
	for _, o := range st.outs {
		// A call begun after the SIGTERM is not judged: the signal may have cut short the
		// work that builds its headers (a shell client's header from a killed subprocess).
		api := filter(o.recs("main"), func(r *record) bool {
			return isAPI(r) && (o.s.stopping.IsZero() || r.Start.Before(o.s.stopping))
		})
		missing := filter(api, func(r *record) bool { return strings.TrimSpace(r.Header.Get(name)) == "" })
		if len(missing) > 0 {
			st.fail("%d of %d API calls in the %s session had no %s header", len(missing), len(api), o.def.name, name)
			st.cite(o, missing...)
			continue
		}
		if unique {
			seen := map[string]int{}
			for _, r := range api {
				seen[r.Header.Get(name)]++
			}
			if dups := len(api) - len(seen); dups > 0 {
				st.fail("%s repeated: %d API calls in the %s session reused a value", name, dups, o.def.name)
			}
		}
	}
	return nil
}

func (j *judge) noteFetchRate(st *scenarioState) error {
	for _, o := range st.outs {
		first, last, ok := span(o.recs("main"))
		if !ok {
			st.note("the client fetched no token in the %s session", o.def.name)
			continue
		}
		lifetimes := last.Sub(first).Seconds() / o.def.ttl.Seconds()
		perLifetime := float64(o.count("token")) / math.Max(lifetimes, 1)
		st.note("%d token fetches in %.1f s with tokens of %s: %.2f per token lifetime, so about %.2f per hour with 8-hour tokens", o.count("token"), last.Sub(first).Seconds(), o.def.ttl, perLifetime, perLifetime/8)
	}
	return nil
}

func (j *judge) noteLatency(st *scenarioState) error {
	for _, o := range st.outs {
		api := filter(o.recs("main"), isAPI)
		var ds []float64
		for _, r := range api {
			ds = append(ds, float64(r.End.Sub(r.Start).Microseconds())/1000)
		}
		sort.Float64s(ds)
		if len(ds) == 0 {
			st.note("no API calls in the %s session", o.def.name)
			continue
		}
		secs := o.ended.Sub(o.started).Seconds()
		st.note("%d API calls in %.1f s (%.1f/s), %d succeeded; API latency at the harness p50 %.1f ms, max %.1f ms", o.count("api"), secs, float64(o.count("api"))/secs, len(filter(api, ok2xx)), ds[len(ds)/2], ds[len(ds)-1])
	}
	return nil
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
