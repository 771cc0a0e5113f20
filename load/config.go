package load

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/loopback"
	"github.com/authzcheck/authzcheck/tokencache"
)

// Mode is what a load run drives. The zero value is no mode: Validate refuses it.
type Mode string

// Modes of a load run.
const (
	ModeIssuance Mode = "issuance" // the token endpoint at a constant rate
	ModeCached   Mode = "cached"   // a Bearer API through tokencache at a constant rate
	ModeRamp     Mode = "ramp"     // the token endpoint at a linearly rising rate
)

// Modes lists every mode, in the order the command line documents them.
var Modes = []Mode{ModeIssuance, ModeCached, ModeRamp}

// ParseMode reads a mode's name.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown load mode %q; want issuance, cached or ramp", s)
}

// Valid reports whether m is one of Modes.
func (m Mode) Valid() bool { _, err := ParseMode(string(m)); return err == nil }

// CallsAPI reports whether the mode calls a Bearer API (through token caches) rather than the
// token endpoint itself.
func (m Mode) CallsAPI() bool { return m == ModeCached }

// Ramps reports whether the rate rises from From to To instead of staying at Rate.
func (m Mode) Ramps() bool { return m == ModeRamp }

// Defaults.
const (
	DefaultAbortMinRequests = 100
	DefaultLateAfter        = 10 * time.Millisecond
	// DefaultMaxRate is the highest rate per second allowed against a target that is not
	// loopback when Config.MaxRate is 0.
	DefaultMaxRate = 20.0
	abortWindow    = 200
	maxErrorKinds  = 20
	requestGrace   = time.Second // in-flight requests get this long after a stop
	resultBuffer   = 4096        // results waiting for analysis (bounded: about 1 MB)
)

// Config is one load run. Validate says what is wrong with one, naming the field.
type Config struct {
	Mode                   Mode
	TokenURL, APIURL       string // APIURL: the Bearer API for ModeCached
	ClientID, ClientSecret string
	Rate                   vegeta.Rate // issuance and cached
	Duration               time.Duration
	From, To               float64 // ramp, per second
	Steps                  int     // ramp
	Workers, MaxWorkers    uint64  // MaxWorkers 0: no limit (Vegeta's default)
	Connections            int     // idle connections kept per host (0: Vegeta's 10000)
	HTTP2                  bool    // HTTP/2 over TLS; off by default
	Timeout                time.Duration
	RootCAs                *x509.CertPool
	Instances              int // cached: token caches sharing the credentials, as replicas would (0: 1)
	// RefreshAt is the share of a token's lifetime at which each cache of a cached run
	// refreshes it (0: tokencache.DefaultRefreshAt).
	RefreshAt  float64
	Thresholds []Threshold
	// AbortErrorRate stops the run when more than this share of the last 200 results (429s
	// excluded: they are backed off from) failed, once AbortMinRequests were made. 0 disables.
	AbortErrorRate   float64
	AbortMinRequests int
	// AllowRemote allows a target that is not loopback; its rate is then capped at MaxRate.
	AllowRemote bool
	// MaxRate caps the rate per second (a ramp's To): against a remote target always (0:
	// DefaultMaxRate), against loopback only when set.
	MaxRate float64
	Dir     string // where results.bin, summary.json and plot.html go
	Name    string // the attack's name in results.bin (default: the mode)
	// UserAgent is every request's User-Agent (default: buildinfo.UserAgent()).
	UserAgent string
	// DialContext opens the run's connections (nil: a net.Dialer bounded by Timeout).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Progress, when set, receives a live progress line (a terminal: carriage returns).
	Progress      io.Writer
	ProgressEvery time.Duration
	CacheOptions  []tokencache.Option
	// ServerCounters, when set, reads the target's own counters for the client at the end
	// (the embedded mock has them).
	ServerCounters func(context.Context) (*evidence.ServerCounters, error)
	LateAfter      time.Duration // schedule lag beyond which a request counts as late
}

// ConfigError is what Validate refuses: Field is the Config field at fault. The message names
// fields as {Field} placeholders, so that a caller can render them in its own terms (the
// command line renders {Rate} as --rate); Error renders them as the field names.
type ConfigError struct {
	Field  string
	format string // placeholders and fmt verbs; the values are args, never read for placeholders
	args   []any
}

func (e *ConfigError) Error() string { return e.Render(func(f string) string { return f }) }

// Unwrap is the error the refusal wraps (loopback.ErrCleartext for plain HTTP), if any.
func (e *ConfigError) Unwrap() error { return errors.Unwrap(fmt.Errorf(e.format, e.args...)) }

// Render writes the message with each {Field} placeholder replaced by name(Field).
func (e *ConfigError) Render(name func(field string) string) string {
	var b strings.Builder
	s := e.format
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(strings.ReplaceAll(name(s[i+1:i+j]), "%", "%%"))
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return fmt.Errorf(b.String(), e.args...).Error()
}

// refuse is a ConfigError about field; format names fields as {Field}.
func refuse(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, format: format, args: args}
}

