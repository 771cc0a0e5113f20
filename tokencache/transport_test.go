package tokencache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

// api is a loopback Bearer-protected API that rejects the tokens in reject with 401.
type api struct {
	*httptest.Server
	mu       sync.Mutex
	reject   map[string]bool
	seen     []string // Authorization header of each request
	bodies   []string
	echoes   []string // echo-token header of each request
	rejected atomic.Int64
	// before, when set, runs before a request carrying a rejected token is answered.
	before func()
}

func newAPI(t *testing.T, reject ...string) *api {
	a := &api{reject: map[string]bool{}}
	for _, tok := range reject {
		a.reject[tok] = true
	}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		a.mu.Lock()
		a.seen = append(a.seen, auth)
		a.bodies = append(a.bodies, string(body))
		a.echoes = append(a.echoes, r.Header.Get(tokencache.EchoTokenHeader))
		bad := a.reject[strings.TrimPrefix(auth, "Bearer ")]
		a.mu.Unlock()
		if bad {
			if a.before != nil {
				a.before()
			}
			a.rejected.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *api) requests() ([]string, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...), append([]string(nil), a.bodies...)
}

// newClient returns an http.Client authenticating through a cache over a counterSource, whose
// tokens are "tok-1", "tok-2", ...
func newClient(t *testing.T) (*http.Client, *tokencache.Cache, *counterSource) {
	clk := tokencache.NewFakeClock(t0)
	src := &counterSource{clk: clk, life: time.Hour}
	c := tokencache.New(src, tokencache.WithClock(clk))
	t.Cleanup(c.Close)
	hc := &http.Client{Transport: tokencache.NewTransport(c, nil)}
	t.Cleanup(hc.CloseIdleConnections)
	return hc, c, src
}

func TestTransportSetsTheBearerTokenWithoutTouchingTheRequest(t *testing.T) {
	a := newAPI(t)
	hc, c, _ := newClient(t)
	req, err := http.NewRequest(http.MethodGet, a.URL, nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	seen, _ := a.requests()
	assert.Equal(t, []string{"Bearer tok-1"}, seen)
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request was modified")
	assert.Zero(t, c.Stats().Retries401)
}

func TestTransportRetriesOnceAfter401(t *testing.T) {
	tests := []struct {
		name        string
		reject      []string
		body        func() io.Reader // nil: no body
		wantStatus  int
		wantSeen    []string
		wantBodies  []string
		wantRetries int64
	}{
		{"a GET is retried with a new token", []string{"tok-1"}, nil,
			http.StatusOK, []string{"Bearer tok-1", "Bearer tok-2"}, []string{"", ""}, 1},
		{"a POST is retried with its body replayed", []string{"tok-1"}, func() io.Reader { return strings.NewReader("payload") },
			http.StatusOK, []string{"Bearer tok-1", "Bearer tok-2"}, []string{"payload", "payload"}, 1},
		{"a body that cannot be replayed is not retried", []string{"tok-1"}, func() io.Reader { return io.MultiReader(strings.NewReader("payload")) },
			http.StatusUnauthorized, []string{"Bearer tok-1"}, []string{"payload"}, 0},
		{"a second 401 is returned, never retried again", []string{"tok-1", "tok-2", "tok-3"}, func() io.Reader { return bytes.NewReader([]byte("payload")) },
			http.StatusUnauthorized, []string{"Bearer tok-1", "Bearer tok-2"}, []string{"payload", "payload"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, tt.reject...)
			hc, c, src := newClient(t)
			method, body := http.MethodGet, io.Reader(nil)
			if tt.body != nil {
				method, body = http.MethodPost, tt.body()
			}
			req, err := http.NewRequest(method, a.URL, body)
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			assert.Equal(t, tt.wantStatus, resp.StatusCode, "body %q", got)
			seen, bodies := a.requests()
			assert.Equal(t, tt.wantSeen, seen)
			assert.Equal(t, tt.wantBodies, bodies)
			st := c.Stats()
			assert.Equal(t, tt.wantRetries, st.Retries401)
			assert.EqualValues(t, 1, st.Invalidations, "the rejected token is dropped either way")
			next, err := c.Token()
			require.NoError(t, err)
			assert.Equal(t, "tok-2", next.AccessToken, "the next request's token")
			assert.EqualValues(t, 2, src.n.Load(), "fetches")
		})
	}
}

