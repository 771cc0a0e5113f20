package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/mock"
	"github.com/authzcheck/authzcheck/steps"
)

// ServeConfig is a --serve run: Config's selection, evidence and output settings (Command,
// Env, Grace and Parallel are not used), where to listen and how long each scenario lasts.
type ServeConfig struct {
	Config
	// Addr is the front's listen address ("127.0.0.1:0" when empty).
	Addr string
	// AllowNonLoopback permits an Addr other machines reach.
	AllowNonLoopback bool
	// Duration overrides each scenario's own length when positive.
	Duration time.Duration
	// Status draws a live status line on Stdout (a terminal).
	Status bool
	// WaitFirst bounds the wait for the client's first request (default 10 minutes).
	WaitFirst time.Duration
}

// unservedWhy is why some sessions are not run under --serve.
const unservedWhy = "is not run under --serve: its URLs or TLS setting differ from the ones printed at the start"

// servable reports whether a session can run on the one front --serve starts: not the TLS
// sessions (the URLs printed are plain HTTP) nor the redirect (its other origin is loopback).
func servable(d sessionDef) bool { return d.tls == tlsOff && !d.redirect }

// serveOrder puts the faults last, so that a client's trouble with one does not spoil the
// judgement of the plain sessions.
var serveOrder = []string{"baseline", "string expires_in", "lower-case bearer", "revocation", "rate limited", "unavailable", "every token rejected"}

// Serve runs the selected checks against a client started elsewhere: it serves one front and
// mock on sc.Addr, prints the URLs and the (throwaway) credentials, waits for the client's
// first request, runs the sessions one after another and judges what it saw, as Run does.
func Serve(ctx context.Context, sc ServeConfig) (*evidence.Summary, error) {
	cfg := sc.Config
	if sc.Addr == "" {
		sc.Addr = "127.0.0.1:0"
	}
	if sc.WaitFirst <= 0 {
		sc.WaitFirst = 10 * time.Minute
	}
	host, _, err := net.SplitHostPort(sc.Addr)
	if err != nil {
		return nil, &steps.ConfigError{Err: fmt.Errorf("--addr %q: %v; want HOST:PORT", sc.Addr, err)}
	}
	if !sc.AllowNonLoopback && !loopback.Host(host) {
		return nil, &steps.ConfigError{Err: fmt.Errorf("--addr %s is not loopback; add --allow-non-loopback to serve other machines (plain HTTP, throwaway credentials)", sc.Addr)}
	}
	suite, pick, defs, err := plan(cfg.Only)
	if err != nil {
		return nil, err
	}
	var run []sessionDef
	for _, name := range serveOrder {
		for _, d := range defs {
			if d.name == name && servable(d) {
				if sc.Duration > 0 {
					d.run = sc.Duration
				}
				run = append(run, d)
			}
		}
	}
	if len(run) == 0 {
		return nil, &steps.ConfigError{Err: errors.New("none of the selected checks can be judged under --serve (TLS and redirect need 'authzcheck client -- COMMAND')")}
	}
	waiting := run[0]
	waiting.name = "waiting"
	s, err := newSessionAt(waiting, sc.Addr, newRecordBudget(maxRunRecords, 1))
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			return nil, &steps.ConfigError{Err: fmt.Errorf("--addr %s: %v", sc.Addr, oe.Err)}
		}
		return nil, err
	}
	defer s.Close()
	out := cfg.Stdout
	say := func(format string, args ...any) {
		if out != nil {
			fmt.Fprintf(out, format, args...)
		}
	}
	say("authzcheck client --serve: point your client at\n")
	say("  AUTHZ_TOKEN_URL=%s\n  AUTHZ_API_URL=%s\n  AUTHZ_CLIENT_ID=%s\n  AUTHZ_CLIENT_SECRET=%s\n", s.TokenURL(), s.APIURL(), s.clientID, s.secret)
	say("(throwaway credentials of this run's mock; %d scenarios, about %s, start with the client's first request)\n", len(run), total(run))

	started := time.Now()
	wctx, cancel := context.WithTimeout(ctx, sc.WaitFirst)
	first := s.wait(wctx, func() bool { return s.total() > 0 })
	cancel()
	if !first {
		if ctx.Err() != nil {
			return nil, errors.New("interrupted before the client made any request")
		}
		return nil, fmt.Errorf("no request reached %s within %s: is the client pointed at it?", s.APIURL(), sc.WaitFirst)
	}
	outs := map[string]*outcome{}
	for i, d := range run {
		if err := s.mock.Control().SetConfig(ctx, mock.ConfigPatch{TokenTTL: &d.ttl}); err != nil {
			return nil, fmt.Errorf("session %s: %w", d.name, err)
		}
		if err := s.mock.Control().SetQuirks(ctx, d.quirks()); err != nil {
			return nil, fmt.Errorf("session %s: %w", d.name, err)
		}
		s.setPhase(d)
		o := &outcome{def: d, s: s, phase: d.name, started: time.Now()}
		ticker := time.NewTicker(500 * time.Millisecond)
		deadline := time.NewTimer(d.run)
	phase:
		for {
			select {
			case <-ctx.Done():
				break phase
			case <-deadline.C:
				break phase
			case <-ticker.C:
				if sc.Status && out != nil {
					fmt.Fprintf(out, "\r  [%d/%d] %-22s %3.0f s left: %d token requests, %d API calls   ", i+1, len(run), d.name,
						time.Until(o.started.Add(d.run)).Seconds(), o.count("token"), o.count("api"))
				}
			}
		}
		ticker.Stop()
		deadline.Stop()
		o.ended = time.Now()
		outs[d.name] = o
		if sc.Status && out != nil {
			fmt.Fprint(out, "\r"+strings.Repeat(" ", 90)+"\r")
		}
		say("  session %-22s %s\n", d.name, sessionLine(o))
		if ctx.Err() != nil {
			return nil, errors.New("interrupted")
		}
	}
	return judgeAndWrite(ctx, &cfg, suite, pick, outs, started, unservedWhy)
}

func total(defs []sessionDef) time.Duration {
	var t time.Duration
	for _, d := range defs {
		t += d.run
	}
	return t
}

// total is how many requests the session saw.
func (s *session) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// wait polls cond until it holds or ctx ends.
func (s *session) wait(ctx context.Context, cond func() bool) bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
