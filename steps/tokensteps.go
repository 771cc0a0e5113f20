package steps

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/loopback"
)

func registerJWTSteps(sc *stepTable) {
	then(sc, `the token is three base64url segments without padding, whose header and claims are JSON objects`, jwtCompact)
	then(sc, `the token's alg is an asymmetric algorithm, never none nor HS\*`, jwtAsymmetric)
	then(sc, `the token's alg is (\w+)`, jwtAlgIs)
	then(sc, `the token's exp and iat are numbers and exp is after iat`, jwtExpAfterIat)
	then(sc, `the token's exp equals now plus expires_in within (\d+) seconds`, jwtExpMatches)
	then(sc, `the token's iat is within (\d+) seconds of our clock`, jwtIatNow)
	then(sc, `the token's nbf, when present, is not in the future`, jwtNbf)
	then(sc, `the token has the claim (\w+)`, jwtHasClaim)
	then(sc, `the token's (\w+) is "([^"]*)"`, jwtClaimIs)
	then(sc, `the token's scope claim, when present, equals the granted scope as a set`, jwtScopeMatches)
	then(sc, `every token has the claim (\w+)`, jwtEveryHasClaim)
	then(sc, `no two different tokens share a jti`, jwtUniqueJTI)
	then(sc, `the token's signature verifies with the issuer's key`, jwtSignature)
	then(sc, `the token's sub, aud and dis and their relation to the client ID are reported`, jwtReportSubject)
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
			// JWT-02 reports an opaque token rather than being skipped.
			s.note("opaque access token: no algorithm to inspect (allowed under rfc6749)")
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

func jwtScopeMatches(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		p, t, err := jwtOf(s)
		if err != nil {
			return err
		}
		respScope, hasResp := t.ex.obj["scope"].(string)
		for _, claim := range []string{"scope", "scp"} {
			v, has := p.claims[claim]
			if !has {
				continue
			}
			set, ok := scopeSet(v)
			if !ok {
				return fmt.Errorf("expected the %s claim to be an array or a space-delimited string, got %s", claim, jsonType(v))
			}
			if !hasResp {
				s.note("the answer states no scope; the token's %s claim is %v", claim, set)
				return nil
			}
			if !sameSet(set, strings.Fields(respScope)) {
				return fmt.Errorf("expected the token's %s claim %v to equal the answer's scope %q as a set", claim, set, respScope)
			}
			return nil
		}
		return nil
	})
}

func jwtEveryHasClaim(ctx context.Context, name string) error {
	return judge(ctx, func(s *scenario) error {
		if len(s.tokens) < 2 {
			return fmt.Errorf("expected two tokens to compare, got %d", len(s.tokens))
		}
		for i := range s.tokens {
			p, err := parseJWT(s.tokens[i].raw, false)
			if err != nil {
				return notAJWT(s, err)
			}
			if _, has := p.claims[name]; !has {
				return fmt.Errorf("expected every token to have a %s claim, token %d has none", name, i+1)
			}
		}
		return nil
	})
}

func jwtUniqueJTI(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		byJTI := map[string]string{}
		for _, t := range s.tokens {
			p, err := parseJWT(t.raw, false)
			if err != nil {
				continue
			}
			jti := fmt.Sprint(p.claims["jti"])
			if prev, dup := byJTI[jti]; dup && prev != t.raw {
				return fmt.Errorf("expected a different jti for each token, got two different tokens with jti %q", jti)
			}
			byJTI[jti] = t.raw
		}
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

// Transport (SEC).

func registerTransportSteps(sc *stepTable) {
	then(sc, `the token endpoint URL uses https, or its host is loopback`, secHTTPS)
	then(sc, `no credential was sent over plain HTTP to any other host`, secNoPlainCredentials)
	then(sc, `the TLS certificate of the token endpoint verified`, secCertificate)
	then(sc, `the connection used TLS 1\.2 or newer`, secTLSVersion)
}

func secHTTPS(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		u, _ := url.Parse(s.r.cfg.TokenURL)
		if u.Scheme == "https" {
			return nil
		}
		if loopback.Host(u.Hostname()) {
			s.note("plain HTTP, allowed because %s is loopback", u.Hostname())
			return nil
		}
		return fmt.Errorf("expected an https token URL, got plain http to %s (no credential was sent)", u.Hostname())
	})
}

