// Package tokencache is a client-side cache for OAuth 2.0 access tokens: a drop-in
// [oauth2.TokenSource] for Go clients of DerbySoft's Ticket APIs, and the engine of
// `authzcheck load cached`.
//
// A [Cache] wraps a source that fetches a new token on every call (for example
// [golang.org/x/oauth2/clientcredentials.Config.Token] in a [SourceFunc]; not
// Config.TokenSource, which already caches) and hands every caller the current token. Unlike [oauth2.ReuseTokenSource], which holds a mutex across the network fetch
// and refreshes only once the token is expiring, a Cache:
//
//   - answers a hit without a lock, a clock read or an allocation (an atomic load of an
//     immutable entry, and a counter increment on a shard that parallel callers rarely share);
//   - fetches once however many callers arrive at a cold start (single flight);
//   - refreshes in the background when a fraction of the token's lifetime has elapsed (80%
//     minus up to 5% jitter by default, see [RefreshAt] and [Jitter]), so once warm no caller
//     waits for a refresh;
//   - keeps serving the still-valid token while the token endpoint is slow or failing, retrying
//     with capped, jittered exponential backoff that honours Retry-After (see [RetryAfterError]);
//   - fails promptly once the token has truly expired and the endpoint is down: a caller never
//     waits longer than [MaxWait] for a fetch, and gets the last error at once while the cache
//     is backing off;
//   - spaces the fetches that rejected tokens cause ([RefetchSpacing]), so an API that rejects
//     every token does not turn each rejected call into a token request.
//
// A token expires at the earlier of [oauth2.Token.Expiry] and, when the access token is a JWT,
// its `exp` claim (read, not verified), less a clock-skew allowance ([ClockSkew]).
//
// [NewTransport] wraps an [http.RoundTripper]: it sets `Authorization: Bearer`, and after a 401
// invalidates the token that was rejected and retries the request once with a new one (and a
// new echo-token, [EchoTokenHeader], when the request had one).
//
// Stats counts fetches, hits, background refreshes, stalls (calls that waited for a fetch),
// failures, invalidations and 401 retries; [OnRefresh] reports each new token with how long
// before the old one's expiry it arrived.
package tokencache
