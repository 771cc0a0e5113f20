package evidence

// ClientDir holds what a client certification run (package client) adds to a bundle.
const ClientDir = "client"

// TimelineFile is where a client certification run writes what each session saw on one time
// axis; report.html draws it.
const TimelineFile = ClientDir + "/timeline.json"

// ClientTimeline is client/timeline.json: per session, the token lifetimes, token requests and
// API calls, in milliseconds from the session's start. It holds no token and no secret.
type ClientTimeline struct {
	Sessions []TimelineSession `json:"sessions"`
}

// TimelineSession is one session of a client certification run.
type TimelineSession struct {
	Name       string          `json:"name"`
	About      string          `json:"about"`
	DurationMS int64           `json:"duration_ms"`
	Tokens     []TimelineToken `json:"tokens"`     // tokens issued: when, and until when
	Requests   []TimelineEvent `json:"requests"`   // token requests
	Calls      []TimelineEvent `json:"calls"`      // API calls (thinned to a bound, failures kept)
	CallsSeen  int             `json:"calls_seen"` // API calls in all, drawn or not
}

// TimelineToken is one token's lifetime.
type TimelineToken struct {
	IssuedMS  int64 `json:"issued_ms"`
	ExpiresMS int64 `json:"expires_ms"`
}

// TimelineEvent is one request: when it started and the status it got (0: no answer).
type TimelineEvent struct {
	AtMS   int64 `json:"at_ms"`
	Status int   `json:"status"`
}
