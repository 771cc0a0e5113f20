package mock_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestJWTCarriesTheSeedClaims covers JWT-01..10 on a fresh token.
func TestJWTCarriesTheSeedClaims(t *testing.T) {
	h := newHarness(t)
	sent := time.Now()
	before := sent.Unix()
	tok, resp := h.token("")
	hdr, claims := jwtParts(t, tok)

	t.Run("JWT-01 compact JWS, three unpadded base64url segments", func(t *testing.T) {
		assert.Regexp(t, `^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`, tok)
	})
	t.Run("JWT-02 header is RS256, typ JWT, with the key ID", func(t *testing.T) {
		assert.Equal(t, "RS256", hdr["alg"])
		assert.Equal(t, "JWT", hdr["typ"])
		assert.NotEmpty(t, hdr["kid"])
	})
	t.Run("JWT-03 the token lives its whole lifetime and now + expires_in is exp", func(t *testing.T) {
		exp, iat := int64(claims["exp"].(float64)), int64(claims["iat"].(float64))
		assert.Equal(t, int64(28800), exp-iat, "exp - iat is the lifetime, as in the seed")
		assert.False(t, time.Unix(exp, 0).Before(sent.Add(28800*time.Second)), "no part of the lifetime is lost to rounding")
		assert.Equal(t, 28800.0, resp["expires_in"])
		assert.InDelta(t, before+int64(resp["expires_in"].(float64)), exp, 2)
	})
	t.Run("JWT-04 JWT-05 iat and nbf are now", func(t *testing.T) {
		assert.InDelta(t, before, claims["iat"], 2)
		nbf, iat := int64(claims["nbf"].(float64)), int64(claims["iat"].(float64))
		assert.LessOrEqual(t, nbf, time.Now().Unix(), "nbf is not in the future")
		assert.Contains(t, []int64{iat - 1, iat}, nbf, "nbf is the second at or before iat")
	})
	t.Run("JWT-06 iss is DerbySoft's", func(t *testing.T) { assert.Equal(t, mock.Issuer, claims["iss"]) })
	t.Run("JWT-07 scope is a JSON array equal to the response's scope", func(t *testing.T) {
		assert.Equal(t, []any{"shop.all", "reservation.all", "product.all", "livecheck.all"}, claims["scope"])
		assert.Equal(t, "shop.all reservation.all product.all livecheck.all", resp["scope"])
	})
	t.Run("JWT-08 jti is a UUID and differs per token", func(t *testing.T) {
		assert.Regexp(t, uuidRE, claims["jti"])
		tok2, _ := h.token("")
		_, c2 := jwtParts(t, tok2)
		assert.NotEqual(t, claims["jti"], c2["jti"])
	})
	t.Run("JWT-09 the signature verifies with PublicKey and with the JWKS", func(t *testing.T) {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return h.srv.PublicKey(), nil }, jwt.WithValidMethods([]string{"RS256"}))
		require.NoError(t, err)
		e := h.do(request{method: http.MethodGet, path: mock.JWKSPath})
		require.Equal(t, 200, e.status)
		var set jose.JSONWebKeySet
		require.NoError(t, json.Unmarshal(e.body, &set))
		keys := set.Key(hdr["kid"].(string))
		require.Len(t, keys, 1)
		_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return keys[0].Key, nil }, jwt.WithValidMethods([]string{"RS256"}))
		assert.NoError(t, err)
	})
	t.Run("JWT-10 sub and aud are the client ID, dis its distributor", func(t *testing.T) {
		assert.Equal(t, mock.DefaultClientID, claims["sub"])
		assert.Equal(t, mock.DefaultClientID, claims["aud"])
		assert.Equal(t, mock.DefaultClientID, claims["dis"])
	})
}

// forge builds tokens the sample API must refuse, from a genuine one.
type forge struct {
	t      *testing.T
	header string // base64url
	claims map[string]any
	sig    string
}