func TestTransportFiftyConcurrent401sCauseOneFetch(t *testing.T) {
	const requests = 50
	a := newAPI(t, "tok-1")
	arrived := make(chan struct{}, requests)
	release := make(chan struct{})
	a.before = func() { // hold every rejection until all fifty carry tok-1
		arrived <- struct{}{}
		<-release
	}
	hc, c, src := newClient(t)
	_, err := c.Token() // warm: every request starts with tok-1
	require.NoError(t, err)

	statuses := make(chan int, requests)
	errs := make(chan error, requests)
	for range requests {
		go func() {
			resp, err := hc.Get(a.URL)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range requests {
		receive(t, arrived)
	}
	close(release)
	for range requests {
		select {
		case s := <-statuses:
			assert.Equal(t, http.StatusOK, s)
		case err := <-errs:
			t.Error(err)
		case <-time.After(watchdog):
			t.Fatal("requests did not finish")
		}
	}
	assert.EqualValues(t, 2, src.n.Load(), "fetches: the warm-up and one replacement")
	st := c.Stats()
	assert.EqualValues(t, 1, st.Invalidations)
	assert.EqualValues(t, requests, st.Retries401)
	assert.EqualValues(t, requests, a.rejected.Load())
}

// A retry after a 401 is a new request: the echo-token the caller set for the first is not
// sent again (the Ticket APIs want it unique per request), and a request without one gets none.
func TestTransportRetryCarriesAFreshEchoToken(t *testing.T) {
	tests := []struct {
		name, echo string
	}{
		{"an echo-token is renewed", "caller-echo-1"},
		{"none is added", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, "tok-1")
			hc, c, _ := newClient(t)
			req, err := http.NewRequest(http.MethodPost, a.URL, strings.NewReader("payload"))
			require.NoError(t, err)
			if tt.echo != "" {
				req.Header.Set(tokencache.EchoTokenHeader, tt.echo)
			}
			resp, err := hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.EqualValues(t, 1, c.Stats().Retries401)
			a.mu.Lock()
			echoes := append([]string(nil), a.echoes...)
			a.mu.Unlock()
			require.Len(t, echoes, 2)
			assert.Equal(t, tt.echo, echoes[0], "the first attempt carries the caller's")
			assert.Equal(t, tt.echo, req.Header.Get(tokencache.EchoTokenHeader), "the caller's request was modified")
			if tt.echo == "" {
				assert.Empty(t, echoes[1])
				return
			}
			assert.NotEqual(t, tt.echo, echoes[1], "the retry repeats the first attempt's echo-token")
			assert.Regexp(t, `^[0-9a-f]{32}$`, echoes[1])
		})
	}
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeRecorder) Close() error { b.closed.Store(true); return nil }

func TestTransportWithoutATokenFailsAndClosesTheBody(t *testing.T) {
	clk := tokencache.NewFakeClock(t0)
	src := newScriptedSource()
	c := tokencache.New(src, tokencache.WithClock(clk))
	t.Cleanup(c.Close)
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/never", body)
	require.NoError(t, err)
	boom := errors.New("token endpoint down")

	done := make(chan error, 1)
	go func() {
		_, err := tokencache.NewTransport(c, nil).RoundTrip(req)
		done <- err
	}()
	src.fail(t, boom)
	assert.ErrorIs(t, receive(t, done), boom)
	assert.True(t, body.closed.Load(), "the request body was not closed")
}

func TestRetryAfterFromARealTokenEndpoint(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":"slow_down"}`)
	}))
	t.Cleanup(srv.Close)
	// A fixed AuthStyle: auto-detection would resend each failed request with the other style.
	cfg := clientcredentials.Config{ClientID: "id", ClientSecret: "secret", TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader}
	clk := tokencache.NewFakeClock(t0)
	c := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(context.Background()) }),
		tokencache.WithClock(clk), tokencache.Backoff(time.Second, time.Minute))
	t.Cleanup(c.Close)

	_, err := c.Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusTooManyRequests, re.Response.StatusCode)

	clk.Advance(3*time.Second - time.Millisecond)
	_, err = c.Token()
	assert.ErrorContains(t, err, "next attempt in 1ms")
	assert.EqualValues(t, 1, requests.Load(), "asked again before Retry-After")

	clk.Advance(time.Millisecond)
	_, err = c.Token()
	assert.ErrorAs(t, err, &re)
	assert.EqualValues(t, 2, requests.Load())
}

// idleCloser is a base transport that records CloseIdleConnections.
type idleCloser struct {
	http.RoundTripper
	closed atomic.Bool
}

func (c *idleCloser) CloseIdleConnections() { c.closed.Store(true) }

func TestTransportPassesCloseIdleConnectionsOn(t *testing.T) {
	base := &idleCloser{RoundTripper: http.DefaultTransport}
	c := tokencache.New(&counterSource{clk: tokencache.NewFakeClock(t0), life: time.Hour})
	t.Cleanup(c.Close)
	client := &http.Client{Transport: tokencache.NewTransport(c, base)}
	client.CloseIdleConnections()
	assert.True(t, base.closed.Load())
}
