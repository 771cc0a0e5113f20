package tokencache

// WithRand replaces the random source behind refresh and backoff jitter, so tests can pin it.
func WithRand(f func() float64) Option { return func(c *config) { c.randFloat64 = f } }
