// Merge: func Merge(files []string) (*evidence.LoadSummary, error) — combines results.bin files from several generators.

package load

import (
	"github.com/authzcheck/authzcheck/internal/evidence"

	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Merge combines the results.bin files of several load generators (each in Vegeta's encoding,
// as `vegeta report a.bin b.bin` reads them) into one evidence.LoadSummary: latencies, rates, status and
// error mix are recomputed from every result. Token-cache counters are summed from the
// summary.json beside each file when every file has one. The merged summary has Mode "merged"
// and Result "failed" when any source summary failed.
func Merge(files []string) (*evidence.LoadSummary, error) {
	if len(files) == 0 {
		return nil, errors.New("merge: no results files")
	}
	var (
		m    vegeta.Metrics
		errs errorTally
	)
	sum := &evidence.LoadSummary{Schema: evidence.LoadSummarySchema, Mode: "merged", Result: evidence.Passed}
	var cache *evidence.CacheFigures
	allCache := true
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		dec, err := decoderFor(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("merge: %s: %w", path, err)
		}
		for dec != nil {
			var r vegeta.Result
			if err := dec.Decode(&r); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				f.Close()
				return nil, fmt.Errorf("merge: %s: not a Vegeta results file (%v)", path, err)
			}
			if r.Error != "" {
				r.Error = errs.add(errorKind(r.Error))
			}
			r.Body, r.Headers = nil, nil
			m.Add(&r)
		}
		f.Close()
		sum.Sources = append(sum.Sources, path)
		s, err := evidence.ReadLoadSummary(filepath.Join(filepath.Dir(path), evidence.LoadSummaryName))
		if err != nil {
			allCache = false
			continue
		}
		if s.Result == evidence.Failed {
			sum.Result = evidence.Failed
			sum.Reason = "a source run failed: " + path
		}
		if sum.Target == "" {
			sum.Target, sum.TokenURL, sum.APIURL, sum.ClientID = s.Target, s.TokenURL, s.APIURL, s.ClientID
		}
		if s.Cache == nil {
			allCache = false
			continue
		}
		if cache == nil {
			cache = &evidence.CacheFigures{}
		}
		c := s.Cache
		cache.Instances += c.Instances
		cache.TokenFetches += c.TokenFetches
		cache.Hits += c.Hits
		cache.Refreshes += c.Refreshes
		cache.Stalls += c.Stalls
		cache.StallMS += c.StallMS
		cache.Failures += c.Failures
		cache.Invalidations += c.Invalidations
		cache.Retries401 += c.Retries401
		cache.LateRefreshes += c.LateRefreshes
		cache.ColdStartMS = max(cache.ColdStartMS, c.ColdStartMS)
		// lifetimes add up; the mean lifetime is weighted by them
		cache.TokenLifetimeMeanMS += c.TokenLifetimeMeanMS * c.Lifetimes
		cache.Lifetimes += c.Lifetimes
	}
	m.Close()
	sum.Started, sum.Finished = m.Earliest.UTC(), m.End.UTC()
	fillFromMetrics(sum, &m)
	sum.Errors = errs.counts()
	if allCache && cache != nil {
		cache.APICalls = int64(sum.Requests)
		if sum.Requests > 0 {
			cache.FetchesPerCall = float64(cache.TokenFetches) / float64(sum.Requests)
		}
		if cache.Lifetimes > 0 {
			cache.TokenLifetimeMeanMS /= cache.Lifetimes
			cache.FetchesPerLifetime = float64(cache.TokenFetches) / cache.Lifetimes
		} else {
			cache.TokenLifetimeMeanMS = 0
		}
		sum.Cache = cache
	}
	return sum, nil
}

// decoderFor returns the decoder of a results file in any encoding Vegeta writes (gob, JSON or
// CSV, as `vegeta report` reads them), or nil for an empty file.
func decoderFor(f *os.File) (vegeta.Decoder, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, nil
	}
	dec := vegeta.DecoderFor(f)
	if dec == nil {
		return nil, errors.New("not a Vegeta results file (gob, JSON or CSV)")
	}
	return dec, nil
}
