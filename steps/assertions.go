package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// Outcomes about the scenario's latest answer (and its latest batch of answers).
func registerAnswerSteps(t *stepTable) {
	outcomeFamily(t, "the response status is ", []outcomeEntry{
		{`(\d+)`, args1(statusIs)},
		{`(\d+) or (\d+)`, args2(statusIsEither)},
		{`(\d+) or another client error`, args1(statusIsOrClientError)},
		{"not a server error", args0(statusNot5xx)},
	})
	outcomeFamily(t, "the response has ", []outcomeEntry{
		{"no access token", args0(noToken)},
		{"an access token", args0(hasToken)},
		{`no field (\w+)`, args1(noField)},
	})
	outcomeFamily(t, "the response header ", []outcomeEntry{
		{`([\w-]+) is application/json`, args1(headerIsJSON)},
		{`WWW-Authenticate names the (\w+) scheme`, args1(challengeScheme)},
		{`WWW-Authenticate has error "([^"]*)"`, args1(challengeError)},
		{`([\w-]+) has ([\w-]+)`, args2(headerHas)},
		{`([\w-]+) is reported`, args1(headerReported)},
	})
	outcomeFamily(t, "the error is ", []outcomeEntry{
		{`(\w+)`, args1(errorIs)},
		{`(\w+) or (\w+)`, args2(errorIsEither)},
	})
	outcomeFamily(t, "the field ", []outcomeEntry{
		{`(\w+) is a non-empty string`, args1(fieldNonEmptyString)},
		{`(\w+) is "([^"]*)" in any letter case`, args2(fieldIsInAnyCase)},
		{"expires_in is a positive whole number of seconds", args0(expiresInPositive)},
		{`expires_in is (\d+)`, args1(expiresInIs)},
		{"scope is absent or a space-delimited string", args0(scopeForm)},
		{`scope holds "([^"]*)"`, args1(scopeHolds)},
	})
	outcomeFamily(t, "", []outcomeEntry{
		{"the body is a JSON object", args0(bodyIsObject)},
		{`the granted scope is stated when it differs from "([^"]*)"`, args1(grantedScopeStated)},
		{"the API accepted the call", args0(apiAccepted)},
		{"the last two answers have the same status, error and body shape", args0(sameShape)},
		{"every one of those answers has status 200 and an access token", args0(batchAllTokens)},
	})
	outcomeFamily(t, "whether ", []outcomeEntry{
		{"the token endpoint accepted it is reported", args0(reportAccepted)},
		{"the token endpoint throttled is reported", args0(reportThrottling)},
		{"the tokens are reissued, cached or mixed is reported", args0(reportIssuance)},
	})
}

// answer is the latest answer or, when none came, the error "expected <expected>, got ...".
func answer(s *scenario, expected string) (*exchange, error) {
	if s.last == nil {
		return nil, fmt.Errorf("expected %s, but no request was made", expected)
	}
	if !s.last.answered() {
		return nil, fmt.Errorf("expected %s, got %s", expected, s.last.describe())
	}
	return s.last, nil
}

func statusIs(ctx context.Context, code int) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, fmt.Sprintf("status %d", code))
		if err != nil {
			return err
		}
		if ex.status != code {
			return fmt.Errorf("expected status %d, got %s", code, ex.describe())
		}
		return nil
	})
}

func statusIsEither(ctx context.Context, a, b int) error {
	return judge(ctx, func(s *scenario) error {
		want := fmt.Sprintf("status %d or %d", a, b)
		ex, err := answer(s, want)
		if err == nil && ex.status != a && ex.status != b {
			err = fmt.Errorf("expected %s, got %s", want, ex.describe())
		}
		return err
	})
}

func statusIsOrClientError(ctx context.Context, code int) error {
	return judge(ctx, func(s *scenario) error {
		want := fmt.Sprintf("status %d or another 4xx", code)
		ex, err := answer(s, want)
		if err == nil && ex.status != code && ex.status/100 != 4 {
			err = fmt.Errorf("expected %s, got %s", want, ex.describe())
		}
		return err
	})
}

