package mock

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
