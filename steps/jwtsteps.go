package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/authzcheck/authzcheck/internal/catalog"
)

// Outcomes about the access token itself (JWT), the scenario's latest one, and about the two
// clients' tokens (CACHE-05); everytoken.go judges every token of the run.
func registerJWTSteps(t *stepTable) {
	outcomeFamily(t, "the token", []outcomeEntry{
		{" is three base64url segments without padding, whose header and claims are JSON objects", args0(jwtCompact)},
		{`'s alg is an asymmetric algorithm, never none nor HS\*`, args0(jwtAsymmetric)},
		{`'s alg is (\w+)`, args1(jwtAlgIs)},
		{"'s exp and iat are numbers and exp is after iat", args0(jwtExpAfterIat)},
		{`'s exp equals now plus expires_in within (\d+) seconds`, args1(jwtExpMatches)},
		{`'s iat is within (\d+) seconds of our clock`, args1(jwtIatNow)},
		{"'s nbf, when present, is not in the future", args0(jwtNbf)},
		{` has the claim (\w+)`, args1(jwtHasClaim)},
		{"'s scope claim, when present, equals the granted scope as a set", args0(jwtScopeMatches)},
		{`'s (\w+) is "([^"]*)"`, args2(jwtClaimIs)},
		{"'s signature verifies with the issuer's key", args0(jwtSignature)},
		{"'s sub, aud and dis and their relation to the client ID are reported", args0(jwtReportSubject)},
	})
	outcomeFamily(t, "", []outcomeEntry{
		{"the two clients' tokens differ", args0(clientTokensDiffer)},
		{"each token's sub and dis belong to its own client", args0(clientClaimsOwn)},
	})
}

// latestToken is the scenario's latest token.
func latestToken(s *scenario) (heldToken, error) {
	if len(s.tokens) == 0 {
		return heldToken{}, errors.New("expected a token to inspect, got none")
	}
	return s.tokens[len(s.tokens)-1], nil
}

// notAJWT is why a token that did not parse as a JWT cannot be judged: under rfc6749 an opaque
// token is allowed, and the check is skipped; otherwise the check fails.
func notAJWT(s *scenario, err error) error {
	if s.r.cfg.Profile == catalog.ProfileRFC6749 {
		return skipf("the access token is opaque (%v); allowed under the rfc6749 profile", err)
	}
	return fmt.Errorf("expected a JWT, got a token where %v", err)
}

// jwtOf is the scenario's latest token decoded; an opaque token is notAJWT.
func jwtOf(s *scenario) (*jwtParts, heldToken, error) {
	t, err := latestToken(s)
	if err != nil {
		return nil, t, err
	}
	p, err := parseJWT(t.raw, false)
	if err != nil {
		return nil, t, notAJWT(s, err)
	}
	return p, t, nil
}

// jwtCompact (JWT-01) judges the token's form strictly and is never skipped: an opaque token is
// what it reports (a failure at its level, INFO under rfc6749, so a note there).
func jwtCompact(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		t, err := latestToken(s)
		if err != nil {
			return err
		}
		if _, err := parseJWT(t.raw, true); err != nil {
			return fmt.Errorf("expected a JWT, got a token where %v", err)
		}
		return nil
	})
}

func jwtAsymmetric(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		var opaque errSkipCheck
		if errors.As(err, &opaque) {
			// JWT-02 reports an opaque token rather than being skipped, at INFO as CHECKS.md
			// says (JWT-01..02 are INFO for an opaque token under rfc6749).
			s.note("opaque access token: no algorithm to inspect (allowed under rfc6749)")
			s.info = true
			return nil
		}
		if err != nil {
			return err
		}
		alg, _ := p.header["alg"].(string)
		s.note("alg: %s", alg)
		if !asymmetric(alg) {
			return fmt.Errorf("expected an asymmetric alg (never none, never HS*), got %q", alg)
		}
		return nil
	})
}

func jwtAlgIs(ctx context.Context, want string) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		if err != nil {
			return err
		}
		if alg, _ := p.header["alg"].(string); alg != want {
			return fmt.Errorf("expected alg %s, got %q", want, alg)
		}
		return nil
	})
}

func claimNum(p *jwtParts, name string) (float64, error) {
	v, has := p.claims[name]
	if !has {
		return 0, fmt.Errorf("no %s claim", name)
	}
	f, ok := num(v)
	if !ok {
		return 0, fmt.Errorf("%s is %s, not a number", name, jsonType(v))
	}
	return f, nil
}

func jwtExpAfterIat(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		if err != nil {
			return err
		}
		exp, err := claimNum(p, "exp")
		if err != nil {
			return fmt.Errorf("expected numeric exp and iat, got %v", err)
		}
		iat, err := claimNum(p, "iat")
		if err != nil {
			return fmt.Errorf("expected numeric exp and iat, got %v", err)
		}
		if exp <= iat {
			return fmt.Errorf("expected exp after iat, got exp %.0f and iat %.0f", exp, iat)
		}
		s.note("exp - iat = %.0f s", exp-iat)
		return nil
	})
}