func newForge(t *testing.T, tok string) *forge {
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	_, claims := jwtParts(t, tok)
	return &forge{t: t, header: parts[0], claims: claims, sig: parts[2]}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *forge) withClaims(change func(map[string]any)) string {
	c := map[string]any{}
	for k, v := range f.claims {
		c[k] = v
	}
	change(c)
	return f.header + "." + b64(c) + "." + f.sig
}

func (f *forge) algNone() string {
	return b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(f.claims) + "."
}

func (f *forge) hs256(secret []byte) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(f.claims)).SignedString(secret)
	require.NoError(f.t, err)
	return s
}

// TestSampleAPIAnswersRFC6750 covers BEARER-01..16 at GET /products.
func TestSampleAPIAnswersRFC6750(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tok, _ := h.token("")
	f := newForge(t, tok)
	pkix, err := x509.MarshalPKIXPublicKey(h.srv.PublicKey())
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	expired, err := h.srv.Control().Mint(ctx, mock.MintRequest{ClientID: mock.DefaultClientID, Expired: true})
	require.NoError(t, err)
	foreign, err := h.srv.Control().Mint(ctx, mock.MintRequest{ClientID: mock.DefaultClientID, Foreign: true})
	require.NoError(t, err)
	sigFlipped := tok[:len(tok)-4] + map[bool]string{true: "AAAA", false: "BBBB"}[!strings.HasSuffix(tok, "AAAA")]

	invalid := func(t *testing.T, e exchange) {
		assert.Equal(t, 401, e.status, "body %s", e.body)
		assert.Contains(t, e.header.Get("WWW-Authenticate"), `error="invalid_token"`)
		assert.True(t, strings.HasPrefix(e.header.Get("WWW-Authenticate"), "Bearer "))
		var body map[string]string
		require.NoError(t, json.Unmarshal(e.body, &body))
		assert.Equal(t, "Unauthorized", body["errorCode"])
		assert.NotEmpty(t, body["errorMessage"])
	}
	tests := []struct {
		name  string
		path  string
		authz string
		want  func(t *testing.T, e exchange)
	}{
		{"BEARER-01 a valid token is accepted", "/products", bearer(tok), func(t *testing.T, e exchange) {
			assert.Equal(t, 200, e.status)
			assert.Contains(t, string(e.body), "PRD-1001")
		}},
		{"BEARER-02 BEARER-03 no Authorization is 401 with a bare Bearer challenge", "/products", "", func(t *testing.T, e exchange) {
			assert.Equal(t, 401, e.status)
			assert.Equal(t, `Bearer realm="ticket-api"`, e.header.Get("WWW-Authenticate"))
		}},
		{"BEARER-04 the token without the Bearer scheme is 401", "/products", tok, invalid},
		{"BEARER-05 a lower-case bearer scheme is accepted", "/products", "bearer " + tok, func(t *testing.T, e exchange) { assert.Equal(t, 200, e.status) }},
		{"BEARER-06 Basic credentials are 401", "/products", demoBasic(), invalid},
		{"BEARER-07 an altered signature is 401 invalid_token", "/products", bearer(sigFlipped), invalid},
		{"BEARER-08 a widened exp with the original signature is 401", "/products", bearer(f.withClaims(func(c map[string]any) { c["exp"] = c["exp"].(float64) + 86400 })), invalid},
		{"BEARER-08 a changed sub with the original signature is 401", "/products", bearer(f.withClaims(func(c map[string]any) { c["sub"] = mock.DefaultClient2ID })), invalid},
		{"BEARER-09 alg none is 401", "/products", bearer(f.algNone()), invalid},
		{"BEARER-10 HS256 keyed with the public key is 401", "/products", bearer(f.hs256(pubPEM)), invalid},
		{"BEARER-11 an expired token is 401", "/products", bearer(expired), invalid},
		{"BEARER-13 a product.all token at /shopping is 403 insufficient_scope", "/shopping", "", nil},
		{"BEARER-15 garbage is 401", "/products", "Bearer abc", invalid},
		{"BEARER-16 a token signed by a foreign key is 401", "/products", bearer(foreign), invalid},
		{"an empty Bearer value is 401", "/products", "Bearer ", invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				return
			}
			method := http.MethodGet
			if tt.path != "/products" {
				method = http.MethodPost
			}
			tt.want(t, h.api(method, tt.path, tt.authz))
		})
	}
	t.Run("BEARER-13 a product.all token at /shopping is 403 insufficient_scope", func(t *testing.T) {
		narrow, _ := h.token("scope=product.all")
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(narrow)).status)
		e := h.api(http.MethodPost, "/shopping", bearer(narrow))
		assert.Equal(t, 403, e.status)
		assert.Contains(t, e.header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
		assert.JSONEq(t, `{"errorCode":"Forbidden","errorMessage":"the token lacks scope shop.all"}`, string(e.body))
	})
	t.Run("BEARER-14 the token in the query is ignored", func(t *testing.T) {
		e := h.do(request{method: http.MethodGet, path: "/products?access_token=" + tok})
		assert.Equal(t, 401, e.status)
	})
}

