package mock

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestControlAPIAnswersLoopbackPeersOnly(t *testing.T) {
	s, err := New(WithKey(fuzzKey()))
	require.NoError(t, err)
	defer s.Close()
	for _, peer := range []string{"192.0.2.7:40000", "[2001:db8::1]:40000", "garbage"} {
		r := httptest.NewRequest(http.MethodGet, "/_control/counters", nil)
		r.RemoteAddr = peer
		r.Header.Set(ControlTokenHeader, s.ControlToken())
		w := httptest.NewRecorder()
		s.hs.Handler.ServeHTTP(w, r)
		assert.Equal(t, http.StatusForbidden, w.Code, peer)
	}
	r := httptest.NewRequest(http.MethodGet, "/_control/counters", nil)
	r.RemoteAddr = "[::1]:40000"
	r.Header.Set(ControlTokenHeader, s.ControlToken())
	w := httptest.NewRecorder()
	s.hs.Handler.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
}

func TestLogsNeverHoldSecretsOrTokens(t *testing.T) {
	var buf bytes.Buffer
	s, err := New(WithKey(fuzzKey()), WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	require.NoError(t, err)
	defer s.Close()
	send := func(secret string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(DefaultClientID+":"+secret)))
		r.Header.Set("Content-Type", formContentType)
		w := httptest.NewRecorder()
		s.hs.Handler.ServeHTTP(w, r)
		return w
	}
	ok := send(DefaultClientSecret)
	require.Equal(t, 200, ok.Code)
	send(DefaultClientSecret + "x")
	api := httptest.NewRequest(http.MethodGet, "/products", nil)
	api.Header.Set("Authorization", "Bearer garbage-token")
	s.hs.Handler.ServeHTTP(httptest.NewRecorder(), api)
	logs := buf.String()
	assert.Contains(t, logs, "token issued")
	assert.Contains(t, logs, "token request refused")
	assert.Contains(t, logs, "API call refused")
	assert.NotContains(t, logs, DefaultClientSecret)
	assert.NotContains(t, logs, "eyJ")
	assert.NotContains(t, logs, "garbage-token")
}

func syncMapLen(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

// TestQuirkMapsStayBounded: what the sample API keeps per token under quirks opaque-token and
// no-scope-claim is forgotten with the token's place in the issued list, so it never outgrows it.
func TestQuirkMapsStayBounded(t *testing.T) {
	apiStatus := func(s *Server, tok string) int {
		r := httptest.NewRequest(http.MethodGet, "/products", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		s.hs.Handler.ServeHTTP(w, r)
		return w.Code
	}
	t.Run("opaque-token, past the issued list's size", func(t *testing.T) {
		s, err := New(WithKey(fuzzKey()), WithQuirks("opaque-token"))
		require.NoError(t, err)
		defer s.Close()
		st := s.st.Load()
		c := st.clients[DefaultClientID]
		var first, last string
		for i := range maxIssuedTokens + 50 {
			it, err := s.issue(st, c, c.Scopes, c.defaultScope)
			require.NoError(t, err)
			if i == 0 {
				first = it.token
			}
			last = it.token
		}
		assert.Equal(t, maxIssuedTokens, syncMapLen(&s.opaque))
		assert.Len(t, s.issued.list(), maxIssuedTokens)
		assert.Equal(t, http.StatusOK, apiStatus(s, last))
		_, kept := s.opaque.Load(first)
		assert.False(t, kept, "the oldest token was forgotten")
	})
	t.Run("no-scope-claim, past a small issued list", func(t *testing.T) {
		s, err := New(WithKey(fuzzKey()), WithQuirks("no-scope-claim"))
		require.NoError(t, err)
		defer s.Close()
		s.issued = newTokenRing(8)
		st := s.st.Load()
		c := st.clients[DefaultClientID]
		toks := make([]string, 0, 20)
		for range 20 {
			it, err := s.issue(st, c, []string{"product.all"}, "product.all")
			require.NoError(t, err)
			toks = append(toks, it.token)
		}
		assert.Equal(t, 8, syncMapLen(&s.scopes))
		for i, tok := range toks {
			_, kept := s.scopes.Load(tok)
			assert.Equal(t, i >= 12, kept, "token %d", i)
		}
		assert.Equal(t, http.StatusOK, apiStatus(s, toks[19]), "the newest token's scopes are still known")
	})
}

func TestDecodeBasic(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for cred, want := range map[string][3]string{
		enc("DEMO:s3cret"):           {"DEMO", "s3cret", ""},
		"  " + enc("DEMO:a:b") + " ": {"DEMO", "a:b", ""},
		enc(":"):                     {"", "", ""},
		enc("DEMO"):                  {"", "", errBasicNoColon.Error()},
		"not base64!":                {"", "", errBasicEncoding.Error()},
		enc("DEMO:x")[:5]:            {"", "", errBasicEncoding.Error()},
	} {
		id, secret, err := DecodeBasic(cred)
		if want[2] != "" {
			assert.EqualError(t, err, want[2], cred)
			continue
		}
		require.NoError(t, err, cred)
		assert.Equal(t, want[0], id, cred)
		assert.Equal(t, want[1], secret, cred)
	}
}
