package client

import (
	"context"
	"time"
)

// runSession runs COMMAND once against a fresh session of def: it starts the mock and front,
// the command with the session's environment, lets it work for def.run (or until it exits, or
// ctx ends), stops it and its descendants, and stops the servers. The session is returned also
// with an error, which says why COMMAND could not be started. What it keeps comes out of budget.
func runSession(ctx context.Context, def sessionDef, cfg *Config, tmp string, budget *recordBudget) (*session, error) {
	s, err := newSession(def, budget)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	caFile := ""
	if def.tls == tlsTrusted {
		if caFile, err = s.writeCA(tmp); err != nil {
			return s, err
		}
	}
	spec := procSpec{
		argv:  expandArgs(cfg.Command, s.TokenURL(), s.APIURL(), s.clientID),
		dir:   cfg.WorkDir,
		env:   s.env(cfg.Env, caFile),
		grace: cfg.Grace,
	}
	s.started = time.Now()
	p, err := startProcess(spec)
	if err != nil {
		s.ended = time.Now()
		return s, err
	}
	p.runFor(ctx, def.run)
	s.stopping = time.Now()
	s.proc = p.Stop()
	s.ended = time.Now()
	return s, nil
}
