package mock

import (
	"net/http"
)

// routes is the mock's whole HTTP surface.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(TokenPath, s.handleToken)
	mux.HandleFunc(JWKSPath, s.handleJWKS)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/metrics", s.metrics.handler())
	for _, ep := range apiEndpoints {
		mux.Handle(ep.path, s.apiHandler(ep))
	}
	mux.Handle(ControlPath, s.controlHandler())
	if s.cfg.Observer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.enter()
			defer s.inFlight.Add(-1)
			mux.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.enter()
		defer s.inFlight.Add(-1)
		s.serveObserved(w, r, mux)
	})
}

// enter counts a request in flight and raises the high-water mark when it is a new peak.
func (s *Server) enter() {
	n := s.inFlight.Add(1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// InFlight is the number of requests being handled right now.
func (s *Server) InFlight() int64 { return s.inFlight.Load() }

// MaxInFlight is the most requests handled at once since the server started: a client's bound
// on its requests in flight is proven by it (the conformance runner's Config.Concurrency).
func (s *Server) MaxInFlight() int64 { return s.peak.Load() }

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ks := s.keys.Load()
	body := ks.jwks
	if s.st.Load().quirks.has(qJWKSWrongKey) {
		body = ks.decoyJWKS()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(body)
}
