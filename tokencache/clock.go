package tokencache

import "time"

// A Clock tells the time and runs functions later. The cache uses one for every expiry, refresh,
// backoff and wait decision, so tests can drive it with a fake clock instead of sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a fake clock, from the goroutine that
	// advances it) once d has elapsed, unless the returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// A Timer is a pending call scheduled by a Clock.
type Timer interface {
	// Stop prevents the call if it has not started yet, and reports whether it did so.
	Stop() bool
}

// systemClock is the real clock: time.Now and time.AfterFunc.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
