package steps

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/catalog"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/mock"
)

// Clients whose ID and secret read differently raw and form-encoded (RFC 6749 §2.3.1).
var encodingClients = []mock.Client{
	{ID: "partner+one", Secret: "op:sec+ret %2F/&=1234"},
	{ID: "partner two", Secret: "two:sec+ret %2F/&=5678"},
}

// basicCounter counts the token requests that present a client's valid credentials, by form.
type basicCounter struct {
	mu     sync.Mutex
	counts map[credForm]int
}

func (b *basicCounter) observe(ex mock.Exchange) {
	if ex.Endpoint != "token" {
		return
	}
	for _, v := range ex.Header.Values("Authorization") {
		_, cred, _ := strings.Cut(v, " ")
		for _, c := range encodingClients {
			for _, f := range []credForm{formRaw, formEncoded} {
				if cred == basicIn(f, c.ID, c.Secret) {
					b.mu.Lock()
					b.counts[f]++
					b.mu.Unlock()
				}
			}
		}
	}
}

// TestCredentialFormIsFoundAndUsed runs the whole suite with clients whose credentials need
// encoding, against a server that takes both forms, only the raw one or only the encoded one,
// under both profiles: the run finds the form that works and no check fails falsely (before,
// the raw form failed 15 MUST checks against an RFC-strict server); AUTH-18 says which form.
func TestCredentialFormIsFoundAndUsed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite six times")
	}
	cases := []struct {
		name  string
		quirk string
		// per profile: the failing checks, the form the run used, what AUTH-18 reports
		fails map[string][]string
		used  credForm
		note  string
	}{
		{"server takes both forms", "", map[string][]string{catalog.ProfileDerbySoft: nil, catalog.ProfileRFC6749: nil},
			-1, "accepts both forms"},
		{"server takes only the raw form", "no-form-decode-credentials",
			map[string][]string{catalog.ProfileDerbySoft: {"AUTH-11"}, catalog.ProfileRFC6749: {"AUTH-11"}},
			formRaw, "accepts only the raw credentials"},
		{"server takes only the form-encoded form", "encoded-credentials-only",
			map[string][]string{catalog.ProfileDerbySoft: {"AUTH-18"}, catalog.ProfileRFC6749: nil},
			formEncoded, "accepts only the form-encoded credentials"},
	}
	for _, tc := range cases {
		for _, profile := range []string{catalog.ProfileDerbySoft, catalog.ProfileRFC6749} {
			t.Run(tc.name+"/"+profile, func(t *testing.T) {
				t.Parallel()
				counter := &basicCounter{counts: map[credForm]int{}}
				opts := []mock.Option{mock.WithClients(encodingClients...), mock.WithObserver(counter.observe)}
				if tc.quirk != "" {
					opts = append(opts, mock.WithQuirks(tc.quirk))
				}
				_, cfg := startMock(t, profile, false, opts...)
				cfg.ClientID, cfg.ClientSecret = encodingClients[0].ID, encodingClients[0].Secret
				cfg.Client2ID, cfg.Client2Secret = encodingClients[1].ID, encodingClients[1].Secret
				sum, err := Run(context.Background(), cfg)
				require.NoError(t, err)

				got := failing(sum)
				sort.Strings(got)
				if !assert.Equal(t, tc.fails[profile], got, "failing checks") {
					for _, c := range sum.Checks {
						if c.Status == evidence.StatusFailed {
							t.Logf("%s %s: %s", c.ID, c.Level, c.Reason)
						}
					}
				}
				for _, c := range sum.Checks {
					assert.NotContains(t, c.Reason, "no token to judge", "%s skipped for want of a token", c.ID)
				}
				auth18 := statusOf(sum, "AUTH-18")
				assert.Contains(t, strings.Join(auth18.Notes, "\n"), tc.note)

				used := tc.used
				if used < 0 {
					used = preferredForms(profile)[0]
				}
				other := formRaw
				if used == formRaw {
					other = formEncoded
				}
				counter.mu.Lock()
				defer counter.mu.Unlock()
				assert.Greater(t, counter.counts[used], 40, "the run's requests use the form found")
				// The other form: the probe (tried first when it is the profile's), AUTH-18's and
				// AUTH-11's own request, once per client at most.
				assert.LessOrEqual(t, counter.counts[other], 4, "the form that was not found is sent only to find it and by AUTH-11/18")
			})
		}
	}
}