func secNoPlainCredentials(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		for _, ex := range s.r.rec.exchanges() {
			u, err := url.Parse(ex.url)
			if err != nil || u.Scheme == "https" || loopback.Host(u.Hostname()) {
				continue
			}
			if !errors.Is(ex.err, errPlainHTTP) {
				return fmt.Errorf("expected no request over plain HTTP to %s, got one (transcript %s)", u.Hostname(), ex.file)
			}
		}
		return nil
	})
}

// tlsOf is the TLS state of the scenario's latest answer; plain HTTP to loopback has none to
// judge, and is skipped.
func tlsOf(s *scenario) (*tls.ConnectionState, error) {
	if u, _ := url.Parse(s.r.cfg.TokenURL); u.Scheme != "https" {
		return nil, skipf("plain HTTP to a loopback host: there is no TLS to inspect")
	}
	ex := s.last
	if ex == nil {
		return nil, errors.New("expected a TLS connection, but no request was made")
	}
	var cve *tls.CertificateVerificationError
	if errors.As(ex.err, &cve) {
		return nil, fmt.Errorf("expected a certificate that verifies against the system roots or --ca-file, got: %s", shortErr(s.r.red, cve.Err))
	}
	if ex.tls == nil {
		return nil, fmt.Errorf("expected a TLS connection, got %s", ex.describe())
	}
	return ex.tls, nil
}

func secCertificate(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		st, err := tlsOf(s)
		if err != nil {
			return err
		}
		if len(st.PeerCertificates) > 0 {
			c := st.PeerCertificates[0]
			s.note("certificate: subject %q, issuer %q, valid until %s", c.Subject.String(), c.Issuer.String(), c.NotAfter.UTC().Format(time.DateOnly))
		}
		return nil
	})
}

func secTLSVersion(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		st, err := tlsOf(s)
		if err != nil {
			return err
		}
		s.note("%s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
		if st.Version < tls.VersionTLS12 {
			return fmt.Errorf("expected TLS 1.2 or newer, got %s", tls.VersionName(st.Version))
		}
		return nil
	})
}

// Checks over the whole run (HTTP-05..08, CACHE-02, CACHE-06): they run after every other
// scenario and judge the exchanges recorded so far.

func registerWholeRunSteps(sc *stepTable) {
	sc.Step(`^every other check of the run has finished$`, func() error { return nil })
	then(sc, `every error answer to a POST token request is a JSON object whose error is one of RFC 6749's codes`, runErrorsAreOAuth)
	then(sc, `every error answer from the token endpoint has the header Cache-Control no-store`, runErrorsNoStore)
	then(sc, `no malformed request of the run was answered with a server error`, runNo5xx)
	then(sc, `no error answer of the run contains a client secret`, runNoSecretEcho)
	then(sc, `for every token of the run, now plus expires_in equals its exp within (\d+) seconds`, runLifetimes)
	then(sc, `the token endpoint's latency over the run is reported`, runLatency)
}

// rfc6749Errors is RFC 6749 §5.2's set of error codes.
var rfc6749Errors = map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true}

// judgeEach judges every exchange of the run but the check's own: judgeOne says whether the
// exchange is one the check is about and, when so, why it fails ("" when it passes). The check
// lists the offending transcripts when it fails, or every judged one when it holds.
func judgeEach(ctx context.Context, what string, judgeOne func(*exchange) (relevant bool, why string)) error {
	return judge(ctx, func(s *scenario) error {
		var judged, failed []string
		var reasons []string
		for _, ex := range s.r.rec.exchanges() {
			if ex.check == s.id {
				continue
			}
			relevant, why := judgeOne(ex)
			if !relevant {
				continue
			}
			judged = append(judged, ex.file)
			if why != "" {
				failed = append(failed, ex.file)
				if len(reasons) < maxReasons {
					reasons = append(reasons, fmt.Sprintf("%s (%s, %s): %s", ex.check, ex.file, ex.describe(), why))
				}
			}
		}
		if len(judged) == 0 {
			return skipf("no %s in this run to judge", what)
		}
		if len(failed) > 0 {
			s.transcripts = append(s.transcripts, failed...)
			more := ""
			if len(failed) > len(reasons) {
				more = fmt.Sprintf("; and %d more", len(failed)-len(reasons))
			}
			return fmt.Errorf("%d of %d %s failed: %s%s", len(failed), len(judged), what, strings.Join(reasons, "; "), more)
		}
		s.transcripts = append(s.transcripts, judged...)
		s.note("%d %s judged", len(judged), what)
		return nil
	})
}