// TestEachSampleEndpointNeedsItsScope: a token for one scope opens its endpoint only.
func TestEachSampleEndpointNeedsItsScope(t *testing.T) {
	h := newHarness(t)
	eps := map[string]struct{ method, scope string }{
		"/products": {http.MethodGet, "product.all"}, "/shopping": {http.MethodPost, "shop.all"},
		"/livecheck": {http.MethodPost, "livecheck.all"}, "/reservations": {http.MethodPost, "reservation.all"},
	}
	for path, ep := range eps {
		t.Run(path, func(t *testing.T) {
			tok, _ := h.token("scope=" + ep.scope)
			for other, oep := range eps {
				want := 403
				if other == path {
					want = 200
				}
				assert.Equal(t, want, h.api(oep.method, other, bearer(tok)).status, "%s token at %s", ep.scope, other)
			}
			assert.Equal(t, 405, h.api(http.MethodDelete, path, bearer(tok)).status)
		})
	}
}

// TestCacheBehaviour covers CACHE-01..05 and the cached policy's countdown.
func TestCacheBehaviour(t *testing.T) {
	ctx := context.Background()
	t.Run("CACHE-01 reissue gives a distinct token every time", func(t *testing.T) {
		h := newHarness(t)
		seen := map[string]bool{}
		for range 5 {
			tok, m := h.token("")
			seen[tok] = true
			assert.Equal(t, float64(28800), m["expires_in"])
		}
		assert.Len(t, seen, 5)
	})
	t.Run("CACHE-01 CACHE-02 cached gives the same token with expires_in counting down to exp", func(t *testing.T) {
		h := newHarness(t, mock.WithPolicy(mock.PolicyCached), mock.WithTokenTTL(100*time.Second))
		tok1, m1 := h.token("")
		require.NoError(t, h.srv.Control().Advance(ctx, 30*time.Second))
		tok2, m2 := h.token("")
		assert.Equal(t, tok1, tok2)
		assert.Equal(t, float64(100), m1["expires_in"])
		_, claims := jwtParts(t, tok2)
		assert.InDelta(t, h.srv.Now().Unix()+int64(m2["expires_in"].(float64)), claims["exp"], 1)
		assert.InDelta(t, 70, m2["expires_in"], 1)
		require.NoError(t, h.srv.Control().Advance(ctx, 65*time.Second)) // 5 s left: under a tenth
		tok3, m3 := h.token("")
		assert.NotEqual(t, tok1, tok3)
		assert.Equal(t, float64(100), m3["expires_in"])
	})
	t.Run("CACHE-01 cached tokens are per scope set", func(t *testing.T) {
		h := newHarness(t, mock.WithPolicy(mock.PolicyCached))
		all, _ := h.token("")
		narrow, _ := h.token("scope=product.all")
		assert.NotEqual(t, all, narrow)
	})
	t.Run("CACHE-03 the first token still works after a second is issued", func(t *testing.T) {
		h := newHarness(t)
		first, _ := h.token("")
		h.token("")
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(first)).status)
	})
	t.Run("revoke-previous: a second token revokes the first", func(t *testing.T) {
		h := newHarness(t, mock.WithRevokePrevious(true))
		first, _ := h.token("")
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(first)).status)
		second, _ := h.token("")
		assert.Equal(t, 401, h.api(http.MethodGet, "/products", bearer(first)).status)
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(second)).status)
		third, _ := h.token("")
		assert.Equal(t, 401, h.api(http.MethodGet, "/products", bearer(second)).status)
		assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(third)).status)
	})
	t.Run("CACHE-04 ten requests at once all succeed", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		status := make([]int, 10)
		for i := range status {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, h.srv.TokenURL(), strings.NewReader("grant_type=client_credentials"))
				req.Header.Set("Authorization", demoBasic())
				req.Header.Set("Content-Type", formCT)
				resp, err := h.hc.Do(req)
				if err == nil {
					status[i] = resp.StatusCode
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		for _, s := range status {
			assert.Equal(t, 200, s)
		}
	})
	for _, pol := range []mock.Policy{mock.PolicyReissue, mock.PolicyCached} {
		t.Run("CACHE-05 two clients never share a token under "+string(pol), func(t *testing.T) {
			h := newHarness(t, mock.WithPolicy(pol))
			tok1, _ := h.token("")
			e := h.do(request{header: [][2]string{{"Authorization", basic(mock.DefaultClient2ID, mock.DefaultClient2Secret)}, {"Content-Type", formCT}}, body: "grant_type=client_credentials"})
			require.Equal(t, 200, e.status)
			tok2 := e.json(t)["access_token"].(string)
			assert.NotEqual(t, tok1, tok2)
			_, c1 := jwtParts(t, tok1)
			_, c2 := jwtParts(t, tok2)
			assert.Equal(t, mock.DefaultClientID, c1["sub"])
			assert.Equal(t, mock.DefaultClient2ID, c2["sub"])
			assert.Equal(t, mock.DefaultClient2ID, c2["dis"])
		})
	}
}

