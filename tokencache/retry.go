package tokencache

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// RetryAfterError is an error a token source can return to tell the cache not to try again
// before After has elapsed (from a 429 or 503 response's Retry-After, for instance). Any error in
// the chain with a `RetryAfter() time.Duration` method is honoured the same way, and so is an
// [*oauth2.RetrieveError] whose Response carries a Retry-After header (seconds or an HTTP date),
// which is what [golang.org/x/oauth2/clientcredentials] returns.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

// Unwrap returns the underlying error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns how long to wait before the next attempt.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// retryAfter reports the delay err asks for, relative to now, if any, at most maxRetryAfter.
func retryAfter(err error, now time.Time) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return min(d, maxRetryAfter), true
		}
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return parseRetryAfter(re.Response.Header.Get("Retry-After"), now)
	}
	return 0, false
}

// parseRetryAfter parses an HTTP Retry-After value (RFC 9110 §10.2.3): delay-seconds or an
// HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter), true
		}
	}
	return 0, false
}

// backoff returns the delay before attempt failures+1, after err.
func (cfg *config) backoff(failures int, err error, now time.Time) time.Duration {
	d := cfg.minBackoff
	for i := 1; i < failures && d < cfg.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, cfg.maxBackoff)
	d -= time.Duration(defaultBackoffJitter * cfg.randFloat64() * float64(d))
	if ra, ok := retryAfter(err, now); ok && ra > d {
		d = ra // at most maxRetryAfter: retryAfter clamps every source once
	}
	return d
}