// TestNoTokenToJudge runs the suite with a secret the server does not know: TOK-01 fails at
// MUST, and every check that needs a token or the valid credentials is skipped with "no token to
// judge", never passed or failed on the 401 (TOK-02/07/08/10 used to pass on its headers,
// BEARER-02 to fail for want of a token it never sends).
func TestNoTokenToJudge(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	cfg.ClientSecret = "not+the/secret%of=this client" // both forms are tried, and refused
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)

	assert.Equal(t, evidence.Failed, sum.Result)
	tok01 := statusOf(sum, "TOK-01")
	assert.Equal(t, evidence.StatusFailed, tok01.Status)
	assert.Equal(t, string(catalog.Must), tok01.Level)
	for _, id := range []string{"TOK-02", "TOK-03", "TOK-04", "TOK-05", "TOK-07", "TOK-08", "TOK-10", "TOK-11",
		"TOK-12", "JWT-02", "JWT-03", "JWT-09", "GRANT-01", "GRANT-02", "GRANT-03", "GRANT-06", "HTTP-03",
		"AUTH-10", "AUTH-11", "AUTH-13", "AUTH-18", "BEARER-01", "BEARER-02", "BEARER-05", "CACHE-04", "CACHE-05"} {
		c := statusOf(sum, id)
		assert.Equal(t, evidence.StatusSkipped, c.Status, "%s: %s", id, c.Reason)
		assert.Contains(t, c.Reason, "no token to judge", id)
	}
	// Checks about refusing other credentials judge their own requests, and still pass; CACHE-03
	// runs as the second client, whose secret is right.
	for _, id := range []string{"AUTH-01", "AUTH-02", "AUTH-04", "AUTH-06", "AUTH-07", "CACHE-03"} {
		assert.Equal(t, evidence.StatusPassed, statusOf(sum, id).Status, id)
	}
	for _, c := range sum.Checks {
		if c.Status == evidence.StatusFailed {
			assert.Equal(t, "TOK-01", c.ID, "only TOK-01 judges the refused valid request: %s", c.Reason)
		}
	}
}

// TestCredentialsRedactedInEveryForm: the secrets that need encoding appear in no file of the
// run, in either form.
func TestCredentialsRedactedInEveryForm(t *testing.T) {
	_, cfg := startMock(t, catalog.ProfileRFC6749, false, mock.WithClients(encodingClients...), mock.WithQuirks("encoded-credentials-only"))
	cfg.ClientID, cfg.ClientSecret = encodingClients[0].ID, encodingClients[0].Secret
	cfg.Client2ID, cfg.Client2Secret = encodingClients[1].ID, encodingClients[1].Secret
	cfg.Tags = "@AUTH-11,@AUTH-18,@TOK-01,@AUTH-15"
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	var forbidden []string
	for _, c := range encodingClients {
		forbidden = append(forbidden, c.Secret, url.QueryEscape(c.Secret), basicIn(formRaw, c.ID, c.Secret), basicIn(formEncoded, c.ID, c.Secret))
	}
	files := 0
	require.NoError(t, filepath.WalkDir(cfg.OutDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		files++
		for _, f := range forbidden {
			assert.NotContains(t, string(b), f, "%s holds a form of a secret", p)
		}
		return nil
	}))
	assert.Greater(t, files, 3)
}

// TestWellFormedRequests: HTTP-07 counts only requests that are not a valid token request.
func TestWellFormedRequests(t *testing.T) {
	r := &runner{cfg: Config{TokenURL: "https://127.0.0.1/token", ClientID: "partner+one", ClientSecret: "op:sec+ret %2F/&=1234",
		Client2ID: "c2", Client2Secret: "second-secret-1"}}
	valid := func(mod func(req *request)) request {
		req := r.validRequestIn(formRaw, r.cfg.ClientID, r.cfg.ClientSecret)
		if mod != nil {
			mod(&req)
		}
		return req
	}
	cases := []struct {
		name string
		req  request
		want bool
	}{
		{"the valid request", valid(nil), true},
		{"credentials form-encoded", r.validRequestIn(formEncoded, r.cfg.ClientID, r.cfg.ClientSecret), true},
		{"the second client", r.validRequestIn(formRaw, "c2", "second-secret-1"), true},
		{"lower-case basic", valid(func(q *request) {
			q.header.Set("Authorization", "basic "+basicIn(formRaw, r.cfg.ClientID, r.cfg.ClientSecret))
		}), true},
		{"an unknown parameter", valid(func(q *request) { q.body = []byte(validForm + "&foo=bar") }), true},
		{"a scope", valid(func(q *request) { q.body = []byte(validForm + "&scope=product.all") }), true},
		{"a scope the client lacks", valid(func(q *request) { q.body = []byte(validForm + "&scope=admin.all") }), true},
		{"content type in another case with a charset", valid(func(q *request) {
			q.header.Set("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
		}), true},
		{"a wrong secret", valid(func(q *request) {
			q.header.Set("Authorization", "Basic "+basicIn(formRaw, r.cfg.ClientID, "wrong-secret-1"))
		}), false},
		{"Basic not base64", valid(func(q *request) { q.header.Set("Authorization", "Basic !!!not-base64") }), false},
		{"Bearer on the token endpoint", valid(func(q *request) { q.header.Set("Authorization", "Bearer x") }), false},
		{"no credentials", valid(func(q *request) { q.header.Del("Authorization") }), false},
		{"two Authorization headers", valid(func(q *request) { q.header.Add("Authorization", "Basic "+basicIn(formRaw, r.cfg.ClientID, "x")) }), false},
		{"no grant type", valid(func(q *request) { q.body = []byte("scope=product.all") }), false},
		{"an empty grant type", valid(func(q *request) { q.body = []byte("grant_type=") }), false},
		{"another grant", valid(func(q *request) { q.body = []byte("grant_type=password") }), false},
		{"the grant in upper case", valid(func(q *request) { q.body = []byte("grant_type=CLIENT_CREDENTIALS") }), false},
		{"the grant twice", valid(func(q *request) { q.body = []byte(validForm + "&" + validForm) }), false},
		{"a secret in the body too", valid(func(q *request) { q.body = []byte(validForm + "&client_secret=x") }), false},
		{"a body of 1 MiB", valid(func(q *request) { q.body = []byte(validForm + "&pad=" + strings.Repeat("a", 1<<20)) }), false},
		{"a JSON body", valid(func(q *request) { q.header.Set("Content-Type", "application/json") }), false},
		{"an empty body", valid(func(q *request) { q.body = nil }), false},
		{"a bad form", valid(func(q *request) { q.body = []byte(validForm + "&%zz") }), false},
		{"GET", valid(func(q *request) { q.method = http.MethodGet }), false},
		{"a query", valid(func(q *request) { q.url += "?grant_type=client_credentials" }), false},
		{"Basic without a colon", valid(func(q *request) {
			q.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(r.cfg.ClientID)))
		}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, r.wellFormed(tc.req))
		})
	}
}