// TestCachedAnswersKeepTheQuirksShape: a cached answer counts expires_in down to the expiry the
// first answer announced, so quirks that skew exp or expires_in look the same on every answer.
func TestCachedAnswersKeepTheQuirksShape(t *testing.T) {
	ctx := context.Background()
	t.Run("cached + wrong-exp: exp stays an hour past now + expires_in", func(t *testing.T) {
		h := newHarness(t, mock.WithPolicy(mock.PolicyCached), mock.WithTokenTTL(100*time.Second), mock.WithQuirks("wrong-exp"))
		tok1, m1 := h.token("")
		_, c1 := jwtParts(t, tok1)
		assert.Equal(t, float64(100), m1["expires_in"])
		assert.InDelta(t, 3600, c1["exp"].(float64)-float64(h.srv.Now().Unix())-m1["expires_in"].(float64), 1)
		require.NoError(t, h.srv.Control().Advance(ctx, 30*time.Second))
		tok2, m2 := h.token("")
		require.Equal(t, tok1, tok2, "the cached policy answers the same token")
		assert.InDelta(t, 70, m2["expires_in"], 1)
		assert.InDelta(t, 3600, c1["exp"].(float64)-float64(h.srv.Now().Unix())-m2["expires_in"].(float64), 1)
		require.NoError(t, h.srv.Control().Advance(ctx, 65*time.Second)) // 5 s of the announced lifetime left
		tok3, m3 := h.token("")
		assert.NotEqual(t, tok1, tok3, "the refresh follows the announced expiry, not the skewed exp")
		assert.Equal(t, float64(100), m3["expires_in"])
	})
	t.Run("cached-full-lifetime: every answer says the whole lifetime; the token is renewed before its exp", func(t *testing.T) {
		h := newHarness(t, mock.WithTokenTTL(1000*time.Second), mock.WithQuirks("cached-full-lifetime"))
		tok1, m1 := h.token("")
		_, c1 := jwtParts(t, tok1)
		assert.Equal(t, float64(1000), m1["expires_in"])
		assert.InDelta(t, h.srv.Now().Unix()+940, c1["exp"], 2, "the token was issued a minute ago")
		require.NoError(t, h.srv.Control().Advance(ctx, 300*time.Second))
		tok2, m2 := h.token("")
		assert.Equal(t, tok1, tok2)
		assert.Equal(t, float64(1000), m2["expires_in"])
		require.NoError(t, h.srv.Control().Advance(ctx, 600*time.Second)) // 40 s of exp left: under a tenth
		tok3, m3 := h.token("")
		assert.NotEqual(t, tok1, tok3)
		assert.Equal(t, float64(1000), m3["expires_in"])
		_, c3 := jwtParts(t, tok3)
		assert.Greater(t, c3["exp"].(float64), float64(h.srv.Now().Unix()), "a cached answer is never an expired token")
	})
}

