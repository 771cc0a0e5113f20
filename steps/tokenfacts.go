package steps

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"strings"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// What the checks over every token of the run (JWT-07, JWT-08, TOK-08) need of each token
// answer, worked out while the answer is at hand: the run keeps no body and no token (kept),
// and a hostile server's claims may be as large as an answer, so only fingerprints, clipped
// values and the verdict on the scope claim are kept.

// jtiShownBytes bounds a jti quoted in a reason.
const jtiShownBytes = 64

// scopeWhyBytes bounds the kept reason of a scope claim that disagrees (it quotes the claim).
const scopeWhyBytes = 512

// tokenFacts is what the run keeps of a 2xx token answer that carried an access token.
type tokenFacts struct {
	sum    [32]byte // SHA-256 of the access token: its identity, without the token
	jwt    bool     // the token decoded as a JWT
	hasJTI bool
	jtiSum [32]byte // SHA-256 of the jti's JSON form: compared, never shown
	jti    string   // the jti as shown in a reason: redacted and clipped

	// scopeJudged reports whether the token's scope (or scp) claim could be compared with the
	// granted scope: the answer's scope, or the requested one when the answer states none
	// (RFC 6749 §5.1: then the granted scope is the requested one). scopeWhy is why they
	// disagree, "" when they agree.
	scopeJudged bool
	scopeWhy    string

	// Of the answer itself (TOK-04, TOK-10; TOK-02 reads the kept Content-Type): its token_type
	// when a string (clipped), and whether it carries a refresh_token.
	tokenType    string
	hasTokenType bool
	refresh      bool
}

// tokenFactsOf works out the facts of a token answer to req; tok is its access token and p the
// token parsed as a JWT (nil when it is not one).
func tokenFactsOf(red *redact.Redactor, req request, ex *exchange, tok string, p *jwtParts) *tokenFacts {
	f := &tokenFacts{sum: sha256.Sum256([]byte(tok))}
	if tt, ok := ex.obj["token_type"].(string); ok {
		f.tokenType, f.hasTokenType = clip(red, tt, jtiShownBytes), true
	}
	_, f.refresh = ex.obj["refresh_token"]
	if p == nil {
		return f
	}
	f.jwt = true
	if v, has := p.claims["jti"]; has {
		f.hasJTI = true
		shown := fmt.Sprint(v)
		f.jtiSum = sha256.Sum256([]byte(shown))
		f.jti = clip(red, shown, jtiShownBytes)
	}
	requested, asked := requestedScope(req)
	judged, why := judgeScopeClaim(p.claims, ex.obj, requested, asked)
	f.scopeJudged, f.scopeWhy = judged, clip(red, why, scopeWhyBytes)
	return f
}

// requestedScope is the scope a token request asked for (its form body, else its URL query),
// and whether it asked for one.
func requestedScope(req request) (string, bool) {
	if form, err := url.ParseQuery(string(req.body)); err == nil && form.Has("scope") {
		return form.Get("scope"), true
	}
	if u, err := url.Parse(req.url); err == nil && u.Query().Has("scope") {
		return u.Query().Get("scope"), true
	}
	return "", false
}

// judgeScopeClaim compares a token's scope (or scp) claim with the granted scope: the answer's
// scope field when it states one, else the requested scope. It reports whether there was
// something to compare and, when so, why they disagree ("" when they agree).
func judgeScopeClaim(claims, answer map[string]any, requested string, asked bool) (bool, string) {
	for _, claim := range []string{"scope", "scp"} {
		v, has := claims[claim]
		if !has {
			continue
		}
		set, ok := scopeSet(v)
		if !ok {
			return true, fmt.Sprintf("expected the %s claim to be an array or a space-delimited string, got %s", claim, jsonType(v))
		}
		granted, stated := answer["scope"].(string)
		what := "the answer's scope"
		if !stated {
			if !asked {
				return false, ""
			}
			granted, what = requested, "the requested scope (the answer states none)"
		}
		if !sameSet(set, strings.Fields(granted)) {
			return true, fmt.Sprintf("expected the token's %s claim %v to equal %s %q as a set", claim, set, what, granted)
		}
		return true, ""
	}
	return false, ""
}
