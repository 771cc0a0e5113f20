package evidence

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// LoadSummarySchema names the layout of summary.json.
const LoadSummarySchema = "authzcheck.load/v1"

// LoadSummary is load/summary.json: what a load run (or a merge of several) measured.
// Durations are milliseconds as floats (the _ms fields); ratios are 0..1.
type LoadSummary struct {
	Schema   string    `json:"schema"`
	Mode     string    `json:"mode"`   // issuance, cached, ramp or merged
	Result   string    `json:"result"` // passed or failed (thresholds, abort, ramp with no step held)
	Reason   string    `json:"reason,omitempty"`
	Stopped  string    `json:"stopped,omitempty"` // "", "interrupted" or "aborted"
	Name     string    `json:"name,omitempty"`    // the attack name (Vegeta's Result.Attack)
	Target   string    `json:"target"`            // the URL attacked
	TokenURL string    `json:"token_url,omitempty"`
	APIURL   string    `json:"api_url,omitempty"`
	ClientID string    `json:"client_id,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Plan     Plan      `json:"plan"`

	Requests    uint64           `json:"requests"`
	Rate        float64          `json:"rate"`       // sent per second
	Throughput  float64          `json:"throughput"` // successful per second
	Success     float64          `json:"success"`    // Vegeta's: 2xx/3xx over all
	DurationMS  float64          `json:"duration_ms"`
	WaitMS      float64          `json:"wait_ms"`
	LatencyMS   Latencies        `json:"latency_ms"`
	StatusCodes map[string]int   `json:"status_codes"`
	Errors      []ErrorCount     `json:"errors,omitempty"`
	RateLimited RateLimited      `json:"rate_limited"`
	ScheduleLag *ScheduleLag     `json:"schedule_lag,omitempty"`
	Tokens      *TokenFigures    `json:"tokens,omitempty"`
	Cache       *CacheFigures    `json:"cache,omitempty"`
	Steps       []Step           `json:"steps,omitempty"`
	HighestRate *float64         `json:"highest_rate_held,omitempty"` // ramp: per second
	Thresholds  []ThresholdCheck `json:"thresholds,omitempty"`
	Sources     []string         `json:"sources,omitempty"` // merged: the results files
	Files       []string         `json:"files,omitempty"`
	Problems    []string         `json:"problems,omitempty"`
}

// Plan is what the run was asked to do.
type Plan struct {
	Rate        string  `json:"rate,omitempty"` // Vegeta's freq/per, e.g. "100/1s"
	From        float64 `json:"from,omitempty"` // ramp, per second
	To          float64 `json:"to,omitempty"`
	Steps       int     `json:"steps,omitempty"`
	DurationMS  float64 `json:"duration_ms"`
	Workers     uint64  `json:"workers"`
	MaxWorkers  uint64  `json:"max_workers,omitempty"`
	Connections int     `json:"connections"`
	HTTP2       bool    `json:"http2"`
	Instances   int     `json:"instances,omitempty"` // cached: token caches
}

// Latencies are request latencies in milliseconds: of a load run, of a ramp step, and the
// figures of a bundle's load run in manifest.json and the report (one type for all three).
type Latencies struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// ErrorCount is one kind of error and how often it happened. Kinds beyond a cap are counted
// under "other".
type ErrorCount struct {
	Error string `json:"error"`
	Count int64  `json:"count"`
}

// RateLimited counts 429 answers and the pauses their Retry-After caused.
type RateLimited struct {
	Responses int64   `json:"responses"`
	Ratio     float64 `json:"ratio"`
	Pauses    int64   `json:"pauses"`
	PausedMS  float64 `json:"paused_ms"`
}

// ScheduleLag is how late requests left against the pacer's plan (coordinated omission):
// a request that left late hides the latency the plan would have seen.
type ScheduleLag struct {
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	MaxMS       float64 `json:"max_ms"`
	Late        int64   `json:"late"` // sent more than LateAfterMS late
	LateAfterMS float64 `json:"late_after_ms"`
}

// TokenFigures describe the tokens a token endpoint issued (issuance and ramp).
type TokenFigures struct {
	Responses       int64  `json:"responses"` // 200 answers with a token
	Distinct        int64  `json:"distinct"`
	DistinctExact   bool   `json:"distinct_exact"` // false: more than the cap; Distinct is a lower bound
	Changes         int64  `json:"changes"`        // answers whose token differed from the previous answer's
	Policy          string `json:"policy"`         // reissue, cached, cached-static-expires-in, mixed or unknown
	PolicyReason    string `json:"policy_reason"`
	CountingDown    int64  `json:"expires_in_counting_down"` // repeats of a token with a smaller expires_in
	NotCountingDown int64  `json:"expires_in_not_counting_down"`
	ExpiresInMin    int64  `json:"expires_in_min"`
	ExpiresInMax    int64  `json:"expires_in_max"`
	// Drift is (receipt + expires_in) - JWT exp, in ms: how far expires_in disagrees with exp.
	DriftMinMS  float64 `json:"expires_in_drift_min_ms"`
	DriftMaxMS  float64 `json:"expires_in_drift_max_ms"`
	DriftMeanMS float64 `json:"expires_in_drift_mean_ms"`
	DriftOver2s int64   `json:"expires_in_drift_over_2s"`
	NotJWT      int64   `json:"not_jwt"`
	Unparsable  int64   `json:"unparsable"`
}

// CacheFigures describe the token cache under the cached load.
type CacheFigures struct {
	Instances      int     `json:"instances"`
	APICalls       int64   `json:"api_calls"`
	TokenFetches   int64   `json:"token_fetches"` // during the attack (warm-up excluded)
	FetchesPerCall float64 `json:"fetches_per_call"`
	Hits           int64   `json:"hits"`
	Refreshes      int64   `json:"background_refreshes"`
	Stalls         int64   `json:"stalls"` // caller-visible waits for a token after warm-up
	StallMS        float64 `json:"stall_ms"`
	Failures       int64   `json:"fetch_failures"`
	Invalidations  int64   `json:"invalidations"`
	Retries401     int64   `json:"retries_401"`
	ColdStartMS    float64 `json:"cold_start_ms"`
	// Refresh lead: how long before the replaced token's expiry each new token was in place.
	RefreshCount      int64   `json:"refresh_count"`
	RefreshLeadMinMS  float64 `json:"refresh_lead_min_ms"`
	RefreshLeadMeanMS float64 `json:"refresh_lead_mean_ms"`
	RefreshLeadMaxMS  float64 `json:"refresh_lead_max_ms"`
	LateRefreshes     int64   `json:"late_refreshes"` // new token arrived after the old one expired
	// Token lifetime as received (expiry less arrival, the mean over every fetch), the number of
	// lifetimes the calls spanned (per instance, summed) and fetches per lifetime: a cache that
	// refreshes at a fraction f of the lifetime fetches about 1/f per lifetime.
	TokenLifetimeMeanMS float64         `json:"token_lifetime_mean_ms,omitempty"`
	Lifetimes           float64         `json:"lifetimes,omitempty"`
	FetchesPerLifetime  float64         `json:"fetches_per_lifetime,omitempty"`
	Server              *ServerCounters `json:"server,omitempty"`
}

// ServerCounters are the target's own counters for the client (the embedded mock reports them).
type ServerCounters struct {
	TokenRequests int64 `json:"token_requests"`
	TokensIssued  int64 `json:"tokens_issued"`
	APICalls      int64 `json:"api_calls"`
	Rejections    int64 `json:"rejections"`
}

// Step is one step of a ramp.
type Step struct {
	Index        int       `json:"index"`
	FromRate     float64   `json:"from_rate"`
	ToRate       float64   `json:"to_rate"`
	AchievedRate float64   `json:"achieved_rate"`
	Requests     uint64    `json:"requests"`
	Success      float64   `json:"success"`
	LatencyMS    Latencies `json:"latency_ms"`
	Held         bool      `json:"held"`
	Failed       []string  `json:"failed,omitempty"`
}

// ThresholdCheck is one threshold and what was measured.
type ThresholdCheck struct {
	Expr     string  `json:"expr"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Held     bool    `json:"held"`
}

