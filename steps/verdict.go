package steps

import (
	"sort"
	"strings"
	"time"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// maxReasons is how many failure reasons a check's reason joins; the rest are counted.
const maxReasons = 3

// worst returns the highest level among failures, or "" when there are none.
func worst(fs []failure) catalog.Level {
	var w catalog.Level
	for _, f := range fs {
		if f.level.Rank() > w.Rank() {
			w = f.level
		}
	}
	return w
}

// verdict decides one check from the outcomes of its scenario's pickles (an outline has one
// per example):
//   - a failure at MUST or SHOULD in any pickle fails the check, at the level of the worst
//     failing part, with "expected X, got Y" reasons; INFO never fails (its findings are notes);
//   - otherwise it passed if any pickle ran, at INFO when every one that ran judged only
//     information (an opaque token's JWT-02 under rfc6749), and is skipped (with the reason) if
//     none did;
//   - a failed check with a waiver that has not expired is waived, with the waiver's reason;
//     one whose waiver has expired stays failed, with a note naming the expired waiver.
func verdict(c catalog.Check, title, profile string, outs []outcome, skip string, waivers []evidence.Waiver, now time.Time, red *redact.Redactor) evidence.CheckResult {
	res := evidence.CheckResult{ID: c.ID, Title: title, Level: string(c.Level(profile)), Transcripts: []string{}}
	var (
		fails []failure
		ran   int
		info  int // pickles that ran and judged only information (outcome.info)
		skips []string
	)
	for _, o := range outs {
		res.DurationMS += o.dur.Milliseconds()
		res.Transcripts = append(res.Transcripts, o.transcripts...)
		res.Notes = append(res.Notes, o.notes...)
		if o.skip != "" && len(o.failures) == 0 {
			skips = append(skips, o.skip)
			continue
		}
		ran++
		if o.info {
			info++
		}
		fails = append(fails, o.failures...)
	}
	res.Transcripts = dedupe(res.Transcripts)
	res.Notes = dedupe(res.Notes)
	switch {
	case len(outs) == 0:
		res.Status, res.Reason = evidence.StatusSkipped, skip
	case len(fails) > 0:
		lvl := worst(fails)
		// Report the reasons of the worst level first.
		sort.SliceStable(fails, func(i, j int) bool { return fails[i].level.Rank() > fails[j].level.Rank() })
		var rs []string
		for _, f := range fails {
			rs = append(rs, f.reason)
		}
		rs = dedupe(rs)
		if len(rs) > maxReasons {
			rs = append(rs[:maxReasons], "and "+itoa(len(rs)-maxReasons)+" more")
		}
		// Each reason is bounded (maxFindingBytes); so is their join, when several variants
		// (AUTH-13's) each quote a huge answer. It is redacted before it is cut: a cut through
		// a secret would leave a fragment the redactor no longer knows.
		res.Status, res.Level, res.Reason = evidence.StatusFailed, string(lvl), clip(red, strings.Join(rs, "; "), 2*maxFindingBytes-len("…"))
	case ran > 0:
		res.Status = evidence.StatusPassed
		if info == ran {
			res.Level = string(catalog.Info)
		}
		if len(skips) > 0 {
			res.Notes = append(res.Notes, itoa(len(skips))+" of "+itoa(len(outs))+" variants skipped: "+strings.Join(dedupe(skips), "; "))
		}
	default:
		res.Status, res.Reason = evidence.StatusSkipped, strings.Join(dedupe(skips), "; ")
	}
	if res.Status == evidence.StatusFailed {
		if w, ok := activeWaiver(waivers, c.ID, now); ok {
			res.Notes = append(res.Notes, "waived failure ("+res.Level+"): "+res.Reason)
			res.Status, res.Reason = evidence.StatusWaived, w.Reason
			if w.Expires != "" {
				res.Reason += " (waiver expires " + w.Expires + ")"
			}
		} else {
			// An expired waiver is not applied, but the row names it, as the manifest and the
			// report do: summary.json alone must not read as though none had been given.
			for _, w := range waivers {
				if w.ID == c.ID && w.ExpiredAt(now) {
					res.Notes = append(res.Notes, "waiver expired on "+w.Expires+" (not applied): "+w.Reason)
				}
			}
		}
	}
	return res
}

// summarize counts the results and decides the run: failed when a MUST check failed, or a
// SHOULD check under strict.
func summarize(results []evidence.CheckResult, strict bool) (string, evidence.Counts) {
	var n evidence.Counts
	result := evidence.Passed
	for _, r := range results {
		n.Total++
		switch r.Status {
		case evidence.StatusPassed:
			n.Passed++
		case evidence.StatusSkipped:
			n.Skipped++
		case evidence.StatusWaived:
			n.Waived++
		case evidence.StatusFailed:
			n.Failed++
			switch catalog.Level(r.Level) {
			case catalog.Must:
				n.FailedMust++
				result = evidence.Failed
			case catalog.Should:
				n.FailedShould++
				if strict {
					result = evidence.Failed
				}
			default:
				n.FailedInfo++
			}
		}
	}
	return result, n
}

// summary builds summary.json from the collected outcomes, every check in catalogue order.
// Waivers are judged at the run's start, as the manifest lists them.
func (r *runner) summary(started, finished time.Time) *evidence.Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var results []evidence.CheckResult
	for _, c := range r.catalogue() {
		skip := r.skips[c.ID]
		if skip == "" {
			skip = "not run"
		}
		res := verdict(c, r.index[c.ID].title, r.cfg.Profile, r.outcomes[c.ID], skip, r.cfg.Waivers, started, r.red)
		// Reasons and notes quote what the target said: redact them like a transcript.
		res.Reason = r.red.String(res.Reason)
		for i, n := range res.Notes {
			res.Notes[i] = r.red.String(n)
		}
		results = append(results, res)
	}
	result, counts := summarize(results, r.cfg.Strict)
	return &evidence.Summary{
		Result:   result,
		Profile:  r.cfg.Profile,
		Target:   r.red.String(r.cfg.TokenURL),
		Started:  started.UTC(),
		Finished: finished.UTC(),
		Counts:   counts,
		Checks:   results,
	}
}

func dedupe(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
