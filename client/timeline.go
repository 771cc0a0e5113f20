package client

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// maxTimelineCalls bounds the API calls a session's timeline draws; failures are always kept.
const maxTimelineCalls = 1500

// timeline is what report.html draws per session: token lifetimes, token requests and API calls
// on one axis, in milliseconds from the session's start. It holds no token and no secret.
func (j *judge) timeline() evidence.ClientTimeline {
	var t evidence.ClientTimeline
	for _, d := range sessionDefs {
		o, ok := j.outcomes[d.name]
		if !ok || o.s == nil {
			continue
		}
		ms := func(r record, end bool) int64 {
			at := r.Start
			if end {
				at = r.End
			}
			return at.Sub(o.started).Milliseconds()
		}
		ts := evidence.TimelineSession{Name: d.name, About: d.about, DurationMS: o.ended.Sub(o.started).Milliseconds(),
			CallsSeen: o.count("api")}
		var ok2, bad []evidence.TimelineEvent
		for _, r := range o.recs("main") {
			switch {
			case isToken(&r):
				ts.Requests = append(ts.Requests, evidence.TimelineEvent{AtMS: ms(r, false), Status: r.Status})
				if r.IssuedToken != "" {
					exp := r.TokenExpiry
					if exp.IsZero() {
						exp = r.End.Add(d.ttl)
					}
					ts.Tokens = append(ts.Tokens, evidence.TimelineToken{IssuedMS: ms(r, true), ExpiresMS: exp.Sub(o.started).Milliseconds()})
				}
			case isAPI(&r):
				e := evidence.TimelineEvent{AtMS: ms(r, false), Status: r.Status}
				if ok2xx(&r) {
					ok2 = append(ok2, e)
				} else {
					bad = append(bad, e)
				}
			}
		}
		if room := maxTimelineCalls - len(bad); len(ok2) > room {
			thin := make([]evidence.TimelineEvent, 0, max(room, 0))
			for i := 0; i < max(room, 0); i++ {
				thin = append(thin, ok2[i*len(ok2)/room])
			}
			ok2 = thin
		}
		ts.Calls = append(ok2, bad...)
		sort.Slice(ts.Calls, func(a, b int) bool { return ts.Calls[a].AtMS < ts.Calls[b].AtMS })
		t.Sessions = append(t.Sessions, ts)
	}
	return t
}

// writeTimeline writes client/timeline.json into the bundle.
func (j *judge) writeTimeline(dir string) error {
	b, err := json.MarshalIndent(j.timeline(), "", " ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, filepath.FromSlash(evidence.TimelineFile))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return evidence.WriteFileAtomic(p, append(b, '\n'), 0o644)
}
