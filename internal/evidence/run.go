package evidence

import "time"

// RunInfo describes a run for manifest.json. It never holds a secret.
type RunInfo struct {
	RunID     string    `json:"run_id"`
	Kind      string    `json:"kind"` // KindConformance or KindLoad
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Profile   string    `json:"profile,omitempty"`
	Tags      string    `json:"tags,omitempty"`
	Seed      int64     `json:"seed"`
	Strict    bool      `json:"strict"`
	Waivers   []Waiver  `json:"waivers,omitempty"`
	TargetURL string    `json:"target_url"`
	APIURL    string    `json:"api_url,omitempty"`
	ClientID  string    `json:"client_id"`
	// Result is Passed or Failed as the run decided it (a load run: its thresholds). Empty
	// for a conformance run means: take it from summary.json.
	Result string `json:"result,omitempty"`
}
