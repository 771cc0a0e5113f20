// Command example is the README's 20-line client for `authzcheck client`: the smallest Go
// program that follows the contract (good/ is the full reference client).
package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg := clientcredentials.Config{ClientID: os.Getenv("AUTHZ_CLIENT_ID"), ClientSecret: os.Getenv("AUTHZ_CLIENT_SECRET"),
		TokenURL: os.Getenv("AUTHZ_TOKEN_URL"), AuthStyle: oauth2.AuthStyleInHeader}
	noRedirect := &http.Client{Timeout: 10 * time.Second, // the Basic credential stays with the token URL
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, noRedirect)
	cache := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(tctx) }))
	defer cache.Close()
	api := &http.Client{Transport: tokencache.NewTransport(cache, nil), Timeout: 10 * time.Second}
	for pause := time.Duration(0); sleep(ctx, pause); { // sleep: false once SIGTERM came
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, os.Getenv("AUTHZ_API_URL")+"/products", nil)
		req.Header.Set("echo-token", rand.Text()) // unique per request
		req.Header.Set("distributor-id", cfg.ClientID)
		resp, err := api.Do(req)
		if pause = 50 * time.Millisecond; err != nil || resp.StatusCode != http.StatusOK {
			pause = time.Second // back off: a 401 was already retried once with a new token
		}
		if err == nil {
			resp.Body.Close()
		}
	}
}

// sleep waits d; false once SIGTERM came.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
