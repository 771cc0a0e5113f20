package steps

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// liveHeap is the bytes of the heap's live objects, collected first: what a run holds at that
// moment. The garbage around it grows the heap to at most about twice that (GOGC=100), which
// is what RSS follows.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHugeAnswersKeepMemoryBounded: a target whose every answer is huge, in the two ways that
// cost memory. The harness reads each answer to its cap and no further (the server manages to
// write little more than the cap and the socket buffers), and its live heap, sampled as each
// request arrives and once the run is over, stays within 12 MB plus 4 MB per request in flight
// (Config.Concurrency: each holds its answer, its decoded JSON and the transcript's copies) of
// where it started, although the run makes tens of requests; what it quotes of the
// answers stays short.
func TestHugeAnswersKeepMemoryBounded(t *testing.T) {
	if raceDetector {
		t.Skip("measures memory: run without -race (go test -run TestHugeAnswers ./steps)")
	}
	chunk := []byte(strings.Repeat("x", 64<<10))
	tests := []struct {
		name   string
		status int
		size   int // bytes the server tries to write
		prefix string
		suffix string
	}{
		// 200 MB of a token answer that never closes its JSON object: cut at the cap.
		{"a 200 MB token answer", http.StatusOK, 200 << 20, `{"access_token":"`, ""},
		// A complete JSON object just under the cap, whose error code is quoted by the checks.
		{"a 1 MB error code", http.StatusBadRequest, 1<<20 - 64<<10, `{"error":"`, `"}`},
	}
	for _, tt := range tests {
		for _, inFlight := range []int{1, DefaultConcurrency("https://127.0.0.1/")} {
			t.Run(fmt.Sprintf("%s, %d in flight", tt.name, inFlight), func(t *testing.T) {
				var (
					mu        sync.Mutex
					requests  int
					peak      uint64
					maxServed int
				)
				base := liveHeap()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h := liveHeap()
					mu.Lock()
					requests++
					peak = max(peak, h)
					mu.Unlock()
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Cache-Control", "no-store")
					w.WriteHeader(tt.status)
					served, _ := w.Write([]byte(tt.prefix))
					for served < tt.size-len(tt.suffix) {
						n, err := w.Write(chunk[:min(len(chunk), tt.size-len(tt.suffix)-served)])
						served += n
						if err != nil {
							break
						}
					}
					n, _ := w.Write([]byte(tt.suffix))
					served += n
					mu.Lock()
					maxServed = max(maxServed, served)
					mu.Unlock()
				}))
				t.Cleanup(srv.Close)
				cfg := hostileConfig(t, srv.URL+"/token")
				cfg.Timeout = 5 * time.Second
				// CACHE-04 holds ten answers at once while it judges them (up to ten times the
				// cap): bounded, but by the scenario, not by the run this test is about.
				cfg.Tags = "~@CACHE-04"
				cfg.Concurrency = inFlight
				sum, err := runBounded(t, cfg)
				require.NoError(t, err)
				retained := liveHeap()

				// A 200 that is no token fails TOK-03; a refusal fails TOK-01 (TOK-03 has no
				// answer to judge then).
				judgedBy := "TOK-03"
				if tt.status/100 != 2 {
					judgedBy = "TOK-01"
				}
				assert.Equal(t, evidence.StatusFailed, statusOf(sum, judgedBy).Status, "no usable token answer")
				for _, c := range sum.Checks {
					assert.LessOrEqual(t, len(c.Reason), 2*maxFindingBytes, "%s quotes the answer at length", c.ID)
					for _, n := range c.Notes {
						assert.LessOrEqual(t, len(n), maxFindingBytes+8, "%s quotes the answer at length", c.ID)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				// A target that refuses the valid request gets only the requests of the checks
				// that need no token (the rest are skipped: no token to judge).
				require.Greater(t, requests, 15, "the run made its requests")
				budget := uint64(12<<20 + inFlight*4<<20) // live; the heap grows to twice that
				assert.Less(t, maxServed, 32<<20, "the harness read past the cap of %d bytes", cfg.MaxBody)
				assert.Less(t, peak, base+budget, "heap peaked at %d MB over a %d MB start (%d requests)", (peak-base)>>20, base>>20, requests)
				assert.Less(t, retained, base+budget, "the run holds %d MB after it ended", (retained-base)>>20)
				t.Logf("%d requests; heap start %d MB, peak %d MB, after the run %d MB; most served to one request %d MB",
					requests, base>>20, peak>>20, retained>>20, maxServed>>20)
				runtime.KeepAlive(sum)
			})
		}
	}
}
