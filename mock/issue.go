package mock

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// maxIssuedTokens bounds the list IssuedTokens returns.
const maxIssuedTokens = 10000

// repeatedJTI is the jti of every token under quirk repeat-jti.
const repeatedJTI = "6f1c3a52-0000-4000-8000-000000000000"

// cachedEntry is a token the cached policy answers again.
type cachedEntry struct {
	token string
	// expiry is the expiry the token's first answer announced (now + expires_in): the token's
	// exp, except under quirk wrong-exp, whose exp is an hour later. Every answer counts
	// expires_in down to it, so a cached answer keeps the quirk's shape.
	expiry time.Time
}

// cacheKey is what a cached token answers: a client (empty under quirk shared-token; client IDs
// are never empty) and a space-delimited scope.
type cacheKey struct{ client, scope string }

// tokenCache holds the cached policy's tokens, by client and scope.
type tokenCache struct {
	mu sync.Mutex
	m  map[cacheKey]cachedEntry
}

func (c *tokenCache) get(key cacheKey) (cachedEntry, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	return e, ok
}

func (c *tokenCache) put(key cacheKey, e cachedEntry) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[cacheKey]cachedEntry{}
	}
	c.m[key] = e
	c.mu.Unlock()
}

func (c *tokenCache) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// tokenRing keeps the most recent issued tokens.
type tokenRing struct {
	mu   sync.Mutex
	buf  []string
	next int
	full bool
}

func newTokenRing(n int) *tokenRing { return &tokenRing{buf: make([]string, n)} }

// add records tok and returns the token it pushed out of the ring ("" while the ring fills).
func (r *tokenRing) add(tok string) (evicted string) {
	r.mu.Lock()
	evicted = r.buf[r.next]
	r.buf[r.next] = tok
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
	return evicted
}

func (r *tokenRing) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.buf[:r.next]...)
	}
	return append(append([]string(nil), r.buf[r.next:]...), r.buf[:r.next]...)
}

func (r *tokenRing) reset() {
	r.mu.Lock()
	clear(r.buf)
	r.next, r.full = 0, false
	r.mu.Unlock()
}

// refreshMargin is how close to expiry a cached token may get before the cached policy issues a
// new one: a tenth of the lifetime.
func refreshMargin(ttl time.Duration) time.Duration { return ttl / 10 }

// issue answers a valid token request under the policy: a new token, or a cached one with
// expires_in counting down.
func (s *Server) issue(st *state, c *clientEntry, scopes []string, scopeStr string) (*issuedToken, error) {
	now := s.clock.now()
	q := st.quirks
	cached := st.policy == PolicyCached || q.has(qCachedFullLifetime) || q.has(qSharedToken)
	var key cacheKey
	var e cachedEntry
	hit := false
	if cached {
		key = cacheKey{client: c.ID, scope: scopeStr}
		if q.has(qSharedToken) {
			key.client = ""
		}
		e, hit = s.cache.get(key)
		left := e.expiry.Sub(now)
		hit = hit && left > refreshMargin(st.ttl) && left >= time.Second
	}
	if !hit && q.has(qSharedTokenPerSecond) {
		// Whoever asks first in a second gets a new token; every client asking for the same
		// scope in that second gets it too.
		if v, ok := s.perSecond.Load(scopeStr); ok && v.(perSecondEntry).sec == now.Unix() {
			e, hit = v.(perSecondEntry).entry, true
		}
	}
	if !hit {
		issued := now
		if q.has(qCachedFullLifetime) {
			issued = now.Add(-60 * time.Second)
		}
		// iat and exp are taken from one whole second, exactly the lifetime apart, so that
		// exp - iat == expires_in (as in the seed's token). That second is the one at or after
		// the issue instant, so the token lives at least its whole lifetime from now (rounding
		// down would cost up to a second of it, half of a compressed 2 s lifetime); nbf is the
		// second at or before it, so the token is valid at once, also at a verifier without
		// leeway. iat is thus up to a second ahead of the issue instant.
		iat := ceilUnix(issued)
		exp := iat + int64(st.ttl/time.Second)
		// The answer announces exp as computed here; quirks may move the token's own exp.
		claimScopes := scopes
		if q.has(qScopedClaimAllScopes) {
			claimScopes = c.Scopes
		}
		tok, _, err := s.signToken(st, c, claimScopes, issued.Unix(), iat, exp)
		if err != nil {
			return nil, err
		}
		e = cachedEntry{token: tok, expiry: time.Unix(exp, 0)}
		if cached {
			s.cache.put(key, e)
		}
		if q.has(qSharedTokenPerSecond) {
			s.perSecond.Store(scopeStr, perSecondEntry{sec: now.Unix(), entry: e})
		}
		s.remember(tok)
	}
	c.counters.tokensIssued.Add(1)
	s.metrics.issued.Inc()
	expiresIn := wholeSeconds(e.expiry.Sub(now))
	if q.has(qCachedFullLifetime) {
		expiresIn = int64(st.ttl / time.Second)
	}
	return &issuedToken{client: c.ID, token: e.token, scope: scopeStr, expiresIn: expiresIn}, nil
}

