package mock_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/authzcheck/authzcheck/mock"
)

// Benchmarks of the token endpoint over real loopback HTTP (client and server in one process,
// on the same cores). Run them with 'make bench-mock'; compare runs with benchstat.

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func benchIssue(b *testing.B, opts ...mock.Option) {
	srv, err := mock.New(append([]mock.Option{mock.WithKey(testKey())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hc := benchClient(b)
	url := srv.TokenURL()
	auth := basic(mock.DefaultClientID, mock.DefaultClientSecret)
	benchRequests(b, hc, "tokens/s", func() *http.Request {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	})
}

// benchRequests sends requests made by newReq from parallel goroutines, each expecting 200, and
// reports the rate in unit.
func benchRequests(b *testing.B, hc *http.Client, unit string, newReq func() *http.Request) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := hc.Do(newReq())
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
	hc.CloseIdleConnections()
}

// BenchmarkIssueReissue: a new RS256 token per request (the hot path).
func BenchmarkIssueReissue(b *testing.B) { benchIssue(b) }

// BenchmarkIssueCached: the cached policy answers the same token, expires_in counting down.
func BenchmarkIssueCached(b *testing.B) { benchIssue(b, mock.WithPolicy(mock.PolicyCached)) }

// BenchmarkSignRS256 is RSA-2048 PKCS#1 v1.5 signing alone, the floor under BenchmarkIssueReissue.
func BenchmarkSignRS256(b *testing.B) {
	k := testKey()
	h := sha256.Sum256([]byte("header.payload"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// nil random, as the server signs (PKCS#1 v1.5 signing is deterministic).
			if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, h[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

// BenchmarkAPIVerify: a sample API call with a valid token (RS256 verification and claims).
func BenchmarkAPIVerify(b *testing.B) {
	srv, err := mock.New(mock.WithKey(testKey()))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hc := benchClient(b)
	tok := fetchTokenB(b, hc, srv)
	benchRequests(b, hc, "calls/s", func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, srv.APIURL(), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	})
}

func fetchTokenB(b *testing.B, hc *http.Client, srv *mock.Server) string {
	req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Authorization", basic(mock.DefaultClientID, mock.DefaultClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := decodeJSON(resp.Body, &out); err != nil {
		b.Fatal(err)
	}
	return out.AccessToken
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}
