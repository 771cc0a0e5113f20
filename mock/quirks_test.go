package mock_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/mock"
)

// probe reports whether the mock shows a quirk's deviation. Each quirk's probe must report true
// with the quirk on and false on the strict mock, so every quirk provably changes behaviour.
type probe func(t *testing.T, h *harness) bool

func statusOf(h *harness, r request) int { return h.do(r).status }

func form(authz, body string) request {
	r := request{header: [][2]string{{"Content-Type", formCT}}, body: body}
	if authz != "" {
		r.header = append(r.header, [2]string{"Authorization", authz})
	}
	return r
}

const gtCC = "grant_type=client_credentials"

// tryToken is a token request that may fail; it returns the answer's JSON (nil if not JSON).
func tryToken(h *harness, r request) (int, map[string]any, exchange) {
	e := h.do(r)
	var m map[string]any
	_ = json.Unmarshal(e.body, &m)
	return e.status, m, e
}

func claimsOf(t *testing.T, h *harness) (map[string]any, map[string]any, map[string]any) {
	tok, resp := h.token("")
	hdr, c := jwtParts(t, tok)
	return hdr, c, resp
}

var probes = map[string]probe{
	"no-www-authenticate": func(t *testing.T, h *harness) bool {
		return h.do(form(basic(mock.DefaultClientID, "wrong"), gtCC)).header.Get("WWW-Authenticate") == ""
	},
	"status-400-for-bad-client": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(basic(mock.DefaultClientID, "wrong"), gtCC)) == 400
	},
	"enumerating-errors": func(t *testing.T, h *harness) bool {
		return string(h.do(form(basic(mock.DefaultClientID, "wrong"), gtCC)).body) != string(h.do(form(basic("NOBODY", "wrong"), gtCC)).body)
	},
	"accept-no-credentials": func(t *testing.T, h *harness) bool { return statusOf(h, form("", gtCC)) == 200 },
	"weak-secret-compare": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(basic(mock.DefaultClientID, strings.ToUpper(mock.DefaultClientSecret)), gtCC)) == 200 &&
			statusOf(h, form(basic(mock.DefaultClientID, mock.DefaultClientSecret+"x"), gtCC)) == 200
	},
	"accept-empty-secret": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(basic(mock.DefaultClientID, ""), gtCC)) == 200
	},
	"accept-query-credentials": func(t *testing.T, h *harness) bool {
		r := form("", gtCC)
		r.path = mock.TokenPath + "?client_id=" + mock.DefaultClientID + "&client_secret=" + url.QueryEscape(mock.DefaultClientSecret)
		return statusOf(h, r) == 200
	},
	"accept-bearer-on-token": func(t *testing.T, h *harness) bool { return statusOf(h, form("Bearer whatever", gtCC)) == 200 },
	"5xx-on-bad-basic":       func(t *testing.T, h *harness) bool { return statusOf(h, form("Basic !!!not-base64", gtCC)) >= 500 },
	"accept-no-colon": func(t *testing.T, h *harness) bool {
		return statusOf(h, form("Basic "+base64.StdEncoding.EncodeToString([]byte("nocolon")), gtCC)) == 200
	},
	"case-sensitive-basic": func(t *testing.T, h *harness) bool {
		return statusOf(h, form("basic "+strings.TrimPrefix(demoBasic(), "Basic "), gtCC)) != 200
	},
	"no-form-decode-credentials": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(basic(mock.DefaultClientID, url.QueryEscape(mock.DefaultClientSecret)), gtCC)) != 200
	},
	"encoded-credentials-only": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(demoBasic(), gtCC)) != 200 &&
			statusOf(h, form(basic(url.QueryEscape(mock.DefaultClientID), url.QueryEscape(mock.DefaultClientSecret)), gtCC)) == 200
	},
	"accept-both-auth": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(demoBasic(), gtCC+"&client_secret=x")) == 200
	},
	"accept-duplicate-authorization": func(t *testing.T, h *harness) bool {
		r := form(demoBasic(), gtCC)
		r.header = append(r.header, [2]string{"Authorization", demoBasic()})
		return statusOf(h, r) == 200
	},
	"grant-type-optional": func(t *testing.T, h *harness) bool { return statusOf(h, form(demoBasic(), "scope=product.all")) == 200 },
	"grant-type-empty-ok": func(t *testing.T, h *harness) bool { return statusOf(h, form(demoBasic(), "grant_type=")) == 200 },
	"any-grant-type": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(demoBasic(), "grant_type=password")) == 200
	},
	"grant-type-case-insensitive": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(demoBasic(), "grant_type=CLIENT_CREDENTIALS")) == 200
	},
	"duplicate-grant-type-ok": func(t *testing.T, h *harness) bool { return statusOf(h, form(demoBasic(), gtCC+"&"+gtCC)) == 200 },
	"grant-type-from-query": func(t *testing.T, h *harness) bool {
		r := form(demoBasic(), "")
		r.path = mock.TokenPath + "?" + gtCC
		return statusOf(h, r) == 200
	},
	"accept-get": func(t *testing.T, h *harness) bool {
		return statusOf(h, request{method: http.MethodGet, path: mock.TokenPath + "?" + gtCC, header: [][2]string{{"Authorization", demoBasic()}}}) == 200
	},
	"accept-json-body": func(t *testing.T, h *harness) bool {
		return statusOf(h, request{header: [][2]string{{"Authorization", demoBasic()}, {"Content-Type", "application/json"}}, body: `{"grant_type":"client_credentials"}`}) == 200
	},
	"crash-on-large-body": func(t *testing.T, h *harness) bool {
		return statusOf(h, form(demoBasic(), gtCC+"&pad="+strings.Repeat("a", 1<<20))) >= 500
	},
	"html-errors": func(t *testing.T, h *harness) bool {
		return strings.HasPrefix(h.do(form("Basic !!!", gtCC)).header.Get("Content-Type"), "text/html")
	},
	"echo-secret-in-error": func(t *testing.T, h *harness) bool {
		return strings.Contains(string(h.do(form(demoBasic(), "grant_type=foo")).body), mock.DefaultClientSecret)
	},
	"errors-cacheable": func(t *testing.T, h *harness) bool {
		return h.do(form(demoBasic(), "grant_type=foo")).header.Get("Cache-Control") == ""
	},
	"token-content-type-text": func(t *testing.T, h *harness) bool {
		return !strings.HasPrefix(h.do(tokenReq("")).header.Get("Content-Type"), "application/json")
	},
	"token-type-wrong": func(t *testing.T, h *harness) bool {
		_, m, _ := tryToken(h, tokenReq(""))
		return !strings.EqualFold(m["token_type"].(string), "bearer")
	},
	"expires-in-string": func(t *testing.T, h *harness) bool {
		_, m, _ := tryToken(h, tokenReq(""))
		s, ok := m["expires_in"].(string)
		return ok && s == "28800"
	},
	"expires-in-float": func(t *testing.T, h *harness) bool {
		_, m, _ := tryToken(h, tokenReq(""))
		f, ok := m["expires_in"].(float64)
		return ok && f != math.Trunc(f)
	},
	"no-cache-control": func(t *testing.T, h *harness) bool {
		// Go's client turns a lone Pragma: no-cache into Cache-Control: no-cache (RFC 7234 §5.4).
		return h.do(tokenReq("")).header.Get("Cache-Control") != "no-store"
	},
	"no-pragma": func(t *testing.T, h *harness) bool { return h.do(tokenReq("")).header.Get("Pragma") == "" },
	"refresh-token": func(t *testing.T, h *harness) bool {
		_, m, _ := tryToken(h, tokenReq(""))
		return m["refresh_token"] != nil
	},
	"reject-unknown-param": func(t *testing.T, h *harness) bool { return statusOf(h, tokenReq("foo=bar")) == 400 },
	"strict-content-type": func(t *testing.T, h *harness) bool {
		r := request{header: [][2]string{{"Authorization", demoBasic()}, {"Content-Type", formCT + "; charset=UTF-8"}}, body: gtCC}
		return statusOf(h, r) != 200
	},
	"ignore-scope": func(t *testing.T, h *harness) bool { return statusOf(h, tokenReq("scope=admin.all")) == 200 },
	"drop-unknown-scope": func(t *testing.T, h *harness) bool {
		st, m, _ := tryToken(h, tokenReq("scope="+url.QueryEscape("admin.all product.all")))
		return st == 200 && m["scope"] == "product.all"
	},
	"scope-comma-delimited": func(t *testing.T, h *harness) bool {
		_, m, _ := tryToken(h, tokenReq(""))
		return strings.Contains(m["scope"].(string), ",")
	},
	"alg-hs256": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		hdr, _ := jwtParts(t, tok)
		return hdr["alg"] == "HS256" && h.api(http.MethodGet, "/products", bearer(tok)).status == 200
	},
	"padded-jwt": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return strings.Contains(tok, "=") && h.api(http.MethodGet, "/products", bearer(tok)).status == 200
	},
	"jwks-wrong-key": func(t *testing.T, h *harness) bool {
		var set jose.JSONWebKeySet
		require.NoError(t, json.Unmarshal(h.do(request{method: http.MethodGet, path: mock.JWKSPath}).body, &set))
		require.NotEmpty(t, set.Keys)
		pk := h.srv.PublicKey()
		got, _ := x509.MarshalPKIXPublicKey(set.Keys[0].Key)
		want, _ := x509.MarshalPKIXPublicKey(pk)
		return string(got) != string(want)
	},
	"wrong-exp": func(t *testing.T, h *harness) bool {
		_, c, resp := claimsOf(t, h)
		return math.Abs(float64(h.srv.Now().Unix())+resp["expires_in"].(float64)-c["exp"].(float64)) > 5
	},
	"cached-full-lifetime": func(t *testing.T, h *harness) bool {
		_, c, resp := claimsOf(t, h)
		return math.Abs(float64(h.srv.Now().Unix())+resp["expires_in"].(float64)-c["exp"].(float64)) > 5
	},
	"shared-token": func(t *testing.T, h *harness) bool {
		t1, _ := h.token("")
		_, m, _ := tryToken(h, form(basic(mock.DefaultClient2ID, mock.DefaultClient2Secret), gtCC))
		return t1 == m["access_token"]
	},
	"skewed-iat": func(t *testing.T, h *harness) bool {
		_, c, _ := claimsOf(t, h)
		return math.Abs(c["iat"].(float64)-float64(h.srv.Now().Unix())) > 300
	},
	"nbf-future": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		_, c := jwtParts(t, tok)
		return c["nbf"].(float64) > float64(h.srv.Now().Unix()+60) && h.api(http.MethodGet, "/products", bearer(tok)).status == 200
	},
	"no-iss": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		_, c := jwtParts(t, tok)
		return c["iss"] == nil && h.api(http.MethodGet, "/products", bearer(tok)).status == 200
	},
	"no-scope-claim": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("scope=product.all")
		_, c := jwtParts(t, tok)
		// The API still enforces the scope it looked up by jti.
		return c["scope"] == nil && h.api(http.MethodGet, "/products", bearer(tok)).status == 200 &&
			h.api(http.MethodPost, "/shopping", bearer(tok)).status == 403
	},
	"repeat-jti": func(t *testing.T, h *harness) bool {
		_, c1, _ := claimsOf(t, h)
		_, c2, _ := claimsOf(t, h)
		return c1["jti"] == c2["jti"]
	},
	"api-accepts-alg-none": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return h.api(http.MethodGet, "/products", bearer(newForge(t, tok).algNone())).status == 200
	},
	"api-accepts-hs256-public-key": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		pkix, _ := x509.MarshalPKIXPublicKey(h.srv.PublicKey())
		key := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
		return h.api(http.MethodGet, "/products", bearer(newForge(t, tok).hs256(key))).status == 200
	},
	"api-no-signature-check": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		forged := newForge(t, tok).withClaims(func(c map[string]any) { c["exp"] = c["exp"].(float64) + 86400 })
		return h.api(http.MethodGet, "/products", bearer(forged)).status == 200 &&
			h.api(http.MethodGet, "/products", bearer(newForge(t, tok).algNone())).status == 200
	},
	"api-rs256-unverified": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		forged := newForge(t, tok).withClaims(func(c map[string]any) { c["exp"] = c["exp"].(float64) + 86400 })
		// alg none is still refused: only RS256 skips verification.
		return h.api(http.MethodGet, "/products", bearer(forged)).status == 200 &&
			h.api(http.MethodGet, "/products", bearer(newForge(t, tok).algNone())).status == 401
	},
	"api-ignore-expiry": func(t *testing.T, h *harness) bool {
		tok, err := h.srv.Control().Mint(context.Background(), mock.MintRequest{ClientID: mock.DefaultClientID, Expired: true})
		require.NoError(t, err)
		return h.api(http.MethodGet, "/products", bearer(tok)).status == 200
	},
	"api-accepts-basic": func(t *testing.T, h *harness) bool {
		return h.api(http.MethodGet, "/products", demoBasic()).status == 200
	},
	"api-no-auth": func(t *testing.T, h *harness) bool { return h.api(http.MethodGet, "/products", "").status == 200 },
	"api-403-for-invalid": func(t *testing.T, h *harness) bool {
		return h.api(http.MethodGet, "/products", "Bearer abc").status == 403
	},
	"api-no-www-authenticate": func(t *testing.T, h *harness) bool {
		e := h.api(http.MethodGet, "/products", "")
		return e.status == 401 && e.header.Get("WWW-Authenticate") == ""
	},
	"api-invalid-token-no-error": func(t *testing.T, h *harness) bool {
		e := h.api(http.MethodGet, "/products", "Bearer abc")
		return e.status == 401 && !strings.Contains(e.header.Get("WWW-Authenticate"), "error=")
	},
	"api-rejects-lowercase-bearer": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return h.api(http.MethodGet, "/products", "bearer "+tok).status == 401
	},
	"api-token-without-scheme": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return h.api(http.MethodGet, "/products", tok).status == 200
	},
	"api-query-token": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return h.do(request{method: http.MethodGet, path: "/products?access_token=" + tok}).status == 200
	},
	"api-no-scope-check": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("scope=product.all")
		return h.api(http.MethodPost, "/shopping", bearer(tok)).status == 200
	},
	"opaque-token": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return strings.Count(tok, ".") == 0 && h.api(http.MethodGet, "/products", bearer(tok)).status == 200 &&
			h.api(http.MethodPost, "/shopping", bearer(tok)).status == 200
	},
	"api-reject-all": func(t *testing.T, h *harness) bool {
		tok, _ := h.token("")
		return h.api(http.MethodGet, "/products", bearer(tok)).status == 401
	},
	"scoped-answer-cacheable": func(t *testing.T, h *harness) bool {
		return h.do(tokenReq("scope=product.all")).header.Get("Cache-Control") != "no-store" &&
			h.do(tokenReq("")).header.Get("Cache-Control") == "no-store"
	},
	"scoped-answer-sloppy": func(t *testing.T, h *harness) bool {
		e := h.do(tokenReq("scope=product.all"))
		m := e.json(t)
		return e.header.Get("Content-Type") != "application/json" && m["token_type"] == "JWT" && m["refresh_token"] != nil &&
			h.do(tokenReq("")).header.Get("Content-Type") == "application/json"
	},
	"scoped-claim-all-scopes": func(t *testing.T, h *harness) bool {
		tok, resp := h.token("scope=product.all")
		_, c := jwtParts(t, tok)
		claim, _ := c["scope"].([]any)
		return resp["scope"] == "product.all" && len(claim) == len(mock.DefaultScopes)
	},
	"jti-counter-per-client": func(t *testing.T, h *harness) bool {
		_, c1, _ := claimsOf(t, h)
		_, m, _ := tryToken(h, form(basic(mock.DefaultClient2ID, mock.DefaultClient2Secret), gtCC))
		tok2, _ := m["access_token"].(string)
		_, c2 := jwtParts(t, tok2)
		return c1["jti"] == c2["jti"]
	},
	"late-revoke-previous": func(t *testing.T, h *harness) bool {
		first, _ := h.token("")
		second, _ := h.token("")
		atOnce := h.api(http.MethodGet, "/products", bearer(first)).status
		require.NoError(t, h.srv.Control().Advance(context.Background(), time.Second))
		later := h.api(http.MethodGet, "/products", bearer(first)).status
		return atOnce == 200 && later == 401 && h.api(http.MethodGet, "/products", bearer(second)).status == 200
	},
	"deterministic-per-second": func(t *testing.T, h *harness) bool {
		// Two tokens of one second are the same; a second boundary between them (rare) is
		// seen from their iat, and the pair asked again.
		for range 3 {
			t1, _ := h.token("")
			t2, _ := h.token("")
			_, c1 := jwtParts(t, t1)
			_, c2 := jwtParts(t, t2)
			if c1["iat"] != c2["iat"] {
				continue
			}
			require.NoError(t, h.srv.Control().Advance(context.Background(), time.Second))
			t3, _ := h.token("")
			_, c3 := jwtParts(t, t3)
			return t1 == t2 && t3 != t1 && c3["iat"].(float64) > c1["iat"].(float64)
		}
		return false
	},
	"shared-token-per-second": func(t *testing.T, h *harness) bool {
		// As deterministic-per-second: a pair split by a second boundary is asked again.
		for range 3 {
			t1, _ := h.token("")
			_, m, _ := tryToken(h, form(basic(mock.DefaultClient2ID, mock.DefaultClient2Secret), gtCC))
			t2, _ := m["access_token"].(string)
			_, c1 := jwtParts(t, t1)
			_, c2 := jwtParts(t, t2)
			if c1["iat"] == c2["iat"] {
				return t1 == t2
			}
		}
		return false
	},
}

