package steps

import (
	"context"
	"fmt"
	"mime"
	"strings"
)

// Checks over every token answer of the run (TOK-02, TOK-04, TOK-08, TOK-10, JWT-07, JWT-08): a
// defect that shows only
// in a scoped answer, or only across clients, is unseen by a check that judges its own token.
// These checks are tagged @whole-run, so they run after every other scenario, and judge what the
// recorder kept of each token answer (tokenfacts.go).

func registerEveryTokenSteps(t *stepTable) {
	outcomeFamily(t, "", []outcomeEntry{
		{"every token of the run has the claim jti", args0(runEveryHasJTI)},
		{"no two different tokens of the run share a jti", args0(runUniqueJTI)},
		{"for every other token answer of the run, the token's scope claim, when present, equals the granted scope as a set", args0(runScopeClaims)},
		{"every other token answer of the run has the header Cache-Control no-store", args0(runTokensNoStore)},
		{"every other token answer of the run has the header Content-Type application/json", args0(runTokensJSON)},
		{`every other token answer of the run has token_type "Bearer" in any letter case`, args0(runTokensBearer)},
		{"no other token answer of the run has a refresh_token", args0(runTokensNoRefresh)},
	})
}

// runTokenAnswers are the run's token answers with an access token, the scenario's own included.
func runTokenAnswers(s *scenario) []*exchange {
	var out []*exchange
	for _, ex := range s.runExchanges() {
		if ex.tok != nil {
			out = append(out, ex)
		}
	}
	return out
}

// distinctJWTs are the run's JWT access tokens, each token once (a cached token answered again
// is one token), in the order they came.
func distinctJWTs(s *scenario) []*exchange {
	seen := map[[32]byte]bool{}
	var out []*exchange
	for _, ex := range runTokenAnswers(s) {
		if !ex.tok.jwt || seen[ex.tok.sum] {
			continue
		}
		seen[ex.tok.sum] = true
		out = append(out, ex)
	}
	return out
}

// where names the check and transcript of an exchange in a reason.
func where(ex *exchange) string { return fmt.Sprintf("%s (%s)", ex.check, ex.file) }

// runEveryHasJTI (JWT-08): the scenario's token is judged as a JWT first (an opaque token is
// skipped under rfc6749, a failure otherwise), then every JWT access token of the run.
func runEveryHasJTI(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		if _, _, err := jwtOf(s); err != nil {
			return err
		}
		toks := distinctJWTs(s)
		var without []string
		for _, ex := range toks {
			if !ex.tok.hasJTI {
				without = append(without, ex.file)
				if len(without) == 1 {
					s.note("first token without a jti: %s", where(ex))
				}
			}
		}
		if len(without) > 0 {
			s.transcripts = append(s.transcripts, without...)
			return fmt.Errorf("expected every token of the run to have a jti claim, got %d of %d tokens without one", len(without), len(toks))
		}
		s.note("%d distinct JWT access tokens in the run, each with a jti", len(toks))
		return nil
	})
}

// runUniqueJTI (JWT-08): no two different tokens of the run, whichever client or check they came
// to, share a jti. The same token answered twice (a cache) is one token.
func runUniqueJTI(ctx context.Context) error {
	return judge(ctx, func(s *scenario) error {
		first := map[[32]byte]*exchange{}
		var reasons, files []string
		dups := 0
		for _, ex := range distinctJWTs(s) {
			if !ex.tok.hasJTI {
				continue
			}
			prev, dup := first[ex.tok.jtiSum]
			if !dup {
				first[ex.tok.jtiSum] = ex
				continue
			}
			dups++
			files = append(files, prev.file, ex.file)
			if len(reasons) < maxReasons {
				reasons = append(reasons, fmt.Sprintf("jti %q in the tokens of %s and %s", ex.tok.jti, where(prev), where(ex)))
			}
		}
		if dups == 0 {
			return nil
		}
		s.transcripts = append(s.transcripts, dedupe(files)...)
		more := ""
		if dups > len(reasons) {
			more = fmt.Sprintf("; and %d more", dups-len(reasons))
		}
		return fmt.Errorf("expected a different jti for each token of the run, got %d tokens whose jti an earlier different token has: %s%s",
			dups, strings.Join(reasons, "; "), more)
	})
}

// runScopeClaims (JWT-07): every other token answer's scope claim equals its granted scope.
func runScopeClaims(ctx context.Context) error {
	return judgeEveryOther(ctx, "token answers whose scope claim could be compared", func(ex *exchange) (bool, string) {
		if ex.tok == nil || !ex.tok.scopeJudged {
			return false, ""
		}
		return true, ex.tok.scopeWhy
	})
}

// runTokensNoStore (TOK-08): every other token answer forbids caching, scoped ones included.
func runTokensNoStore(ctx context.Context) error {
	return judgeEveryOther(ctx, "token answers", func(ex *exchange) (bool, string) {
		if !isTokenAnswer(ex) {
			return false, ""
		}
		if !contains(directives(ex.header.Values("Cache-Control")), "no-store") {
			return true, fmt.Sprintf("expected Cache-Control: no-store, got %q", ex.header.Get("Cache-Control"))
		}
		return true, ""
	})
}

// isTokenAnswer is a 2xx answer of the token endpoint that carried an access token.
func isTokenAnswer(ex *exchange) bool { return ex.tok != nil && ex.to == toToken }

// runTokensJSON (TOK-02): every other token answer says it is JSON.
func runTokensJSON(ctx context.Context) error {
	return judgeEveryOther(ctx, "token answers", func(ex *exchange) (bool, string) {
		if !isTokenAnswer(ex) {
			return false, ""
		}
		ct := ex.header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.EqualFold(mt, "application/json") {
			return true, fmt.Sprintf("expected Content-Type: application/json, got %q", ct)
		}
		return true, ""
	})
}

// runTokensBearer (TOK-04): every other token answer's token_type is Bearer.
func runTokensBearer(ctx context.Context) error {
	return judgeEveryOther(ctx, "token answers", func(ex *exchange) (bool, string) {
		if !isTokenAnswer(ex) {
			return false, ""
		}
		if !ex.tok.hasTokenType {
			return true, "expected token_type \"Bearer\", got no string token_type"
		}
		if !strings.EqualFold(ex.tok.tokenType, "Bearer") {
			return true, fmt.Sprintf("expected token_type \"Bearer\" (any case), got %q", ex.tok.tokenType)
		}
		return true, ""
	})
}

// runTokensNoRefresh (TOK-10): no other token answer carries a refresh token.
func runTokensNoRefresh(ctx context.Context) error {
	return judgeEveryOther(ctx, "token answers", func(ex *exchange) (bool, string) {
		if !isTokenAnswer(ex) {
			return false, ""
		}
		if ex.tok.refresh {
			return true, "expected no field refresh_token, got one"
		}
		return true, ""
	})
}

// judgeEveryOther is judgeEach for a check that also judges its own answer: when no other
// exchange of the run is relevant (a run of this check alone), it notes so and passes on its own
// answer's verdict rather than being skipped.
func judgeEveryOther(ctx context.Context, what string, judgeOne func(*exchange) (bool, string)) error {
	s := stateOf(ctx)
	for _, ex := range s.runExchanges() {
		if relevant, _ := judgeOne(ex); relevant && ex.check != s.id {
			return judgeEach(ctx, what, judgeOne)
		}
	}
	return judge(ctx, func(s *scenario) error {
		s.note("no other %s in this run", what)
		return nil
	})
}