// WriteJSON writes s to path atomically (temporary file and rename).
func (s *LoadSummary) WriteJSON(path string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "p99<250ms" stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes(), 0o644)
}

// ReadLoadSummary reads a load/summary.json.
func ReadLoadSummary(path string) (*LoadSummary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s LoadSummary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func fmtMS(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond).String()
}

// WriteText writes the console report: Vegeta's text report lines plus the token figures.
func (s *LoadSummary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	l := s.LatencyMS
	fmt.Fprintf(tw, "Requests\t[total, rate, throughput]\t%d, %.2f, %.2f\n", s.Requests, s.Rate, s.Throughput)
	fmt.Fprintf(tw, "Duration\t[total, attack, wait]\t%s, %s, %s\n", fmtMS(s.DurationMS+s.WaitMS), fmtMS(s.DurationMS), fmtMS(s.WaitMS))
	fmt.Fprintf(tw, "Latencies\t[min, mean, 50, 90, 95, 99, 99.9, max]\t%s, %s, %s, %s, %s, %s, %s, %s\n",
		fmtMS(l.Min), fmtMS(l.Mean), fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P95), fmtMS(l.P99), fmtMS(l.P999), fmtMS(l.Max))
	fmt.Fprintf(tw, "Success\t[ratio]\t%.2f%%\n", s.Success*100)
	codes := make([]string, 0, len(s.StatusCodes))
	for c := range s.StatusCodes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s:%d", c, s.StatusCodes[c])
	}
	fmt.Fprintf(tw, "Status Codes\t[code:count]\t%s\n", strings.Join(parts, "  "))
	if s.RateLimited.Responses > 0 {
		fmt.Fprintf(tw, "Rate limited\t[429s, pauses, paused]\t%d, %d, %s\n", s.RateLimited.Responses, s.RateLimited.Pauses, fmtMS(s.RateLimited.PausedMS))
	}
	if g := s.ScheduleLag; g != nil {
		fmt.Fprintf(tw, "Schedule lag\t[50, 99, max, late>%s]\t%s, %s, %s, %d\n", fmtMS(g.LateAfterMS), fmtMS(g.P50MS), fmtMS(g.P99MS), fmtMS(g.MaxMS), g.Late)
	}
	if t := s.Tokens; t != nil {
		approx := ""
		if !t.DistinctExact {
			approx = ">="
		}
		fmt.Fprintf(tw, "Tokens\t[responses, distinct, policy]\t%d, %s%d, %s (%s)\n", t.Responses, approx, t.Distinct, t.Policy, t.PolicyReason)
		if t.Responses > t.NotJWT {
			fmt.Fprintf(tw, "expires_in\t[min, max, drift min/mean/max vs exp]\t%d, %d, %s/%s/%s\n", t.ExpiresInMin, t.ExpiresInMax,
				fmtMS(t.DriftMinMS), fmtMS(t.DriftMeanMS), fmtMS(t.DriftMaxMS))
		}
	}
	if c := s.Cache; c != nil {
		fmt.Fprintf(tw, "Token cache\t[api calls, fetches, per call]\t%d, %d, %.5f\n", c.APICalls, c.TokenFetches, c.FetchesPerCall)
		if c.Lifetimes > 0 {
			fmt.Fprintf(tw, "Token lifetime\t[mean, lifetimes, fetches per lifetime]\t%s, %.1f, %.2f\n", fmtMS(c.TokenLifetimeMeanMS), c.Lifetimes, c.FetchesPerLifetime)
		}
		fmt.Fprintf(tw, "Token cache\t[stalls, 401 retries, failures]\t%d, %d, %d\n", c.Stalls, c.Retries401, c.Failures)
		fmt.Fprintf(tw, "Refresh lead\t[count, min, mean, max, late]\t%d, %s, %s, %s, %d\n", c.RefreshCount,
			fmtMS(c.RefreshLeadMinMS), fmtMS(c.RefreshLeadMeanMS), fmtMS(c.RefreshLeadMaxMS), c.LateRefreshes)
		if sc := c.Server; sc != nil {
			fmt.Fprintf(tw, "Server counted\t[token requests, api calls, rejections]\t%d, %d, %d\n", sc.TokenRequests, sc.APICalls, sc.Rejections)
		}
	}
	for _, e := range s.Errors {
		fmt.Fprintf(tw, "Error\t[%d]\t%s\n", e.Count, e.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Steps) > 0 {
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSTEP\tPLANNED/s\tACHIEVED/s\tREQUESTS\tSUCCESS\tP99\tHELD")
		for _, st := range s.Steps {
			held := "yes"
			if !st.Held {
				held = "no: " + strings.Join(st.Failed, "; ")
			}
			fmt.Fprintf(tw, "%d\t%.0f-%.0f\t%.1f\t%d\t%.2f%%\t%s\t%s\n", st.Index+1, st.FromRate, st.ToRate, st.AchievedRate, st.Requests, st.Success*100, fmtMS(st.LatencyMS.P99), held)
		}
		tw.Flush()
		if s.HighestRate != nil {
			fmt.Fprintf(w, "Highest rate at which the thresholds held: %.1f/s\n", *s.HighestRate)
		}
	}
	for _, t := range s.Thresholds {
		verdict := "held"
		if !t.Held {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "threshold %s: %s (measured %s)\n", t.Expr, verdict, t.Measured)
	}
	return nil
}