func statusNot5xx(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer that is not a server error")
		if err != nil {
			return err
		}
		if ex.status >= 500 {
			return fmt.Errorf("expected no server error, got %s", ex.describe())
		}
		return nil
	})
}

// noToken is CHECKS.md's "no token": no access_token field, and a status that is not 2xx.
func noToken(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer without a token")
		if err != nil {
			return err
		}
		if _, has := ex.obj["access_token"]; has {
			return fmt.Errorf("expected no token, got %s with an access_token", ex.describe())
		}
		if ex.status/100 == 2 {
			return fmt.Errorf("expected no token (a status that is not 2xx), got %s", ex.describe())
		}
		return nil
	})
}

func hasToken(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "a token")
		if err != nil {
			return err
		}
		if tok, ok := ex.accessToken(); !ok || tok == "" || ex.status/100 != 2 {
			return fmt.Errorf("expected a 2xx answer with an access_token, got %s%s", ex.describe(), objNote(ex))
		}
		return nil
	})
}

// objNote says why a body has no usable fields, when it is not a JSON object.
func objNote(ex *exchange) string {
	if ex.objErr != nil {
		return " (" + ex.objErr.Error() + ")"
	}
	return ""
}

func noField(ctx context.Context, field string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		if _, has := ex.obj[field]; has {
			return fmt.Errorf("expected no field %s, got one", field)
		}
		return nil
	})
}

func errorCode(ex *exchange) (string, error) {
	if ex.obj == nil {
		return "", fmt.Errorf("%s whose body is not a JSON object%s", ex.describe(), objNote(ex))
	}
	code, ok := ex.obj["error"].(string)
	if !ok {
		return "", fmt.Errorf("%s with no string field error", ex.describe())
	}
	return code, nil
}

func errorIs(ctx context.Context, want string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, fmt.Sprintf("error %s", want))
		if err != nil {
			return err
		}
		code, err := errorCode(ex)
		if err != nil {
			return fmt.Errorf("expected error %s, got %v", want, err)
		}
		if code != want {
			return fmt.Errorf("expected error %s, got error %s", want, code)
		}
		return nil
	})
}

func errorIsEither(ctx context.Context, a, b string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, fmt.Sprintf("error %s or %s", a, b))
		if err != nil {
			return err
		}
		code, err := errorCode(ex)
		if err != nil {
			return fmt.Errorf("expected error %s or %s, got %v", a, b, err)
		}
		if code != a && code != b {
			return fmt.Errorf("expected error %s or %s, got error %s", a, b, code)
		}
		return nil
	})
}

func bodyIsObject(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		if ex.objErr != nil {
			return fmt.Errorf("expected a JSON object, got %s: %v", ex.describe(), ex.objErr)
		}
		return nil
	})
}

func fieldNonEmptyString(ctx context.Context, name string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		v, has := ex.obj[name]
		str, isStr := v.(string)
		switch {
		case !has:
			return fmt.Errorf("expected an %s field, got none (%s)", name, ex.describe())
		case !isStr:
			return fmt.Errorf("expected %s to be a string, got %s", name, jsonType(v))
		case str == "":
			return fmt.Errorf("expected a non-empty %s, got an empty string", name)
		}
		return nil
	})
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "the number " + x.String()
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func fieldIsInAnyCase(ctx context.Context, name, want string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		v, ok := ex.obj[name].(string)
		if !ok {
			return fmt.Errorf("expected %s %q, got %s", name, want, jsonType(ex.obj[name]))
		}
		if !strings.EqualFold(v, want) {
			return fmt.Errorf("expected %s %q (any case), got %q", name, want, v)
		}
		return nil
	})
}

