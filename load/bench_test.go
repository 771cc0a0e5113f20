package load

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/authzcheck/authzcheck/mock"
)

// BenchmarkCollectorAdd is the per-result cost of analysing and streaming one token answer
// (the harness's overhead over Vegeta's own command line at saturation): against a server that
// caches (the same answer again and again) and one that reissues (every answer new).
func BenchmarkCollectorAdd(b *testing.B) {
	for _, policy := range []mock.Policy{mock.PolicyCached, mock.PolicyReissue} {
		b.Run(string(policy), func(b *testing.B) {
			s, err := mock.New(mock.WithPolicy(policy))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			cfg := Config{Mode: ModeIssuance, TokenURL: s.TokenURL(), ClientID: mock.DefaultClientID, ClientSecret: mock.DefaultClientSecret,
				Rate: vegeta.Rate{Freq: 1000, Per: time.Second}, Duration: time.Minute, LateAfter: DefaultLateAfter}
			tgt := tokenTarget(&cfg)
			var (
				bodies [64][]byte
				header http.Header
			)
			for i := range bodies {
				req, _ := tgt.Request()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				bodies[i], _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				header = resp.Header
			}
			p := newBackoffPacer(context.Background(), cfg.Rate)
			p.Pace(0, 0)
			c := newCollector(&cfg, p, vegeta.NewEncoder(io.Discard))
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := &vegeta.Result{Attack: "issuance", Seq: uint64(i), Code: 200, Timestamp: now.Add(time.Duration(i) * time.Millisecond),
					Latency: 300 * time.Microsecond, Body: bodies[i%len(bodies)], Method: "POST", URL: cfg.TokenURL, Headers: header}
				c.add(r)
			}
		})
	}
}