// remember adds a new token to the issued list. What the sample API keeps for a token (its
// scopes under quirk no-scope-claim, its entry under quirk opaque-token) is forgotten when the
// token leaves the list, so both stay as bounded as the list under any load. (A token the
// cached policy still answers could leave the list only after maxIssuedTokens newer ones.)
func (s *Server) remember(tok string) {
	if old := s.issued.add(tok); old != "" {
		s.scopes.Delete(old)
		s.opaque.Delete(old)
	}
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// wholeSeconds is d in whole seconds, rounded down: expires_in.
func wholeSeconds(d time.Duration) int64 { return int64(d / time.Second) }

// signToken builds and signs a token for c with the given nbf, iat and exp (before quirks); it
// returns the token and its exp.
func (s *Server) signToken(st *state, c *clientEntry, scopes []string, nbf, iat, exp int64) (string, int64, error) {
	q := st.quirks
	ks := s.keys.Load()
	var jti string
	switch {
	case q.has(qRepeatJTI):
		jti = repeatedJTI
	case q.has(qJTICounterPerClient):
		jti = strconv.FormatInt(c.counters.jtiSeq.Add(1), 10)
	case q.has(qDeterministicPerSecond):
		// The same client, scope and second give the same claims, and RS256 (PKCS #1 v1.5)
		// the same signature: the same token, byte for byte.
		jti = uuid.NewSHA1(uuid.NameSpaceOID, []byte(c.ID+"\x00"+strings.Join(scopes, " ")+"\x00"+strconv.FormatInt(iat, 10))).String()
		nbf = iat - 1
	default:
		jti = newJTI()
	}
	claims := claimSet{sub: c.ID, aud: c.ID, dis: c.Distributor, nbf: nbf, iat: iat, exp: exp, jti: jti,
		iss: Issuer, scopes: scopes, scopeClaim: true}
	if q.has(qSkewedIat) {
		claims.iat -= 3600
	}
	if q.has(qNbfFuture) {
		claims.nbf = nbf + 3600
	}
	if q.has(qNoIss) {
		claims.iss = ""
	}
	if q.has(qNoScopeClaim) {
		claims.scopeClaim = false
	}
	if q.has(qWrongExp) {
		claims.exp += 3600
	}
	if q.has(qOpaqueToken) {
		var b [32]byte
		_, _ = rand.Read(b[:])
		tok := base64.RawURLEncoding.EncodeToString(b[:])
		s.opaque.Store(tok, opaqueEntry{client: c.ID, scopes: append([]string(nil), scopes...), exp: claims.exp})
		return tok, claims.exp, nil
	}
	tok, err := s.sign(ks, q, &claims)
	if err != nil {
		return "", 0, err
	}
	if q.has(qNoScopeClaim) {
		s.scopes.Store(tok, append([]string(nil), scopes...))
	}
	if st.revokePrevious || q.has(qLateRevokePrevious) {
		at := s.clock.now()
		if !st.revokePrevious {
			at = at.Add(lateRevokeDelay)
		}
		s.latest.Store(c.ID, revocation{jti: jti, at: at})
	}
	return tok, claims.exp, nil
}

// lateRevokeDelay is how long after a newer token quirk late-revoke-previous revokes the
// earlier ones.
const lateRevokeDelay = 300 * time.Millisecond

// revocation is a client's newest token under revoke-previous (or quirk late-revoke-previous),
// and from when the sample API refuses the client's other tokens: at once, or lateRevokeDelay
// later.
type revocation struct {
	jti string
	at  time.Time
}

// perSecondEntry is quirk shared-token-per-second: the token first issued in a second (Unix).
type perSecondEntry struct {
	sec   int64
	entry cachedEntry
}

// claimSet is the payload of a token, in the seed's claim order.
type claimSet struct {
	sub, aud, dis, iss, jti string
	nbf, iat, exp           int64
	scopes                  []string
	scopeClaim              bool
}

// appendJSON appends the claims as JSON. Strings were validated when the client was added
// (no quotes, backslashes or control characters), so they need no escaping.
func (c *claimSet) appendJSON(b []byte) []byte {
	b = append(b, `{"sub":"`...)
	b = appendJSONString(b, c.sub)
	b = append(b, `","aud":"`...)
	b = appendJSONString(b, c.aud)
	b = append(b, `","nbf":`...)
	b = strconv.AppendInt(b, c.nbf, 10)
	if c.scopeClaim {
		b = append(b, `,"scope":[`...)
		for i, sc := range c.scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = appendJSONString(b, sc)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if c.iss != "" {
		b = append(b, `,"iss":"`...)
		b = appendJSONString(b, c.iss)
		b = append(b, '"')
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.exp, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.iat, 10)
	b = append(b, `,"jti":"`...)
	b = append(b, c.jti...)
	b = append(b, `","dis":"`...)
	b = appendJSONString(b, c.dis)
	return append(b, `"}`...)
}

// appendJSONString appends s escaped for a JSON string body (quotes and backslashes, control
// characters as \u00XX); other bytes, including UTF-8, pass through.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		default:
			b = append(b, ch)
		}
	}
	return b
}

// sign encodes and signs the claims with the current key (or HS256 under quirk alg-hs256).
func (s *Server) sign(ks *keySet, q quirkSet, c *claimSet) (string, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	payload := c.appendJSON((*bp)[:0])
	padded := q.has(qPaddedJWT)
	hs := q.has(qAlgHS256)
	sk := ks.current
	out := make([]byte, 0, 900+len(payload)*4/3)
	switch {
	case hs && padded:
		out = append(out, sk.hs256Pad...)
	case hs:
		out = append(out, sk.hs256...)
	case padded:
		out = append(out, sk.headerPad...)
	default:
		out = append(out, sk.header...)
	}
	out = append(out, '.')
	if padded {
		out = base64.URLEncoding.AppendEncode(out, payload)
	} else {
		out = base64.RawURLEncoding.AppendEncode(out, payload)
	}
	*bp = payload
	if hs {
		return string(signHS256(out, sk.hmacSecret, padded)), nil
	}
	out, err := signRS256(out, sk.priv, padded)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// newJTI is a random (version 4) UUID.
func newJTI() string { return uuid.NewString() }

// opaqueEntry is what the sample API knows of an opaque token (quirk opaque-token).
type opaqueEntry struct {
	client string
	scopes []string
	exp    int64
}
