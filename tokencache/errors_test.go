package tokencache_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/tokencache"
)

// echoingTokenEndpoint answers every request 500 with the request's Authorization header and
// body in its answer: as plain text, or (asJSON) in an OAuth error's error_description.
func echoingTokenEndpoint(t *testing.T, asJSON bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		echo := "Authorization: " + r.Header.Get("Authorization") + "\n\n" + string(body)
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "server_error", "error_description": echo})
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, echo)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// No error from the cache carries what the token endpoint echoed of the request: neither the
// client secret (sent in the body) nor the Basic credential (sent in the header).
func TestFetchErrorsNeverCarryTheEndpointsAnswer(t *testing.T) {
	const id, secret = "client-id", "s3cr3t-never-to-be-logged"
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
	for _, tc := range []struct {
		name   string
		style  oauth2.AuthStyle
		asJSON bool
		code   string
	}{
		{"secret in the body, plain answer", oauth2.AuthStyleInParams, false, ""},
		{"Basic credential, plain answer", oauth2.AuthStyleInHeader, false, ""},
		{"secret in the body, OAuth error", oauth2.AuthStyleInParams, true, "server_error"},
		{"Basic credential, OAuth error", oauth2.AuthStyleInHeader, true, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := echoingTokenEndpoint(t, tc.asJSON)
			cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.URL, AuthStyle: tc.style}
			c := tokencache.New(tokencache.SourceFunc(func() (*oauth2.Token, error) { return cfg.Token(context.Background()) }),
				tokencache.Backoff(time.Hour, time.Hour))
			t.Cleanup(c.Close)

			// The endpoint really echoes the request: the original error holds it.
			_, err := c.Token()
			require.Error(t, err)
			var re *oauth2.RetrieveError
			require.ErrorAs(t, err, &re, "the RetrieveError is still reachable")
			assert.Equal(t, http.StatusInternalServerError, re.Response.StatusCode)
			assert.Equal(t, tc.code, re.ErrorCode)
			echoed := string(re.Body)
			if tc.style == oauth2.AuthStyleInParams {
				require.Contains(t, echoed, secret)
			} else {
				require.Contains(t, echoed, basic)
			}

			// The fetch's error, the quick failure while backing off, and a request through the
			// transport.
			_, quick := c.Token()
			require.Error(t, quick)
			assert.ErrorAs(t, quick, &re)
			hc := &http.Client{Transport: tokencache.NewTransport(c, nil)}
			_, viaTransport := hc.Get(srv.URL)
			require.Error(t, viaTransport)
			for _, e := range []error{err, quick, viaTransport} {
				msg := e.Error()
				assert.NotContains(t, msg, secret)
				assert.NotContains(t, msg, basic)
				assert.Contains(t, msg, "500 Internal Server Error")
				if tc.code != "" {
					assert.Contains(t, msg, `"server_error"`)
				}
			}
		})
	}
}