// describeSkew says how exp compares with now + expires_in, given skew = now + expires_in - exp.
func describeSkew(skew float64) string {
	if skew < 0 {
		return fmt.Sprintf("exp %.0f s later than that", -skew)
	}
	return fmt.Sprintf("exp %.0f s earlier than that", skew)
}

// arrival is when an answer came back, in Unix seconds.
func arrival(ex *exchange) float64 {
	return float64(ex.started.Add(ex.dur).UnixNano()) / 1e9
}

// lifetimeSkew is now + expires_in - exp for a token answer.
func lifetimeSkew(ex *exchange, p *jwtParts) (float64, error) {
	ei, _, err := expiresIn(ex)
	if err != nil {
		return 0, err
	}
	exp, err := claimNum(p, "exp")
	if err != nil {
		return 0, err
	}
	return arrival(ex) + ei - exp, nil
}

func jwtExpMatches(ctx context.Context, tol int) error {
	return judge(ctx, func(s *scenario) error {
		p, t, err := jwtOf(s)
		if err != nil {
			return err
		}
		skew, err := lifetimeSkew(t.ex, p)
		if err != nil {
			return fmt.Errorf("expected exp = now + expires_in, got %v", err)
		}
		if math.Abs(skew) > float64(tol) {
			return fmt.Errorf("expected exp = now + expires_in within %d s, got %s", tol, describeSkew(skew))
		}
		return nil
	})
}

func jwtIatNow(ctx context.Context, tol int) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		if err != nil {
			return err
		}
		iat, err := claimNum(p, "iat")
		if err != nil {
			return fmt.Errorf("expected iat near our clock, got %v", err)
		}
		skew := iat - float64(s.r.cfg.Now().UnixNano())/1e9
		s.note("iat - harness clock = %.1f s", skew)
		if math.Abs(skew) > float64(tol) {
			return fmt.Errorf("expected iat within %d s of our clock, got %.0f s off", tol, skew)
		}
		return nil
	})
}

// nbfGrace tolerates clocks a little apart.
const nbfGrace = 5

func jwtNbf(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		if err != nil {
			return err
		}
		if _, has := p.claims["nbf"]; !has {
			s.note("no nbf claim")
			return nil
		}
		nbf, err := claimNum(p, "nbf")
		if err != nil {
			return fmt.Errorf("expected a numeric nbf, got %v", err)
		}
		ahead := nbf - float64(s.r.cfg.Now().UnixNano())/1e9
		if ahead > nbfGrace {
			return fmt.Errorf("expected nbf not in the future, got nbf %.0f s ahead of our clock", ahead)
		}
		return nil
	})
}

func jwtHasClaim(ctx context.Context, name string) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		if err != nil {
			return err
		}
		if _, has := p.claims[name]; !has {
			return fmt.Errorf("expected a %s claim, got none", name)
		}
		return nil
	})
}

func jwtClaimIs(ctx context.Context, name, want string) error {
	return judge(ctx, func(s *scenario) error {
		p, _, err := jwtOf(s)
		if err != nil {
			return err
		}
		if got, _ := p.claims[name].(string); got != want {
			return fmt.Errorf("expected %s %q, got %q", name, want, got)
		}
		return nil
	})
}

// jwtScopeMatches judges the scenario's token as every token of the run is judged (the facts
// the recorder kept: judgeScopeClaim, with the requested scope when the answer states none).
func jwtScopeMatches(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		_, t, err := jwtOf(s)
		if err != nil {
			return err
		}
		if f := t.ex.tok; f != nil && f.scopeJudged {
			if f.scopeWhy != "" {
				return errors.New(f.scopeWhy)
			}
			return nil
		}
		s.note("nothing to compare: the token has no scope claim, or neither the answer nor the request states a scope")
		return nil
	})
}

func jwtSignature(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		p, t, err := jwtOf(s)
		if err != nil {
			return err
		}
		keys, err := s.r.issuerKeys(ctx, s)
		if err != nil {
			return fmt.Errorf("expected the issuer's key, got: %v", err)
		}
		return verifySignature(s.r.red, t.raw, p.header, keys)
	})
}

func jwtReportSubject(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		p, t, err := jwtOf(s)
		if err != nil {
			return err
		}
		var parts []string
		for _, c := range []string{"sub", "aud", "dis"} {
			v, has := p.claims[c]
			if !has {
				parts = append(parts, c+" absent")
				continue
			}
			rel := "differs from the client ID"
			if fmt.Sprint(v) == t.client {
				rel = "equals the client ID"
			} else if list, ok := v.([]any); ok && containsAny(list, t.client) {
				rel = "holds the client ID"
			}
			b, _ := json.Marshal(v)
			parts = append(parts, fmt.Sprintf("%s %s (%s)", c, b, rel))
		}
		s.note("%s", strings.Join(parts, "; "))
		return nil
	})
}

func containsAny(list []any, x string) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}