// TestEveryQuirkChangesBehaviour turns each quirk on alone (through the control API) and runs
// its probe, which must see the deviation; the same probe on the strict mock must not.
func TestEveryQuirkChangesBehaviour(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ctl := h.srv.Control()
	for _, q := range mock.Quirks() {
		t.Run(q.Name, func(t *testing.T) {
			p, ok := probes[q.Name]
			require.True(t, ok, "quirk %s has no probe in this test", q.Name)
			require.NoError(t, ctl.Reset(ctx))
			assert.False(t, p(t, h), "the strict mock already shows %s's deviation", q.Name)
			require.NoError(t, ctl.Reset(ctx))
			require.NoError(t, ctl.SetQuirks(ctx, []string{q.Name}))
			active, err := ctl.ActiveQuirks(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{q.Name}, active)
			assert.True(t, p(t, h), "quirk %s did not change behaviour", q.Name)
		})
	}
	assert.Len(t, probes, len(mock.Quirks()), "a probe names a quirk that does not exist")
}

// infoOnlyQuirks show only in an INFO check's finding, which steps' tests assert: a server whose
// tokens are derived from the second they are issued in is compliant, and CACHE-01 must classify
// it as such, not as a cache.
var infoOnlyQuirks = map[string]bool{"deterministic-per-second": true}

