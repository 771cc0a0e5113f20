package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// maxSeriesPoints bounds the latency-over-time series: longer runs use wider buckets.
const maxSeriesPoints = 600

// LoadFigures summarise a load run for the manifest and the report. They are the figures of
// load/summary.json, the ones its thresholds were judged on (Vegeta's metrics: t-digest
// percentiles, duration from the first request sent to the last); only a bundle without a
// readable summary.json has them computed from results.bin (ReadResults).
type LoadFigures struct {
	Requests   int64              `json:"requests"`
	Success    float64            `json:"success"`    // Vegeta's success ratio: 2xx and 3xx answers over all, 0..1
	Rate       float64            `json:"rate"`       // requests sent per second
	Throughput float64            `json:"throughput"` // successful requests per second
	DurationMS float64            `json:"duration_ms"`
	LatencyMS  evidence.Latencies `json:"latency_ms"`
	Status     map[string]int     `json:"status_codes"` // "200": count; "0" means no answer
	Errors     []string           `json:"errors,omitempty"`
}

// SeriesPoint is one bucket of the latency-over-time series.
type SeriesPoint struct {
	OffsetS  float64 // start of the bucket, seconds since the first request
	Requests int
	Errors   int // neither 2xx nor 3xx (no answer included), as Vegeta counts success
	P50MS    float64
	P99MS    float64
	MaxMS    float64
}

// LoadData is what the report shows of a load run.
type LoadData struct {
	Figures *LoadFigures // from summary.json, else from results.bin; nil when both are absent
	// FiguresFrom names the file Figures come from (LoadSummaryFile or LoadResultsFile).
	FiguresFrom string
	Series      []SeriesPoint // from results.bin
	BucketS     float64       // width of a Series bucket in seconds
	Summary     any           // load/summary.json, decoded generically (nil when absent)
	HasPlot     bool          // load/plot.html is in the bundle
	Problems    []string
}

// maxErrorKinds bounds the distinct transport errors kept.
const maxErrorKinds = 10

// ReadResults reads a Vegeta results file (any of Vegeta's encodings) and computes its figures and
// its latency-over-time series. The figures count success as Vegeta does (2xx and 3xx) but are
// exact: percentiles by nearest rank, and DurationMS from the first start to the last end;
// load/summary.json's are preferred when the bundle has it. Only 8 bytes a result are kept (its start, to the millisecond,
// and its latency, to the microsecond), never bodies.
func ReadResults(r io.Reader) (*LoadFigures, []SeriesPoint, float64, error) {
	dec := vegeta.DecoderFor(r)
	if dec == nil {
		return nil, nil, 0, errors.New("not a Vegeta results file")
	}
	// sample is one result: its start in ms after the first result read (which need not be the
	// earliest), and its latency in µs with failedBit set when it was not a 2xx.
	type sample struct {
		offMS int32
		latUS uint32
	}
	const failedBit = 1 << 31
	var (
		samples   []sample
		status    = map[string]int{}
		errKinds  []string
		success   int64
		origin    time.Time // the first result read
		first     time.Time // the earliest start
		lastEnd   time.Time
		lastStart time.Time
	)
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, nil, 0, fmt.Errorf("decode results: %w", err)
		}
		ok := res.Code >= 200 && res.Code < 400 // Vegeta's success
		if ok {
			success++
		}
		status[strconv.Itoa(int(res.Code))]++
		if res.Error != "" && len(errKinds) < maxErrorKinds && !containsString(errKinds, res.Error) {
			errKinds = append(errKinds, res.Error)
		}
		if origin.IsZero() {
			origin = res.Timestamp
		}
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if res.Timestamp.After(lastStart) {
			lastStart = res.Timestamp
		}
		if e := res.End(); e.After(lastEnd) {
			lastEnd = e
		}
		lat := res.Latency / time.Microsecond
		if lat < 0 {
			lat = 0
		}
		if lat >= failedBit {
			lat = failedBit - 1 // 35 minutes: longer is off any chart
		}
		off := res.Timestamp.Sub(origin) / time.Millisecond
		off = max(min(off, math.MaxInt32), math.MinInt32) // a run spans far less than 24 days
		smp := sample{offMS: int32(off), latUS: uint32(lat)}
		if !ok {
			smp.latUS |= failedBit
		}
		samples = append(samples, smp)
	}
	f := &LoadFigures{Requests: int64(len(samples)), Status: status, Errors: errKinds}
	if len(samples) == 0 {
		return f, nil, 1, nil
	}
	sort.SliceStable(samples, func(i, j int) bool { return samples[i].offMS < samples[j].offMS })
	latMS := func(s sample) float64 { return float64(s.latUS&^failedBit) / 1000 }

	sorted := make([]uint32, len(samples))
	for i, s := range samples {
		sorted[i] = s.latUS &^ failedBit
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	q := func(p float64) float64 { return float64(sorted[rank(len(sorted), p)]) / 1000 }
	var total float64
	for _, l := range sorted {
		total += float64(l)
	}
	f.LatencyMS = evidence.Latencies{Min: float64(sorted[0]) / 1000, Mean: total / float64(len(sorted)) / 1000,
		P50: q(0.50), P90: q(0.90), P95: q(0.95), P99: q(0.99), P999: q(0.999), Max: q(1)}
	f.Success = float64(success) / float64(len(samples))
	span := lastEnd.Sub(first)
	f.DurationMS = ms(span)
	if sent := lastStart.Sub(first); sent > 0 && len(samples) > 1 {
		f.Rate = float64(len(samples)-1) / sent.Seconds()
	}
	if span > 0 {
		f.Throughput = float64(success) / span.Seconds()
	}

	bucket := 1.0
	if total := lastStart.Sub(first).Seconds(); total/bucket > maxSeriesPoints {
		bucket = math.Ceil(total / maxSeriesPoints)
	}
	firstOff := samples[0].offMS
	var series []SeriesPoint
	var cur []float64
	flush := func(idx int, errs int) {
		sort.Float64s(cur)
		series = append(series, SeriesPoint{OffsetS: float64(idx) * bucket, Requests: len(cur), Errors: errs,
			P50MS: quantile(cur, 0.5), P99MS: quantile(cur, 0.99), MaxMS: cur[len(cur)-1]})
		cur = cur[:0]
	}
	idx, errs := -1, 0
	for _, s := range samples {
		b := int(float64(s.offMS-firstOff) / 1000 / bucket)
		if b != idx && len(cur) > 0 {
			flush(idx, errs)
			errs = 0
		}
		idx = b
		cur = append(cur, latMS(s))
		if s.latUS&failedBit != 0 {
			errs++
		}
	}
	if len(cur) > 0 {
		flush(idx, errs)
	}
	return f, series, bucket, nil
}