// TestAPIChecksFollowQuirkChanges: the sample API's JWT checks, built once per configuration,
// follow quirks turned on and off while the mock runs.
func TestAPIChecksFollowQuirkChanges(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	tok, _ := h.token("")
	none := newForge(t, tok).algNone()
	noIss := newForge(t, tok).withClaims(func(c map[string]any) { delete(c, "iss") })
	assert.Equal(t, 401, h.api(http.MethodGet, "/products", bearer(none)).status)
	require.NoError(t, h.srv.Control().SetQuirks(ctx, []string{"api-accepts-alg-none"}))
	assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(none)).status)
	assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(tok)).status)
	require.NoError(t, h.srv.Control().SetQuirks(ctx, []string{"api-accepts-alg-none", "no-iss"}))
	assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(newForge(t, noIss).algNone())).status)
	require.NoError(t, h.srv.Control().Reset(ctx))
	assert.Equal(t, 401, h.api(http.MethodGet, "/products", bearer(none)).status)
	assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(tok)).status)
}

// TestLifetimeIsExactWholeSeconds: exp - iat is exactly expires_in on a fresh token (the seed's
// 28800, not 28801) at any sub-second issue instant; the token is valid at once (nbf not ahead)
// and lives at least expires_in from the answer; under the cached policy expires_in counts down
// while exp stays.
func TestLifetimeIsExactWholeSeconds(t *testing.T) {
	ctx := context.Background()
	for _, frac := range []time.Duration{0, time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond} {
		t.Run("issued at +"+frac.String(), func(t *testing.T) {
			t0 := time.Now().Truncate(time.Second).Add(frac)
			h := newHarness(t, mock.WithNow(func() time.Time { return t0 }), mock.WithPolicy(mock.PolicyCached))
			tok, m := h.token("")
			_, c := jwtParts(t, tok)
			exp, iat, nbf := int64(c["exp"].(float64)), int64(c["iat"].(float64)), int64(c["nbf"].(float64))
			assert.Equal(t, int64(28800), exp-iat)
			assert.Equal(t, float64(28800), m["expires_in"])
			assert.LessOrEqual(t, nbf, t0.Unix(), "valid at once")
			assert.False(t, time.Unix(exp, 0).Before(t0.Add(28800*time.Second)), "lives its whole lifetime")
			assert.Equal(t, 200, h.api(http.MethodGet, "/products", bearer(tok)).status)

			require.NoError(t, h.srv.Control().Advance(ctx, 10*time.Second))
			tok2, m2 := h.token("")
			require.Equal(t, tok, tok2)
			assert.Equal(t, float64(28790), m2["expires_in"], "counts down")
			assert.False(t, time.Unix(exp, 0).Before(h.srv.Now().Add(28790*time.Second)))
		})
	}
}