// expiresIn reads expires_in by value: a JSON number, or a numeric string (noted).
func expiresIn(ex *exchange) (float64, string, error) {
	v, has := ex.obj["expires_in"]
	if !has {
		return 0, "", fmt.Errorf("no field expires_in")
	}
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, x.String(), err
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, "", fmt.Errorf("expires_in is the string %q, not a number", x)
		}
		return f, x, nil
	}
	return 0, "", fmt.Errorf("expires_in is %s", jsonType(v))
}

func expiresInPositive(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		v, has := ex.obj["expires_in"]
		if !has {
			return fmt.Errorf("expected expires_in, a positive integer, got no such field")
		}
		text := ""
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			if s.r.cfg.Profile == catalog.ProfileRFC6749 {
				return fmt.Errorf("expected expires_in as a JSON number, got the string %q", x)
			}
			s.note("expires_in was a JSON string (%q), as the contract's schema table types it; accepted under the derbysoft profile", x)
			text = x
		default:
			return fmt.Errorf("expected expires_in, a positive integer, got %s", jsonType(v))
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("expected expires_in to be a positive integer, got %s", text)
		}
		return nil
	})
}

func expiresInIs(ctx context.Context, want int) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		v, text, err := expiresIn(ex)
		if err != nil {
			return fmt.Errorf("expected expires_in %d, got: %v", want, err)
		}
		s.note("expires_in: %s", text)
		if v == float64(want) {
			return nil
		}
		// A cached token is answered with the time it has left: what it was issued for is then
		// its JWT's exp - iat.
		if life, ok := jwtLifetime(ex); ok && life == float64(want) && v < life && v == math.Trunc(v) {
			s.note("a cached token with %s s left: issued for exp - iat = %d s", text, want)
			return nil
		}
		return fmt.Errorf("expected expires_in %d, got %s", want, text)
	})
}

// jwtLifetime is exp - iat of the answer's access token, when it is a JWT stating both.
func jwtLifetime(ex *exchange) (float64, bool) {
	tok, ok := ex.accessToken()
	if !ok {
		return 0, false
	}
	p, err := parseJWT(tok, false)
	if err != nil {
		return 0, false
	}
	exp, ok1 := num(p.claims["exp"])
	iat, ok2 := num(p.claims["iat"])
	return exp - iat, ok1 && ok2
}

// scopeTokenRe is RFC 6749 §3.3's scope-token.
var scopeTokenRe = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

func scopeForm(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		v, has := ex.obj["scope"]
		if !has {
			return nil
		}
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("expected scope to be absent or a space-delimited string, got %s", jsonType(v))
		}
		for _, t := range strings.Split(str, " ") {
			if !scopeTokenRe.MatchString(t) {
				return fmt.Errorf("expected scope to be space-delimited scope tokens, got %q", str)
			}
		}
		s.note("scope: %q", str)
		return nil
	})
}

func scopeSet(v any) ([]string, bool) {
	switch x := v.(type) {
	case string:
		return strings.Fields(x), true
	case []any:
		var out []string
		for _, e := range x {
			str, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, str)
		}
		return out, true
	}
	return nil, false
}

func sameSet(a, b []string) bool {
	as, bs := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(as)
	sort.Strings(bs)
	return strings.Join(dedupe(as), " ") == strings.Join(dedupe(bs), " ")
}

func scopeHolds(ctx context.Context, want string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		str, ok := ex.obj["scope"].(string)
		if !ok {
			return fmt.Errorf("expected scope %q, got %s", want, jsonType(ex.obj["scope"]))
		}
		have := strings.Fields(str)
		for _, w := range strings.Fields(want) {
			if !contains(have, w) {
				return fmt.Errorf("expected scope to hold %q, got %q", want, str)
			}
		}
		return nil
	})
}

