package tokencache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

// tokenEndpoint is a loopback OAuth 2.0 token endpoint issuing "token-1", "token-2", ... valid
// for an hour, with a Bearer-protected API at /products that accepts only the newest one.
func tokenEndpoint() *httptest.Server {
	var issued atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "demo-client" || secret != "demo-secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("token-%d", issued.Add(1)),
			"token_type":   "Bearer",
			"expires_in":   3600,
		})
	})
	mux.HandleFunc("GET /products", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != fmt.Sprintf("Bearer token-%d", issued.Load()) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `["product-1"]`)
	})
	return httptest.NewServer(mux)
}

// A Cache in front of a client-credentials grant: every caller shares one token, fetched once.
func Example_clientCredentials() {
	srv := tokenEndpoint()
	defer srv.Close()

	ctx := context.Background()
	cfg := clientcredentials.Config{
		ClientID:     "demo-client",
		ClientSecret: "demo-secret",
		TokenURL:     srv.URL + "/token",
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	// cfg.Token requests a new token on every call; the cache decides when to call it.
	cache := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(ctx) }))
	defer cache.Close()

	for range 3 {
		tok, err := cache.Token()
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(tok.AccessToken)
	}
	st := cache.Stats()
	fmt.Printf("fetches=%d hits=%d stalls=%d\n", st.Fetches, st.Hits, st.Stalls)
	// Output:
	// token-1
	// token-1
	// token-1
	// fetches=1 hits=2 stalls=1
}

// NewTransport sets the Bearer token on every request, and after a 401 fetches a new token and
// retries once.
func ExampleNewTransport() {
	srv := tokenEndpoint()
	defer srv.Close()

	ctx := context.Background()
	cfg := clientcredentials.Config{ClientID: "demo-client", ClientSecret: "demo-secret", TokenURL: srv.URL + "/token"}
	cache := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(ctx) }))
	defer cache.Close()
	client := &http.Client{Transport: tokencache.NewTransport(cache, nil)}
	defer client.CloseIdleConnections()

	get := func() {
		resp, err := client.Get(srv.URL + "/products")
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	get()
	// Another client of the same credentials gets a token: the server now rejects ours.
	if _, err := cfg.Token(ctx); err != nil {
		fmt.Println("error:", err)
	}
	get()
	st := cache.Stats()
	fmt.Printf("fetches=%d invalidations=%d retries401=%d\n", st.Fetches, st.Invalidations, st.Retries401)
	// Output:
	// 200 ["product-1"]
	// 200 ["product-1"]
	// fetches=2 invalidations=1 retries401=1
}

// OnRefresh reports every new token; the load mode records Lead, how long before the old
// token's expiry the new one was in place.
func ExampleOnRefresh() {
	n := 0
	src := tokencache.SourceFunc(func() (*oauth2.Token, error) {
		n++
		return &oauth2.Token{AccessToken: fmt.Sprintf("token-%d", n)}, nil // no expiry: kept until invalidated
	})
	cache := tokencache.New(src, tokencache.OnRefresh(func(e tokencache.RefreshEvent) {
		fmt.Printf("new token: background=%v attempts=%d\n", e.Background, e.Attempts)
	}))
	defer cache.Close()

	tok, _ := cache.Token()
	cache.Invalidate(tok) // after a 401 invalid_token
	tok, _ = cache.Token()
	fmt.Println(tok.AccessToken)
	// Output:
	// new token: background=false attempts=1
	// new token: background=false attempts=1
	// token-2
}