func isTokenError(ex *exchange) bool { return ex.to == toToken && ex.answered() && ex.status >= 400 }

func runErrorsAreOAuth(ctx context.Context) error {
	return judgeEach(ctx, "error answers to POST token requests", func(ex *exchange) (bool, string) {
		if !isTokenError(ex) || ex.method != http.MethodPost {
			return false, ""
		}
		var problems []string
		if ct := ex.header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
			problems = append(problems, fmt.Sprintf("expected Content-Type application/json, got %q", ct))
		}
		if ex.obj == nil {
			problems = append(problems, "expected a JSON object, got a body where "+strings.TrimPrefix(fmt.Sprint(ex.objErr), "the body is "))
		} else if code, _ := ex.obj["error"].(string); !rfc6749Errors[code] {
			problems = append(problems, fmt.Sprintf("expected an error from RFC 6749 §5.2, got %q", code))
		}
		return true, strings.Join(problems, ", ")
	})
}

func runErrorsNoStore(ctx context.Context) error {
	return judgeEach(ctx, "error answers of the token endpoint", func(ex *exchange) (bool, string) {
		if !isTokenError(ex) {
			return false, ""
		}
		if !contains(directives(ex.header.Values("Cache-Control")), "no-store") {
			return true, fmt.Sprintf("expected Cache-Control: no-store, got %q", ex.header.Get("Cache-Control"))
		}
		return true, ""
	})
}

func runNo5xx(ctx context.Context) error {
	return judgeEach(ctx, "malformed requests", func(ex *exchange) (bool, string) {
		if !ex.malformed || !ex.answered() {
			return false, ""
		}
		if ex.status >= 500 {
			return true, "expected no server error"
		}
		return true, ""
	})
}

// runNoSecretEcho judges whether each error answer echoed a secret, as the recorder found
// when the body was at hand (the run does not keep bodies).
func runNoSecretEcho(ctx context.Context) error {
	return judgeEach(ctx, "error answers", func(ex *exchange) (bool, string) {
		if !ex.answered() || ex.status < 400 {
			return false, ""
		}
		if ex.echoesSecret {
			return true, "expected no client secret in the body, found one (masked in the transcript)"
		}
		return true, ""
	})
}

// runLifetimes judges the JWT access tokens of the run whose answer states expires_in; the
// recorder computed each one's skew once, when the answer came.
func runLifetimes(ctx context.Context, tol int) error {
	return judgeEach(ctx, "JWT access tokens with expires_in", func(ex *exchange) (bool, string) {
		if !ex.hasSkew {
			return false, ""
		}
		if math.Abs(ex.skew) > float64(tol) {
			return true, fmt.Sprintf("expected exp = now + expires_in within %d s, got %s", tol, describeSkew(ex.skew))
		}
		return true, ""
	})
}

func runLatency(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		var ms []float64
		for _, ex := range s.r.rec.exchanges() {
			if ex.to == toToken && ex.answered() {
				ms = append(ms, float64(ex.dur.Microseconds())/1000)
			}
		}
		if len(ms) == 0 {
			return skipf("no answered token request in this run")
		}
		sort.Float64s(ms)
		q := func(p float64) float64 { return ms[int(math.Ceil(p*float64(len(ms))))-1] }
		s.note("token endpoint latency over %d requests: p50 %.1f ms, p95 %.1f ms, max %.1f ms", len(ms), q(0.5), q(0.95), ms[len(ms)-1])
		return nil
	})
}