func grantedScopeStated(ctx context.Context, requested string) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		if v, has := ex.obj["scope"]; has {
			s.note("granted scope stated: %v", v)
			return nil
		}
		tok, _ := ex.accessToken()
		p, err := parseJWT(tok, false)
		if err != nil {
			s.note("no scope in the answer and an opaque token: the granted scope is taken to be %q", requested)
			return nil
		}
		for _, claim := range []string{"scope", "scp"} {
			if granted, ok := scopeSet(p.claims[claim]); ok && !sameSet(granted, strings.Fields(requested)) {
				return fmt.Errorf("expected the answer to state the granted scope, which differs from %q (the token's %s claim is %v), got no scope field", requested, claim, granted)
			}
		}
		return nil
	})
}

// headerValues returns the answer's values of a header.
func headerValues(s *scenario, name string) ([]string, *exchange, error) {
	ex, err := answer(s, "an answer")
	if err != nil {
		return nil, nil, err
	}
	return ex.header.Values(name), ex, nil
}

func headerIsJSON(ctx context.Context, name string) error {
	return judge(ctx, func(s *scenario) error {
		vs, _, err := headerValues(s, name)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("expected %s: application/json, got no %s header", name, name)
		}
		mt, _, perr := mime.ParseMediaType(vs[0])
		if perr != nil || !strings.EqualFold(mt, "application/json") {
			return fmt.Errorf("expected %s: application/json, got %q", name, vs[0])
		}
		return nil
	})
}

// directives splits a list header (Cache-Control, Pragma, Allow) into lower-case names.
func directives(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, d := range strings.Split(v, ",") {
			d, _, _ = strings.Cut(strings.TrimSpace(d), "=")
			if d != "" {
				out = append(out, strings.ToLower(d))
			}
		}
	}
	return out
}

func headerHas(ctx context.Context, name, want string) error {
	return judge(ctx, func(s *scenario) error {
		vs, _, err := headerValues(s, name)
		if err != nil {
			return err
		}
		if !contains(directives(vs), strings.ToLower(want)) {
			if len(vs) == 0 {
				return fmt.Errorf("expected %s: %s, got no %s header", name, want, name)
			}
			return fmt.Errorf("expected %s to have %s, got %q", name, want, strings.Join(vs, ", "))
		}
		if name == "Allow" && !contains(strings.Fields(strings.ReplaceAll(strings.Join(vs, ","), ",", " ")), want) {
			return fmt.Errorf("expected Allow to list %s (method names are case-sensitive), got %q", want, strings.Join(vs, ", "))
		}
		return nil
	})
}

var challengeErrorRe = regexp.MustCompile(`(?i)\berror\s*=\s*(?:"([^"]*)"|([^\s,]+))`)

// challengeSchemes returns the lower-case scheme names of WWW-Authenticate values: the first
// word of each comma-separated element that is not an auth-param (name=value).
func challengeSchemes(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, el := range strings.Split(v, ",") {
			f := strings.Fields(el)
			if len(f) == 0 || strings.Contains(f[0], "=") {
				continue
			}
			out = append(out, strings.ToLower(f[0]))
		}
	}
	return out
}

func challengeScheme(ctx context.Context, scheme string) error {
	return judge(ctx, func(s *scenario) error {
		vs, ex, err := headerValues(s, "WWW-Authenticate")
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("expected WWW-Authenticate naming %s, got %s with no WWW-Authenticate header", scheme, ex.describe())
		}
		if !contains(challengeSchemes(vs), strings.ToLower(scheme)) {
			return fmt.Errorf("expected WWW-Authenticate naming the %s scheme, got %q", scheme, strings.Join(vs, ", "))
		}
		return nil
	})
}

func challengeError(ctx context.Context, want string) error {
	return judge(ctx, func(s *scenario) error {
		vs, ex, err := headerValues(s, "WWW-Authenticate")
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			return fmt.Errorf("expected WWW-Authenticate with error=%q, got %s with no WWW-Authenticate header", want, ex.describe())
		}
		for _, v := range vs {
			for _, m := range challengeErrorRe.FindAllStringSubmatch(v, -1) {
				if m[1] == want || m[2] == want {
					return nil
				}
			}
		}
		return fmt.Errorf("expected WWW-Authenticate with error=%q, got %q (%s)", want, strings.Join(vs, ", "), ex.describe())
	})
}