// FuzzWellFormed: no request a table could build makes wellFormed panic.
func FuzzWellFormed(f *testing.F) {
	f.Add("Basic abc", "application/x-www-form-urlencoded", validForm)
	f.Add("basic", "", "%zz&grant_type")
	f.Fuzz(func(t *testing.T, auth, ct, body string) {
		r := &runner{cfg: Config{TokenURL: "https://127.0.0.1/token", ClientID: "a", ClientSecret: "b+c%"}}
		req := r.validRequestIn(formRaw, "a", "b+c%")
		req.header.Set("Authorization", auth)
		req.header.Set("Content-Type", ct)
		req.body = []byte(body)
		_ = r.wellFormed(req)
		_ = presents(req, "a", "b+c%")
	})
}

// TestServerErrorToValidRequestIsNotMalformed puts a server in front of the mock that answers
// 500 to valid requests written another legitimate way (lower-case basic, an unknown
// parameter, a charset, and at the API the scheme written "bearer"): the checks that sent them
// fail, and HTTP-07, which judges only requests that are not valid, does not (it used to count
// them as malformed).
func TestServerErrorToValidRequestIsNotMalformed(t *testing.T) {
	s, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	target, err := url.Parse(s.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		if strings.HasPrefix(auth, "basic ") || strings.HasPrefix(auth, "bearer ") || strings.Contains(string(body), "foo=bar") ||
			strings.Contains(r.Header.Get("Content-Type"), "charset") {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	cfg.TokenURL = front.URL + strings.TrimPrefix(cfg.TokenURL, s.URL())
	cfg.APIURL = front.URL + strings.TrimPrefix(cfg.APIURL, s.URL())
	cfg.Tags = "@AUTH-02,@AUTH-10,@TOK-11,@TOK-12,@BEARER-05,@HTTP-07"
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)

	got := failing(sum)
	sort.Strings(got)
	assert.Equal(t, []string{"AUTH-10", "BEARER-05", "TOK-11", "TOK-12"}, got)
	http07 := statusOf(sum, "HTTP-07")
	assert.Equal(t, evidence.StatusPassed, http07.Status, http07.Reason)
	assert.Contains(t, strings.Join(http07.Notes, "\n"), "1 malformed requests judged", "AUTH-02's wrong secret is judged, the valid requests are not")
}

// TestTokenEndpointFailingLaterSkipsWhatNeedsAToken: the endpoint answers the first token
// request (the credentials are found) and 500 to every later one. The checks whose scenario
// starts by getting a token are skipped with the reason, never failed (BEARER-02 sends no token
// at all) or passed; TOK-01 fails on the 500.
func TestTokenEndpointFailingLaterSkipsWhatNeedsAToken(t *testing.T) {
	s, cfg := startMock(t, catalog.ProfileDerbySoft, false)
	target, err := url.Parse(s.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	tokenRequests := 0
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == mock.TokenPath {
			mu.Lock()
			tokenRequests++
			n := tokenRequests
			mu.Unlock()
			if n > 1 {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"error":"server_error"}`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	cfg.TokenURL = front.URL + mock.TokenPath
	cfg.APIURL = front.URL + strings.TrimPrefix(cfg.APIURL, s.URL())
	cfg.Tags = "@TOK-01,@TOK-02,@BEARER-01,@BEARER-02,@BEARER-06,@JWT-02,@CACHE-05"
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)

	assert.Equal(t, []string{"TOK-01"}, failing(sum))
	for _, id := range []string{"TOK-02", "BEARER-01", "BEARER-02", "BEARER-06", "JWT-02", "CACHE-05"} {
		c := statusOf(sum, id)
		assert.Equal(t, evidence.StatusSkipped, c.Status, id)
		assert.Contains(t, c.Reason, "no token to judge: ", id)
		assert.Contains(t, c.Reason, "status 500", id)
		if id != "CACHE-05" { // CACHE-05's first request is the second client's first: its probe
			assert.Contains(t, c.Reason, "could not get", id)
		}
	}
}