// Validate says whether c can run, before anything is dialled: a *ConfigError naming the
// field at fault, or nil. It holds every rule of a load run, the remote-safety rule included,
// so that no caller of Run can bypass one.
func (c *Config) Validate() error {
	for _, check := range []func() *ConfigError{c.checkPlan, c.checkOptions, c.checkTarget, c.checkRemote} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// checkPlan: the mode, how long and how fast.
func (c *Config) checkPlan() *ConfigError {
	if !c.Mode.Valid() {
		return refuse("Mode", "unknown load mode %q; want issuance, cached or ramp", c.Mode)
	}
	if c.Duration <= 0 {
		return refuse("Duration", "{Duration} %v: must be positive, e.g. {Duration} 30s", c.Duration)
	}
	if c.Mode.Ramps() {
		if c.From <= 0 || c.To <= c.From || c.Steps <= 0 {
			return refuse("From", "ramp needs 0 < {From} < {To} and {Steps} > 0 (got {From} %v {To} %v {Steps} %d)", c.From, c.To, c.Steps)
		}
		return nil
	}
	if c.Rate.Freq < 0 || c.Rate.Per < 0 {
		return refuse("Rate", "{Rate} %d/%v: must not be negative", c.Rate.Freq, c.Rate.Per)
	}
	if PerSecond(c.Rate) == 0 && c.MaxWorkers == 0 {
		return refuse("Rate", "{Rate} 0 (as fast as possible) needs {MaxWorkers}")
	}
	return nil
}

// checkOptions: the settings beside the plan.
func (c *Config) checkOptions() *ConfigError {
	if c.AbortErrorRate < 0 || c.AbortErrorRate > 1 {
		return refuse("AbortErrorRate", "{AbortErrorRate} %v: want a share between 0 (off) and 1", c.AbortErrorRate)
	}
	if c.Instances < 0 {
		return refuse("Instances", "{Instances} %d: at least 1", c.Instances)
	}
	if c.RefreshAt != 0 {
		if !c.Mode.CallsAPI() {
			return refuse("RefreshAt", "{RefreshAt} applies only to 'load cached'")
		}
		if !(c.RefreshAt > tokencache.DefaultJitter && c.RefreshAt <= 1) {
			return refuse("RefreshAt", "{RefreshAt} %v: want a share of the lifetime above %v and at most 1, e.g. 0.8", c.RefreshAt, tokencache.DefaultJitter)
		}
	}
	for _, t := range c.Thresholds {
		if err := t.appliesTo(c.Mode); err != nil {
			return refuse("Thresholds", "%w", err)
		}
	}
	if c.Dir == "" {
		return refuse("Dir", "no output directory: set {Dir}")
	}
	return nil
}

// checkTarget: the URLs, and that no credential would travel in clear.
func (c *Config) checkTarget() *ConfigError {
	if c.TokenURL == "" {
		return refuse("TokenURL", "no token URL: set {TokenURL}")
	}
	if c.Mode.CallsAPI() && c.APIURL == "" {
		return refuse("APIURL", "'load cached' needs an API URL: set {APIURL}")
	}
	for _, u := range []struct{ field, url string }{{"TokenURL", c.TokenURL}, {"APIURL", c.APIURL}} {
		if err := loopback.Cleartext(u.url); err != nil {
			return refuse(u.field, "{"+u.field+"}: %w", err)
		}
	}
	return nil
}

// checkRemote refuses a target that is not loopback unless AllowRemote, and a rate above
// MaxRate (always for a remote target; for loopback only when MaxRate is set).
func (c *Config) checkRemote() *ConfigError {
	urls := []string{c.TokenURL}
	if c.Mode.CallsAPI() {
		urls = append(urls, c.APIURL)
	}
	remote := ""
	for _, u := range urls {
		if !loopback.URL(u) {
			remote = u
		}
	}
	if c.MaxRate < 0 {
		return refuse("MaxRate", "{MaxRate} %g: must be positive", c.MaxRate)
	}
	maxRate := c.MaxRate
	if maxRate == 0 {
		if remote == "" {
			return nil
		}
		maxRate = DefaultMaxRate
	}
	if remote != "" && !c.AllowRemote {
		return refuse("AllowRemote", "refusing to load %s: it is not a loopback address; set {AllowRemote} if you may load it (the rate is then capped at {MaxRate}, %g/s by default)", remote, DefaultMaxRate)
	}
	peak := c.peakRate()
	if peak == 0 {
		return refuse("Rate", "{Rate} 0 (as fast as possible) is refused under {MaxRate} %g; give a rate", maxRate)
	}
	if peak > maxRate {
		return refuse("MaxRate", "the rate %g/s is above {MaxRate} %g/s; raise {MaxRate} explicitly if the target's owner agreed", peak, maxRate)
	}
	return nil
}

// peakRate is the highest rate per second the run asks for (0: as fast as possible).
func (c *Config) peakRate() float64 {
	if c.Mode.Ramps() {
		return c.To
	}
	return PerSecond(c.Rate)
}