// TestQuirkCatalogue: names unique, at least 10, every Breaks ID in the catalogue, each quirk
// breaks a check that can fail (not INFO) under some profile, and every MUST check of the areas
// the mock owns can be broken by a quirk (TOK-01 and TOK-03 by faults: ErrorRate, TruncateRate);
// infoOnlyQuirks are exempt from the second rule.
func TestQuirkCatalogue(t *testing.T) {
	qs := mock.Quirks()
	require.GreaterOrEqual(t, len(qs), 10)
	seen := map[string]bool{}
	broken := map[string]bool{}
	for _, q := range qs {
		assert.False(t, seen[q.Name], "duplicate quirk %s", q.Name)
		seen[q.Name] = true
		assert.NotEmpty(t, q.Description, q.Name)
		fails := false
		for _, profile := range []string{catalog.ProfileDerbySoft, "rfc6749"} {
			for _, id := range q.BreaksFor(profile) {
				c, ok := catalog.Lookup(id)
				if !assert.True(t, ok, "quirk %s breaks unknown check %s", q.Name, id) {
					continue
				}
				if c.Level(profile) != catalog.Info {
					fails = true
				}
				if profile == catalog.ProfileDerbySoft {
					broken[id] = true
				}
			}
		}
		if !infoOnlyQuirks[q.Name] {
			assert.True(t, fails, "quirk %s breaks no check that can fail", q.Name)
		}
	}
	byFault := map[string]bool{"TOK-01": true, "TOK-03": true}
	for _, c := range catalog.All() {
		switch c.Area {
		case "TOK", "AUTH", "GRANT", "HTTP", "JWT", "BEARER", "CACHE":
			if c.Level(catalog.ProfileDerbySoft) == catalog.Must && !byFault[c.ID] {
				assert.True(t, broken[c.ID], "no quirk breaks MUST check %s", c.ID)
			}
		}
	}
}

// TestWithQuirksRejectsUnknownNames: a typo is an error, not a silently strict server.
func TestWithQuirksRejectsUnknownNames(t *testing.T) {
	_, err := mock.New(mock.WithKey(testKey()), mock.WithQuirks("no-such-quirk"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-quirk")
	h := newHarness(t)
	assert.Error(t, h.srv.Control().SetQuirks(context.Background(), []string{"nope"}))
}

// TestREADMEListsEveryQuirkWithItsBreaks keeps the README's quirk table in step with Quirks().
func TestREADMEListsEveryQuirkWithItsBreaks(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `") {
			cells := strings.Split(line, " | ")
			rows[strings.Trim(cells[0], "| `")] = strings.TrimSuffix(cells[len(cells)-1], " |")
		}
	}
	for _, q := range mock.Quirks() {
		want := strings.Join(q.Breaks, ", ")
		if want == "" {
			want = "none"
		}
		if q.BreaksRFC6749 != nil {
			r := strings.Join(q.BreaksRFC6749, ", ")
			if r == "" {
				r = "none"
			}
			want += " (rfc6749: " + r + ")"
		}
		assert.Equal(t, want, rows[q.Name], "README row for quirk %s", q.Name)
	}
}
