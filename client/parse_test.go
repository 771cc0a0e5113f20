package client

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

func TestBasicCredentials(t *testing.T) {
	enc := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header, id, secret string
		ok                       bool
	}{
		{"plain", enc("ID:a+b/c=%!"), "ID", "a+b/c=%!", true},
		{"form-encoded keeps the secret as sent", enc("ID:" + url.QueryEscape("a+b")), "ID", "a%2Bb", true},
		{"lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("ID:s")), "ID", "s", true},
		{"not base64", "Basic !!!", "", "", false},
		{"no colon", enc("IDs"), "", "", false},
		{"bearer", "Bearer x", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret, ok := basicCredentials(http.Header{"Authorization": {tt.header}})
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.id, id)
			assert.Equal(t, tt.secret, secret)
		})
	}
}

func TestBasicFromElsewhereMovesCredentials(t *testing.T) {
	tests := []struct{ name, query, body string }{
		{"body", "", "grant_type=client_credentials&client_id=ID&client_secret=a%2Bb"},
		{"query", "client_id=ID&client_secret=a%2Bb", "grant_type=client_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/token?"+tt.query, nil)
			require.NoError(t, err)
			basicFromElsewhere(r, []byte(tt.body))
			id, secret, ok := basicCredentials(r.Header)
			require.True(t, ok)
			assert.Equal(t, "ID", id)
			d, _ := url.QueryUnescape(secret)
			assert.Equal(t, "a+b", d)
			assert.Empty(t, r.URL.RawQuery)
			b, _ := io.ReadAll(r.Body)
			assert.Equal(t, "grant_type=client_credentials", string(b))
		})
	}
}

func FuzzRequestParsers(f *testing.F) {
	f.Add("Basic SUQ6cw==", "client_id=a&client_secret=b", "client_id=x")
	f.Add("Bearer abc", "%zz", "")
	f.Fuzz(func(t *testing.T, authz, body, query string) {
		h := http.Header{"Authorization": {authz}}
		_, _, _ = basicCredentials(h)
		_ = mock.BearerToken(h)
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/token", nil)
		require.NoError(t, err)
		r.URL.RawQuery = query
		basicFromElsewhere(r, []byte(body))
		s := &session{secret: "a+b"}
		_ = s.secretForm(h)
		rec := &record{}
		_ = s.tokenAnswer(rec, []byte(body), sessionDef{expiresInString: true, lowerBearer: true})
	})
}
