package steps

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Actions of the CACHE checks that depend on time: a server's behaviour may change within a
// second (tokens derived from the second they are issued in) or a moment later (a revocation
// that lands after the answer), so these look again later, or send at once on purpose. They
// wait through cfg.wait: tests against the mock move its clock instead.

// cacheActions are the actions "When I ..." of these checks, with their arguments.
var cacheActions = []struct {
	wording string
	do      func(ctx context.Context, args []string) error
}{
	{`request a token with valid credentials once more (\d+) seconds? later, when a token came twice`, requestAgainWhenRepeated},
	{`request a token as each client at once, (\d+) times (\d+) ms apart`, requestPairs},
}

var cacheActionWordings = sync.OnceValue(func() *wordings {
	ws := make([]string, len(cacheActions))
	for i, a := range cacheActions {
		ws[i] = a.wording
	}
	return newWordings(ws)
})

func registerCacheSteps(t *stepTable) {
	t.family(`^I `+cacheActionWordings().alt+`$`, cacheActionWordings(), func(ctx context.Context, wording string) error {
		i, args, ok := cacheActionWordings().match(wording)
		if !ok {
			return noWording(wording)
		}
		return cacheActions[i].do(ctx, args)
	})
}

// seconds is n seconds; n comes from a step's \d+.
func seconds(n string) time.Duration {
	v, _ := strconv.Atoi(n)
	return time.Duration(v) * time.Second
}

// requestAgainWhenRepeated (CACHE-01): when the latest batch answered a token twice, ask once
// more after a delay of at least a second, so that a server whose tokens are derived from the
// second they are issued in answers a new one, and a cache answers the same.
func requestAgainWhenRepeated(ctx context.Context, args []string) error {
	secs := args[0]
	s := stateOf(ctx)
	if repeatedToken(s.batch) == "" {
		return nil
	}
	if err := s.r.cfg.wait(ctx, seconds(secs)); err != nil {
		return precondition(s, fmt.Errorf("could not wait to ask again: %v", err))
	}
	req, err := buildRequest(s, "request a token with valid credentials")
	if err != nil {
		return precondition(s, err)
	}
	s.later = send(ctx, req)
	return nil
}

// repeatedToken is the first access token a batch's answers hold twice ("" when none does).
func repeatedToken(batch []*exchange) string {
	seen := map[string]bool{}
	for _, ex := range batch {
		if tok, ok := ex.accessToken(); ok {
			if seen[tok] {
				return tok
			}
			seen[tok] = true
		}
	}
	return ""
}

// requestPairs (CACHE-05): the two clients ask for a token at the same moment, several times a
// little apart, so that at least one pair falls within one second of the server's clock
// whatever the link (a boundary between seconds splits at most one pair). A server that hands
// every client the token of the second is seen, not only when sequential requests happen to
// share a second. Every answer's token is held with its client; one missing is a precondition.
func requestPairs(ctx context.Context, args []string) error {
	s := stateOf(ctx)
	n, _ := strconv.Atoi(args[0])
	ms, _ := strconv.Atoi(args[1])
	s.r.prepare(ctx, s, s.r.cfg.Client2ID) // each client's credentials in the form found for it
	pair := [2]request{s.r.tokenReq(validForm), s.r.client2Req()}
	for _, req := range pair {
		if err := s.r.baseline(s, req); err != nil {
			return precondition(s, err)
		}
	}
	gap := time.Duration(ms) * time.Millisecond
	first := s.r.cfg.Now()
	for k := range n {
		if k > 0 {
			// Pair k starts k gaps after the first, whatever the pairs' round trips took.
			if err := s.r.cfg.wait(ctx, max(0, first.Add(time.Duration(k)*gap).Sub(s.r.cfg.Now()))); err != nil {
				return precondition(s, fmt.Errorf("could not wait between the pairs: %v", err))
			}
		}
		var exs [2]*exchange
		var wg sync.WaitGroup
		for i := range pair {
			req := pair[i]
			req.header = req.header.Clone()
			wg.Go(func() { exs[i] = s.r.rec.do(ctx, s.id, req) })
		}
		wg.Wait()
		for i, ex := range exs {
			s.record(ex)
			tok, ok := ex.accessToken()
			if !ok || tok == "" || ex.status/100 != 2 {
				return precondition(s, fmt.Errorf("no token to judge: could not get a token for %s: expected status 200 with an access_token, got %s", pair[i].client, ex.describe()))
			}
			s.tokens = append(s.tokens, heldToken{raw: tok, client: pair[i].client, ex: ex})
		}
	}
	return nil
}

// firstTokenLater (CACHE-03) presents the scenario's first token again after a delay: a server
// that revokes earlier tokens a moment after issuing a new one passes a call made at once.
func firstTokenLater(ctx context.Context, s *scenario, a []string) ([]request, error) {
	tok, err := s.token(true)
	if err != nil {
		return nil, err
	}
	// Counted from the second token's answer: the calls made since are part of the delay.
	last := s.tokens[len(s.tokens)-1].ex
	since := last.started.Add(last.dur)
	if err := s.r.cfg.wait(ctx, max(0, seconds(a[0])-s.r.cfg.Now().Sub(since))); err != nil {
		return nil, fmt.Errorf("could not wait to call again: %v", err)
	}
	s.note("the first token was presented again %s s after the second token was issued", a[0])
	return []request{s.apiReq("Bearer " + tok)}, nil
}

// ownClientCheck runs as a client of its own when the run has a second client. CACHE-03 asks
// whether a client's newer token revokes its earlier ones, so no other token of its client may
// be issued while it waits to look again: as the first client it must run alone, with the
// ordered checks. No other check of the independent pass asks for the second client's tokens
// (CACHE-05 runs alone, after it), so as the second client it runs there, alongside the others:
// its second's wait no longer adds to the run's wall time.
const ownClientCheck = "CACHE-03"

// aloneWeight is runner.alone's whole weight: more than scenarios ever run at once.
const aloneWeight = 1 << 30

// ownClient is the client ownClientCheck runs as: the second client, when the run has one that
// is not the first; else "" (the first client, alone).
func (r *runner) ownClient() string {
	c := r.cfg
	if c.Client2ID == "" || c.Client2Secret == "" || c.Client2ID == c.ClientID {
		return ""
	}
	return c.Client2ID
}

// aloneAsFirstClient moves a scenario running as the second client to the first client, run
// alone: it waits until no other scenario runs and keeps any from starting until it ends, then
// asks, as the first client, for the n tokens the scenario holds by now. It is for a second
// client that cannot serve the check (it got no token, or the API did not accept its newest
// token: a client without the API's scope says nothing of revocation), which then judges the
// first as it would have alone. why says what the second client met; the note keeps it.
func (s *scenario) aloneAsFirstClient(ctx context.Context, why string, n int) error {
	s.note("as the second client, %s; the check ran again as the first client, alone", why)
	if s.hold == shared {
		s.r.alone.Release(1)
		s.hold = notHeld
	}
	if err := s.r.alone.Acquire(ctx, aloneWeight); err != nil {
		return fmt.Errorf("could not wait for the other checks to finish: %w", err)
	}
	s.hold = exclusive
	s.as, s.tokens = "", nil
	s.r.prepare(ctx, s, "")
	for range n {
		if err := getToken(ctx, s, form(validForm), nil, "a token as the first client", false); err != nil {
			return err
		}
	}
	return nil
}
