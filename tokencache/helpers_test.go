package tokencache_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/oauth2"

	"github.com/authzcheck/authzcheck/tokencache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is where every fake clock starts.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// watchdog bounds every wait, so a broken cache fails a test instead of hanging it.
const watchdog = 10 * time.Second

// scriptedSource is a token source whose every fetch blocks until the test answers it, so a
// test sees each fetch start and decides when and how it ends.
type scriptedSource struct {
	calls chan *fetchCall
	n     atomic.Int64
}

type fetchCall struct {
	reply chan fetchResult
}

type fetchResult struct {
	tok *oauth2.Token
	err error
}

func newScriptedSource() *scriptedSource {
	return &scriptedSource{calls: make(chan *fetchCall)}
}

func (s *scriptedSource) Token() (*oauth2.Token, error) {
	s.n.Add(1)
	c := &fetchCall{reply: make(chan fetchResult, 1)}
	s.calls <- c
	r := <-c.reply
	return r.tok, r.err
}

// next waits for the next fetch to start.
func (s *scriptedSource) next(tb testing.TB) *fetchCall {
	tb.Helper()
	select {
	case c := <-s.calls:
		return c
	case <-time.After(watchdog):
		tb.Fatal("the cache did not fetch a token")
		return nil
	}
}

// answer waits for the next fetch and ends it with tok.
func (s *scriptedSource) answer(tb testing.TB, tok *oauth2.Token) {
	tb.Helper()
	s.next(tb).ok(tok)
}

// fail waits for the next fetch and ends it with err.
func (s *scriptedSource) fail(tb testing.TB, err error) {
	tb.Helper()
	s.next(tb).fail(err)
}

func (c *fetchCall) ok(tok *oauth2.Token) { c.reply <- fetchResult{tok: tok} }
func (c *fetchCall) fail(err error)       { c.reply <- fetchResult{err: err} }

// counterSource answers every fetch at once with a new token "tok-N" valid for life on clk.
type counterSource struct {
	clk  tokencache.Clock
	life time.Duration
	n    atomic.Int64
}

func (s *counterSource) Token() (*oauth2.Token, error) {
	n := s.n.Add(1)
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", n), TokenType: "Bearer", Expiry: s.clk.Now().Add(s.life)}, nil
}

// opaque returns an opaque (non-JWT) bearer token expiring at exp.
func opaque(name string, exp time.Time) *oauth2.Token {
	return &oauth2.Token{AccessToken: name, TokenType: "Bearer", Expiry: exp}
}

// fixedRand pins the jitter draws to v.
func fixedRand(v float64) tokencache.Option {
	return tokencache.WithRand(func() float64 { return v })
}

// receive waits for a value on ch.
func receive[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(watchdog):
		tb.Fatal("timed out waiting for the cache")
		var zero T
		return zero
	}
}

// tokenResult is what one Token call returned.
type tokenResult struct {
	tok *oauth2.Token
	err error
}

// goToken calls c.Token on a new goroutine and delivers the result on the returned channel.
func goToken(c *tokencache.Cache) <-chan tokenResult {
	ch := make(chan tokenResult, 1)
	go func() {
		tok, err := c.Token()
		ch <- tokenResult{tok, err}
	}()
	return ch
}

// jwtWith returns a JWT-shaped access token carrying claims, with a dummy signature: the
// cache reads exp and never verifies.
func jwtWith(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(tb, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(payload) + "." + enc([]byte("signature"))
}