func headerReported(ctx context.Context, name string) error {
	return judge(ctx, func(s *scenario) error {
		if s.last != nil && s.last.tls == nil && s.last.answered() && strings.EqualFold(name, "Strict-Transport-Security") {
			return skipf("plain HTTP to a loopback host: there is no HTTPS answer to look at")
		}
		vs, _, err := headerValues(s, name)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			s.note("%s: absent", name)
		} else {
			s.note("%s: %s", name, strings.Join(vs, ", "))
		}
		return nil
	})
}

// shape is the set of top-level fields of a JSON body, or what it is instead.
func shape(ex *exchange) string {
	if ex.obj == nil {
		return "not a JSON object"
	}
	var ks []string
	for k := range ex.obj {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return "{" + strings.Join(ks, ",") + "}"
}

func sameShape(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		if len(s.history) < 2 {
			return fmt.Errorf("expected two answers to compare, got %d", len(s.history))
		}
		a, b := s.history[len(s.history)-2], s.history[len(s.history)-1]
		if !a.answered() || !b.answered() {
			return fmt.Errorf("expected two answers, got %s and %s", a.describe(), b.describe())
		}
		ea, _ := a.obj["error"].(string)
		eb, _ := b.obj["error"].(string)
		switch {
		case a.status != b.status:
			return fmt.Errorf("expected the same status for a wrong secret and an unknown client, got %d and %d", a.status, b.status)
		case ea != eb:
			return fmt.Errorf("expected the same error for a wrong secret and an unknown client, got %q and %q", ea, eb)
		case shape(a) != shape(b):
			return fmt.Errorf("expected the same body shape for a wrong secret and an unknown client, got %s and %s", shape(a), shape(b))
		}
		return nil
	})
}

func reportAccepted(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "an answer")
		if err != nil {
			return err
		}
		if tok, ok := ex.accessToken(); ok && tok != "" && ex.status/100 == 2 {
			s.note("accepted: the token endpoint issued a token (%s)", ex.describe())
		} else {
			s.note("refused: %s", ex.describe())
		}
		return nil
	})
}

func reportThrottling(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		var n429, other int
		var first, last float64
		for i, ex := range s.batch {
			switch {
			case ex.status == http.StatusTooManyRequests:
				n429++
			case !ex.answered() || ex.status/100 != 4:
				other++
			}
			ms := float64(ex.dur.Microseconds()) / 1000
			if i == 0 {
				first = ms
			}
			last = ms
		}
		if n429 > 0 {
			s.note("throttled: %d of %d wrong-secret requests answered 429", n429, len(s.batch))
		} else {
			s.note("no 429 in %d wrong-secret requests; latency first %.1f ms, last %.1f ms", len(s.batch), first, last)
		}
		if other > 0 {
			s.note("%d answers were neither 4xx nor 429", other)
		}
		return nil
	})
}

// reportIssuance (CACHE-01) classifies the batch of requests in a row: "reissue" (a new token
// each time), "cached" (one token), "mixed", or "reissue, deterministic per second" when tokens
// that repeated within a second were followed, when asked again a second later, by a new token
// whose iat and exp moved on: such a server derives each token from the second it is issued in,
// it does not cache (requestAgainWhenRepeated asks again).
func reportIssuance(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		seen := map[string]int{}
		var exps []string
		var values []float64
		for _, ex := range s.batch {
			tok, ok := ex.accessToken()
			if !ok {
				return fmt.Errorf("expected %d tokens, got %s", len(s.batch), ex.describe())
			}
			seen[tok]++
			if v, text, err := expiresIn(ex); err == nil {
				exps = append(exps, text)
				values = append(values, v)
			}
		}
		class := "mixed"
		switch len(seen) {
		case len(s.batch):
			class = "reissue"
		case 1:
			class = "cached"
		}
		later := ""
		if s.later != nil {
			class, later = classifyLater(s.later, repeatedToken(s.batch), class, seen)
		}
		counting := len(values) > 1 && values[len(values)-1] < values[0]
		s.note("%s: %d distinct tokens in %d requests; expires_in %s (counting down: %v)%s", class, len(seen), len(s.batch), strings.Join(exps, ", "), counting, later)
		return nil
	})
}

