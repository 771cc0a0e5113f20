package steps

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
)

// Checks over the whole run (HTTP-05..08, CACHE-02, CACHE-06): they run after every other
// scenario and judge the exchanges recorded so far.

func registerWholeRunSteps(t *stepTable) {
	t.Step(`^every other check of the run has finished$`, func() error { return nil })
	outcomeFamily(t, "", []outcomeEntry{
		{"every error answer to a POST token request is a JSON object whose error is one of RFC 6749's codes", args0(runErrorsAreOAuth)},
		{"every error answer from the token endpoint has the header Cache-Control no-store", args0(runErrorsNoStore)},
		{"no malformed request of the run was answered with a server error", args0(runNo5xx)},
		{"no error answer of the run contains a client secret", args0(runNoSecretEcho)},
		{`for every token of the run, now plus expires_in equals its exp within (\d+) seconds`, args1(runLifetimes)},
		{"the token endpoint's latency over the run is reported", args0(runLatency)},
	})
}

// runExchanges are the exchanges a whole-run check judges: every exchange of the run but those
// of the other whole-run checks. Those run at once, within the bound on requests in flight, so
// whether one's request has happened when another judges depends on timing; leaving them out
// keeps every verdict the same at any --concurrency. (Their own answers are judged by their own
// steps, and the run's other checks send the same kinds of request.)
func (s *scenario) runExchanges() []*exchange {
	all := s.r.rec.exchanges()
	out := all[:0]
	for _, ex := range all {
		if ex.check == s.id || !contains(s.r.index[ex.check].tags, wholeRunTag) {
			out = append(out, ex)
		}
	}
	return out
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
		for _, ex := range s.runExchanges() {
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
		for _, ex := range s.runExchanges() {
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
