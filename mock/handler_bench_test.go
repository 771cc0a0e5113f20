package mock

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkTokenHandler is the token handler alone, in process (no sockets, no client): what a
// token costs the server beyond HTTP. reissue is dominated by the RS256 signature; cached
// shows the handler's own overhead.
func BenchmarkTokenHandler(b *testing.B) {
	authz := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(DefaultClientID)+":"+url.QueryEscape(DefaultClientSecret)))
	for _, pol := range []Policy{PolicyReissue, PolicyCached} {
		b.Run(string(pol), func(b *testing.B) {
			s, err := New(WithKey(fuzzKey()), WithPolicy(pol))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			h := s.hs.Handler
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader("grant_type=client_credentials"))
					r.Header.Set("Authorization", authz)
					r.Header.Set("Content-Type", formContentType)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
		})
	}
}
