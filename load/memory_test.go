package load

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A hostile token endpoint answers every attack request with 200 MB: the run keeps at most
// maxAnswerBody of each, so the live heap stays far below one answer (issue 10 point 5).
func TestHugeAnswersKeepMemoryBoundedUnderLoad(t *testing.T) {
	if raceDetector {
		t.Skip("measures memory: run without -race (go test -run TestHugeAnswers ./load)")
	}
	const answer = 200 << 20
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	var (
		mu   sync.Mutex
		peak uint64
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Vegeta-Seq") == "" { // the preflight: a real answer
			w.Write([]byte(`{"access_token":"opaque-token-value","token_type":"Bearer","expires_in":60}`))
			return
		}
		w.Write([]byte(`{"access_token":"`))
		for sent := 0; sent < answer; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if sent%(50<<20) == 0 {
				sample()
			}
		}
		w.Write([]byte(`"}`))
		sample() // the client has read nearly all of it by now
	}))
	defer srv.Close()

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	cfg := Config{Mode: ModeIssuance, TokenURL: srv.URL, ClientID: "client", ClientSecret: "client-secret-1",
		Rate: vegeta.Rate{Freq: 2, Per: time.Second}, Duration: time.Second, Timeout: 60 * time.Second,
		Dir: filepath.Join(t.TempDir(), "load")}
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.GreaterOrEqual(t, sum.Requests, uint64(2), "the huge answers were requested")
	mu.Lock()
	defer mu.Unlock()
	require.NotZero(t, peak, "the server sampled the heap")
	grown := int64(peak) - int64(base.HeapInuse)
	assert.Less(t, grown, int64(40<<20), "live heap grew %d MB for 200 MB answers", grown>>20)
}
