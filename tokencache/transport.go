package tokencache

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
)

// EchoTokenHeader is the Ticket APIs' request ID, which must be unique per request: the
// Transport's retry after a 401 carries a new one when the request had one.
const EchoTokenHeader = "echo-token"

// NewTransport returns an http.RoundTripper that sends each request through base (or
// http.DefaultTransport when base is nil) with `Authorization: Bearer <token>` from c. When the
// response is 401 Unauthorized, it invalidates the token that was rejected and retries the
// request once with a fresh one, provided the body can be sent again (no body, or
// Request.GetBody set, as http.NewRequest does for in-memory bodies); the second response is
// returned whatever it is. The retry is a new request to the API: if the request carries an
// echo-token header (EchoTokenHeader), the retry carries a fresh random one instead of repeating
// it. A request whose body cannot be replayed gets its 401, and the token is still invalidated so
// the next request uses a new one. If no fresh token can be had, the 401 is returned as it came.
// Concurrent requests rejected with the same token cause a single fetch; fetches after
// rejections are spaced (RefetchSpacing).
func NewTransport(c *Cache, base http.RoundTripper) http.RoundTripper {
	if c == nil {
		panic("tokencache: NewTransport needs a Cache, got nil")
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{cache: c, base: base}
}

type transport struct {
	cache *Cache
	base  http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tok, err := t.cache.TokenContext(ctx)
	if err != nil {
		// A RoundTripper must close the body even when it fails.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	first := req.Clone(ctx) // a RoundTripper must not modify the caller's request
	tok.SetAuthHeader(first)
	resp, err := t.base.RoundTrip(first) // closes req.Body
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The token was rejected: whether or not this request can be retried, the next one
	// should not use it.
	t.cache.Invalidate(tok)
	if !replayable(req) {
		return resp, nil
	}
	fresh, err := t.cache.TokenContext(ctx)
	if err != nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil
	}
	body := req.Body
	if req.GetBody != nil && body != nil && body != http.NoBody {
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	// Drain what is cheap to drain so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	resp.Body.Close()

	second := req.Clone(ctx)
	second.Body = body
	fresh.SetAuthHeader(second)
	if second.Header.Get(EchoTokenHeader) != "" {
		second.Header.Set(EchoTokenHeader, newEchoToken())
	}
	t.cache.st.retries401.Add(1)
	return t.base.RoundTrip(second)
}

// newEchoToken returns 32 random hex digits.
func newEchoToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// replayable reports whether req's body can be sent a second time.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// CloseIdleConnections closes the base transport's idle connections, so that
// http.Client.CloseIdleConnections reaches through the cache's transport.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