// classifyLater classifies a batch in which the token repeated, given the answer to the request
// sent a second later: the same token again is a cache; a new token whose iat and exp moved on
// is a token derived from the second it is issued in.
func classifyLater(ex *exchange, repeated, class string, seen map[string]int) (string, string) {
	tok, ok := ex.accessToken()
	switch {
	case !ok || ex.status/100 != 2:
		return class, fmt.Sprintf("; asked again a second later: %s", ex.describe())
	case seen[tok] > 0:
		return class, "; asked again a second later: the same token again"
	}
	p, err1 := parseJWT(repeated, false)
	q, err2 := parseJWT(tok, false)
	if err1 != nil || err2 != nil {
		return "mixed", "; asked again a second later: a new token (opaque: whether it is derived from the second cannot be seen)"
	}
	iat0, errA := claimNum(p, "iat")
	iat1, errB := claimNum(q, "iat")
	exp0, errC := claimNum(p, "exp")
	exp1, errD := claimNum(q, "exp")
	if errA != nil || errB != nil || errC != nil || errD != nil || iat1 <= iat0 || exp1 <= exp0 {
		return "mixed", "; asked again a second later: a new token, but its iat and exp did not move on"
	}
	return "reissue, deterministic per second", fmt.Sprintf("; the repeated tokens came within one second, and a second later a new token with iat and exp %.0f s later: tokens are derived from the second they are issued in, not cached", iat1-iat0)
}

func batchAllTokens(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		bad := 0
		var first string
		for _, ex := range s.batch {
			if tok, ok := ex.accessToken(); !ok || tok == "" || ex.status != http.StatusOK {
				bad++
				if first == "" {
					first = ex.describe()
				}
			}
		}
		if bad > 0 {
			return fmt.Errorf("expected %d answers with status 200 and a token, got %d without (first: %s)", len(s.batch), bad, first)
		}
		return nil
	})
}

// apiAccepted is "the API accepted the call": not refused (401, 403, or a 400 that names the
// token: an API that answers "400 invalid access token" refused the token as surely as with a
// 401), and, when a baseline call with "Bearer <the latest token>" was made, answered as that
// one was: a 2xx where the baseline got a 2xx.
func apiAccepted(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		ex, err := answer(s, "the API to accept the call")
		if err != nil {
			return err
		}
		if refusedToken(ex) {
			return fmt.Errorf("expected the API to accept the token, got %s, a refusal of the token", ex.describe()+apiMessage(ex))
		}
		if b := s.baseline; b != nil {
			switch {
			case !b.answered():
				return fmt.Errorf("expected an answer to the same call with the Bearer scheme to compare with, got %s", b.describe())
			case b.status/100 == 2 && ex.status/100 != 2:
				return fmt.Errorf("expected a 2xx, as the same call with \"Bearer\" and the latest token got (status %d), got %s", b.status, ex.describe()+apiMessage(ex))
			case b.status/100 != 2 && ex.status != b.status:
				return fmt.Errorf("expected status %d, as the same call with \"Bearer\" and the latest token got, got %s", b.status, ex.describe()+apiMessage(ex))
			}
		}
		if ex.status >= 500 {
			s.note("the API answered %s: the token was not refused, but the call failed", ex.describe())
		} else if ex.status/100 != 2 {
			s.note("the API answered %s%s: the token was not refused, but the call did not succeed", ex.describe(), apiMessage(ex))
		}
		return nil
	})
}

