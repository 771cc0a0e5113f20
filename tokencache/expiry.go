package tokencache

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxJWTPayload bounds the payload segment decoded from an access token.
const maxJWTPayload = 64 << 10

// jwtExpiry returns the `exp` claim of a JWT in compact serialisation (three base64url
// segments separated by dots), and false when accessToken is not such a JWT or has no numeric
// exp. It reads the payload only: the signature is not verified, so use the result for caching
// decisions, never for trust.
func jwtExpiry(accessToken string) (time.Time, bool) {
	header, rest, ok := strings.Cut(accessToken, ".")
	if !ok || header == "" {
		return time.Time{}, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || payload == "" || strings.Contains(sig, ".") || len(payload) > maxJWTPayload {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp any `json:"exp"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return time.Time{}, false
	}
	num, isNumber := claims.Exp.(json.Number) // NumericDate is a JSON number, never a string
	if !isNumber {
		return time.Time{}, false
	}
	exp, err := num.Float64()
	// NumericDate: seconds since the epoch; reject what no issuer would send.
	if err != nil || math.IsNaN(exp) || exp <= 0 || exp > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(exp)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// tokenExpiry is when tok stops being valid: the earlier of tok.Expiry and the JWT exp, or the
// zero time when it has neither.
func tokenExpiry(tok *oauth2.Token) time.Time {
	exp := tok.Expiry
	if jexp, ok := jwtExpiry(tok.AccessToken); ok && (exp.IsZero() || jexp.Before(exp)) {
		exp = jexp
	}
	return exp
}

// entry is one fetched token and the times derived from it. It is never modified after it is
// published, so the hit path can read it without a lock.
type entry struct {
	tok       *oauth2.Token
	fetched   time.Time
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
	e := &entry{tok: tok, fetched: now, expiry: tokenExpiry(tok)}
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