// rank is the nearest-rank index of quantile q in n ascending values.
func rank(n int, q float64) int {
	r := int(math.Ceil(q*float64(n))) - 1
	if r < 0 {
		r = 0
	}
	if r >= n {
		r = n - 1
	}
	return r
}

// quantile of an ascending slice by the nearest-rank method (exact and deterministic).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[rank(len(sorted), q)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// readLoad reads a bundle's load/ directory; it returns nil when no load ran. The figures come
// from load/summary.json when it reads, else from results.bin; the series always from results.bin.
func readLoad(dir string) (*LoadData, error) {
	ld := &LoadData{}
	found := false
	var binFigures *LoadFigures
	if f, err := os.Open(filepath.Join(dir, filepath.FromSlash(evidence.LoadResultsFile))); err == nil {
		found = true
		figs, series, bucket, err := ReadResults(f)
		f.Close()
		if err != nil {
			ld.Problems = append(ld.Problems, evidence.LoadResultsFile+": "+err.Error())
		} else {
			binFigures, ld.Series, ld.BucketS = figs, series, bucket
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	summaryPath := filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile))
	if data, err := os.ReadFile(summaryPath); err == nil {
		found = true
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			ld.Problems = append(ld.Problems, evidence.LoadSummaryFile+": "+err.Error())
		} else {
			ld.Summary = v
			if s, err := evidence.ReadLoadSummary(summaryPath); err == nil {
				ld.Figures, ld.FiguresFrom = figuresOf(s), evidence.LoadSummaryFile
			} else {
				ld.Problems = append(ld.Problems, evidence.LoadSummaryFile+": "+err.Error())
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if ld.Figures == nil && binFigures != nil {
		ld.Figures, ld.FiguresFrom = binFigures, evidence.LoadResultsFile
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(evidence.LoadPlotFile))); err == nil {
		found = true
		ld.HasPlot = true
	}
	if !found {
		return nil, nil
	}
	return ld, nil
}

// figuresOf are the LoadFigures of a load/summary.json.
func figuresOf(s *evidence.LoadSummary) *LoadFigures {
	f := &LoadFigures{Requests: int64(s.Requests), Success: s.Success, Rate: s.Rate, Throughput: s.Throughput,
		DurationMS: s.DurationMS, Status: s.StatusCodes, LatencyMS: s.LatencyMS}
	if f.Status == nil {
		f.Status = map[string]int{}
	}
	for _, e := range s.Errors {
		if len(f.Errors) < maxErrorKinds {
			f.Errors = append(f.Errors, e.Error)
		}
	}
	return f
}

// FigureRow is one line of a flattened JSON document: a dotted key and its value as text.
type FigureRow struct {
	Key   string
	Value string
}

// maxFlattenArray bounds how many elements of an array are listed one by one.
const maxFlattenArray = 12

// flatten turns a decoded JSON value into sorted key/value rows ("latency.p99": "12.3").
// Long arrays are summarised by their length; the order is deterministic.
func flatten(prefix string, v any, out *[]FigureRow) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x[k], out)
		}
	case []any:
		if len(x) > maxFlattenArray {
			*out = append(*out, FigureRow{Key: prefix, Value: fmt.Sprintf("%d values (see %s)", len(x), evidence.LoadSummaryFile)})
			return
		}
		if len(x) == 0 {
			*out = append(*out, FigureRow{Key: prefix, Value: "none"})
			return
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case nil:
		*out = append(*out, FigureRow{Key: prefix, Value: "null"})
	case string:
		*out = append(*out, FigureRow{Key: prefix, Value: x})
	default:
		*out = append(*out, FigureRow{Key: prefix, Value: fmt.Sprint(x)})
	}
}

// tokenWords pick out, from load/summary.json, the rows about token policy and the token cache.
var tokenWords = []string{"token", "cache", "policy", "distinct", "fetch", "refresh", "stall", "hit", "expires", "invalidat", "retries", "retry"}

// splitFigures separates token-policy and cache rows from the rest.
func splitFigures(rows []FigureRow) (token, other []FigureRow) {
	for _, r := range rows {
		k := strings.ToLower(r.Key)
		matched := false
		for _, w := range tokenWords {
			if strings.Contains(k, w) {
				matched = true
				break
			}
		}
		if matched {
			token = append(token, r)
		} else {
			other = append(other, r)
		}
	}
	return token, other
}
