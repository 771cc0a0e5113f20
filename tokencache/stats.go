package tokencache

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// Stats is a snapshot of a Cache's counters since New.
type Stats struct {
	Fetches       int64         // calls to the source's Token: requests to the token endpoint
	Failures      int64         // fetches that failed (error, empty or already expired token)
	Hits          int64         // Token calls answered with the cached token without waiting
	Refreshes     int64         // successful background refreshes (no caller waited for them)
	Stalls        int64         // Token calls that waited for a fetch (cold start, expiry, invalidation)
	StallTime     time.Duration // total time those calls waited
	MaxStall      time.Duration // the longest such wait
	Errors        int64         // Token calls that returned an error
	Invalidations int64         // Invalidate calls that dropped the current token
	Retries401    int64         // requests a Transport retried after a 401
	Expiry        time.Time     // the current token's expiry (before ClockSkew); zero when none
}

// RefreshEvent describes a successful fetch, for OnRefresh.
type RefreshEvent struct {
	// Background is true for a proactive refresh, false when callers needed the token (cold
	// start, expired or invalidated token).
	Background bool
	// Start and End are when the fetch that succeeded began and returned.
	Start, End time.Time
	// Expiry is the replaced token's expiry; zero on a cold start.
	Expiry time.Time
	// Lead is Expiry.Sub(End): how long before the replaced token expired the new one was in
	// place; negative when it arrived after, zero on a cold start.
	Lead time.Duration
	// Attempts counts the fetches since the previous success, this one included.
	Attempts int
	// NewExpiry is the new token's expiry; zero when it has none.
	NewExpiry time.Time
}

// counters are the Cache's statistics, updated atomically.
type counters struct {
	fetches, failures, refreshes, stalls, errors, invalidations, retries401 atomic.Int64
	stallTime, maxStall                                                     atomic.Int64 // nanoseconds
	hits                                                                    hitCounter
}

func (c *counters) recordStall(d time.Duration) {
	c.stalls.Add(1)
	c.stallTime.Add(int64(d))
	for {
		cur := c.maxStall.Load()
		if int64(d) <= cur || c.maxStall.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// hitCounter counts hits in cache-line-padded shards. A single shared counter would make
// parallel callers bounce one cache line between cores and cost the hit path several times
// what the rest of it does. The shard is picked by a multiplicative hash of the caller's stack
// address, which differs between goroutines (their stacks are disjoint) and is stable for one,
// so parallel callers rarely share a shard.
type hitCounter [hitShardCount]struct {
	n atomic.Int64
	_ [hitShardPadding]byte
}

func (h *hitCounter) inc() {
	var marker byte
	// The address only selects a shard; it is never turned back into a pointer.
	p := uint64(uintptr(unsafe.Pointer(&marker)))
	h[(p>>4)*0x9E3779B97F4A7C15>>(64-hitShardBits)].n.Add(1)
}

func (h *hitCounter) load() int64 {
	var n int64
	for i := range h {
		n += h[i].n.Load()
	}
	return n
}