// refusedToken reports whether an API answer refuses the token: 401, 403, or a 400 whose
// challenge or body names the token (error="invalid_token", "invalid access token"). The
// DerbySoft request header Echo-Token is not the token: a 400 about it is no refusal.
func refusedToken(ex *exchange) bool {
	switch ex.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return true
	case http.StatusBadRequest:
		text := strings.ToLower(strings.Join(ex.header.Values("WWW-Authenticate"), " ") + " " + string(ex.body))
		return strings.Contains(echoTokenNames.Replace(text), "token")
	}
	return false
}

// echoTokenNames are the spellings of the Echo-Token header an API's error may quote.
var echoTokenNames = strings.NewReplacer("echo-token", "", "echo_token", "", "echotoken", "", "echo token", "")

// apiMessage is the API's error message (DerbySoft's errorMessage, OAuth's error_description)
// as " (message)", or "".
func apiMessage(ex *exchange) string {
	for _, f := range []string{"errorMessage", "error_description"} {
		if m, ok := ex.obj[f].(string); ok && m != "" {
			return " (" + clip(ex.red, m, 80) + ")"
		}
	}
	return ""
}

// clientTokensDiffer (CACHE-05): no token of the first client is byte for byte a token of the
// second, over every pair the scenario obtained.
func clientTokensDiffer(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		as, bs, err := twoClients(s)
		if err != nil {
			return err
		}
		same := 0
		for _, a := range as {
			for _, b := range bs {
				if a.raw == b.raw {
					same++
				}
			}
		}
		if same > 0 {
			return fmt.Errorf("expected different tokens for %s and %s, got the same token %d times in %d and %d answers",
				as[0].client, bs[0].client, same, len(as), len(bs))
		}
		s.note("%d tokens of %s and %d of %s, all different", len(as), as[0].client, len(bs), bs[0].client)
		return nil
	})
}

// twoClients are the scenario's tokens of the first client and of the second, in order.
func twoClients(s *scenario) (as, bs []heldToken, err error) {
	for _, t := range s.tokens {
		switch t.client {
		case s.r.cfg.ClientID:
			as = append(as, t)
		case s.r.cfg.Client2ID:
			bs = append(bs, t)
		}
	}
	if len(as) == 0 || len(bs) == 0 {
		return nil, nil, fmt.Errorf("expected a token for each client")
	}
	return as, bs, nil
}

// ownClaims are the claims that say whom a token was issued to: a token of one client must not
// carry the other's.
var ownClaims = []string{"sub", "dis", "client_id"}

// clientClaimsOwn (CACHE-05): over every pair of the two clients' tokens, a claim naming whom the
// token is for never has the same value in both, nor names the other client.
func clientClaimsOwn(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		as, bs, err := twoClients(s)
		if err != nil {
			return err
		}
		decode := func(ts []heldToken) []*jwtParts {
			var out []*jwtParts
			for _, t := range ts {
				if p, err := parseJWT(t.raw, false); err == nil {
					out = append(out, p)
				}
			}
			return out
		}
		pas, pbs := decode(as), decode(bs)
		if len(pas) == 0 || len(pbs) == 0 {
			s.note("opaque tokens: sub and dis cannot be compared")
			return nil
		}
		a, b := as[0].client, bs[0].client
		for _, pa := range pas {
			for _, pb := range pbs {
				for _, claim := range ownClaims {
					va, okA := pa.claims[claim].(string)
					vb, okB := pb.claims[claim].(string)
					switch {
					case okA && okB && va == vb:
						return fmt.Errorf("expected each client's own %s, got %q in both clients' tokens", claim, va)
					case okA && va == b:
						return fmt.Errorf("expected each token's %s to be its own client's, got %s's token with %s %q", claim, a, claim, va)
					case okB && vb == a:
						return fmt.Errorf("expected each token's %s to be its own client's, got %s's token with %s %q", claim, b, claim, vb)
					}
				}
			}
		}
		return nil
	})
}
