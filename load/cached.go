package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/tokencache"
)

// cacheRun is the token caches of a cached run: one per instance (a replica of a service
// sharing the credentials), warmed before the attack so only caller-visible waits after
// start-up count as stalls.
type cacheRun struct {
	caches []*tokencache.Cache
	warm   []tokencache.Stats // each cache's counters once warm
	cold   time.Duration      // the slowest cold start

	mu      sync.Mutex
	leads   int64
	leadSum time.Duration
	leadMin time.Duration
	leadMax time.Duration
	late    int64
	lifeN   int64         // tokens fetched with an expiry, cold starts included
	lifeSum time.Duration // their lifetimes as received: expiry less arrival
}

func startCaches(ctx context.Context, cfg *Config, hc *http.Client) (*cacheRun, error) {
	n := max(cfg.Instances, 1)
	hc = &http.Client{Transport: userAgent{ua: cfg.UserAgent, next: hc.Transport}, Timeout: hc.Timeout, CheckRedirect: hc.CheckRedirect}
	cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL,
		AuthStyle: oauth2.AuthStyleInHeader}
	tctx := context.WithValue(ctx, oauth2.HTTPClient, hc)
	cr := &cacheRun{}
	opts := append([]tokencache.Option{tokencache.OnRefresh(cr.onRefresh)}, cfg.CacheOptions...)
	for i := 0; i < n; i++ {
		c := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cc.Token(tctx) }), opts...)
		cr.caches = append(cr.caches, c)
		t0 := time.Now()
		if _, err := c.TokenContext(ctx); err != nil {
			cr.close()
			var re *oauth2.RetrieveError
			return nil, &PreflightError{Unreachable: !errors.As(err, &re), Msg: fmt.Sprintf("warming the token cache: %v", err)}
		}
		cr.cold = max(cr.cold, time.Since(t0))
		cr.warm = append(cr.warm, c.Stats())
	}
	return cr, nil
}

// userAgent sets the run's User-Agent on a request that has none: golang.org/x/oauth2 builds
// its token requests itself and sets none.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("User-Agent") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", u.ua)
	}
	return u.next.RoundTrip(r)
}

func (cr *cacheRun) onRefresh(ev tokencache.RefreshEvent) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !ev.NewExpiry.IsZero() {
		cr.lifeN++
		cr.lifeSum += ev.NewExpiry.Sub(ev.End)
	}
	if ev.Expiry.IsZero() {
		return // a cold start, not a refresh
	}
	if cr.leads == 0 || ev.Lead < cr.leadMin {
		cr.leadMin = ev.Lead
	}
	if cr.leads == 0 || ev.Lead > cr.leadMax {
		cr.leadMax = ev.Lead
	}
	cr.leads++
	cr.leadSum += ev.Lead
	if ev.Lead < 0 {
		cr.late++
	}
}

// transport sends each request through the instances' caches in turn.
func (cr *cacheRun) transport(base http.RoundTripper) http.RoundTripper {
	rr := &roundRobin{}
	for _, c := range cr.caches {
		rr.ts = append(rr.ts, tokencache.NewTransport(c, base))
	}
	return rr
}

type roundRobin struct {
	n  atomic.Uint64
	ts []http.RoundTripper
}

func (r *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.ts[(r.n.Add(1)-1)%uint64(len(r.ts))].RoundTrip(req)
}

func (cr *cacheRun) close() {
	for _, c := range cr.caches {
		c.Close()
	}
}

// figures sums the caches' counters since they were warm; attack is how long the calls took.
func (cr *cacheRun) figures(calls uint64, attack time.Duration) *evidence.CacheFigures {
	f := &evidence.CacheFigures{Instances: len(cr.caches), APICalls: int64(calls), ColdStartMS: msOf(cr.cold)}
	var stall time.Duration
	for i, c := range cr.caches {
		s, w := c.Stats(), cr.warm[i]
		f.TokenFetches += s.Fetches - w.Fetches
		f.Hits += s.Hits - w.Hits
		f.Refreshes += s.Refreshes - w.Refreshes
		f.Stalls += s.Stalls - w.Stalls
		stall += s.StallTime - w.StallTime
		f.Failures += s.Failures - w.Failures
		f.Invalidations += s.Invalidations - w.Invalidations
		f.Retries401 += s.Retries401 - w.Retries401
	}
	f.StallMS = msOf(stall)
	if calls > 0 {
		f.FetchesPerCall = float64(f.TokenFetches) / float64(calls)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	f.RefreshCount, f.LateRefreshes = cr.leads, cr.late
	if cr.leads > 0 {
		f.RefreshLeadMinMS, f.RefreshLeadMaxMS = msOf(cr.leadMin), msOf(cr.leadMax)
		f.RefreshLeadMeanMS = msOf(cr.leadSum) / float64(cr.leads)
	}
	if cr.lifeN > 0 {
		life := cr.lifeSum / time.Duration(cr.lifeN)
		f.TokenLifetimeMeanMS = msOf(life)
		if life > 0 && attack > 0 {
			f.Lifetimes = float64(len(cr.caches)) * float64(attack) / float64(life)
			f.FetchesPerLifetime = float64(f.TokenFetches) / f.Lifetimes
		}
	}
	return f
}
