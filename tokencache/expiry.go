package tokencache

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/authzcheck/authzcheck/internal/jwtexp"
)

// tokenExpiry is when tok stops being valid: the earlier of tok.Expiry and the JWT exp (read,
// not verified: see package jwtexp), or the zero time when it has neither.
func tokenExpiry(tok *oauth2.Token) time.Time {
	exp := tok.Expiry
	if jexp, ok := jwtexp.ExpString(tok.AccessToken); ok && (exp.IsZero() || jexp.Before(exp)) {
		exp = jexp
	}
	return exp
}

// entry is one fetched token and the times derived from it. It is never modified after it is
// published, so the hit path can read it without a lock.
type entry struct {
	tok       *oauth2.Token
	expiry    time.Time // tokenExpiry(tok): the token's own expiry, zero when it never expires
	validTill time.Time // expiry less the clock-skew allowance: served until then
	refreshAt time.Time // when a background refresh starts
}

var errEmptyToken = errors.New("token source returned no access token")

// newEntry validates tok, fetched at now, and computes its times.
func (cfg *config) newEntry(tok *oauth2.Token, now time.Time) (*entry, error) {
	if tok == nil || tok.AccessToken == "" {
		return nil, errEmptyToken
	}
	e := &entry{tok: tok, expiry: tokenExpiry(tok)}
	if e.expiry.IsZero() {
		return e, nil // used until invalidated
	}
	life := e.expiry.Sub(now)
	if life <= 0 {
		return nil, fmt.Errorf("token source returned a token that had already expired (at %s, received %s): check the clocks",
			e.expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	skew := min(cfg.skew, time.Duration(float64(life)*maxSkewFraction))
	e.validTill = e.expiry.Add(-skew)
	usable := e.validTill.Sub(now)
	frac := cfg.refreshAt - cfg.jitter*cfg.randFloat64()
	e.refreshAt = now.Add(time.Duration(float64(usable) * frac))
	return e, nil
}
