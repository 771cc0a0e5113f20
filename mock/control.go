package mock

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// The control API, under /_control/, answers loopback peers that send X-Control-Token:
//
//	POST /_control/reset            back to the configuration New was given; counters, cache,
//	                                issued tokens and clock offset cleared
//	PUT  /_control/quirks           {"quirks":["no-pragma",...]} (replaces the set)
//	PUT  /_control/faults           Faults as JSON (durations as strings: "150ms")
//	PATCH /_control/config          a Config with the fields to change: token_ttl, policy,
//	                                revoke_previous, quirks, faults ({"token_ttl":"2s"})
//	POST /_control/clients          {"id","secret","scopes","distributor"} (adds or replaces)
//	POST /_control/clock/advance    {"by":"1h"}
//	POST /_control/keys/rotate      a new signing key; the old one stays in the JWKS and valid
//	POST /_control/mint             MintRequest -> {"access_token":"..."}
//	GET  /_control/counters         {"CLIENT":{"token_requests":..},...}
//	GET  /_control/tokens           {"tokens":[...]} (the last 10,000 issued)
//	GET  /_control/quirks           {"active":[...],"available":[QuirkInfo...]}

// MintRequest asks the control API for a token the token endpoint would not issue.
type MintRequest struct {
	ClientID string   `json:"client_id"`        // sub, aud and dis (a configured client's distributor)
	Scopes   []string `json:"scopes,omitempty"` // default: the client's scopes
	// Expired: exp is in the past (iat a TTL before it), signed by the real key.
	Expired bool `json:"expired,omitempty"`
	// Foreign: signed RS256 by a key the issuer never had (its header names the real kid).
	Foreign bool `json:"foreign,omitempty"`
	// TTL is the lifetime (default: the configured token lifetime).
	TTL time.Duration `json:"ttl,omitempty"`
}

// ControlClient drives a mock's control API over HTTP.
type ControlClient struct {
	base  string
	token string
	hc    *http.Client
}

// NewControlClient talks to the mock at baseURL ("http://127.0.0.1:PORT"); hc nil means a
// client with a 30 s timeout.
func NewControlClient(baseURL, controlToken string, hc *http.Client) *ControlClient {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &ControlClient{base: strings.TrimRight(baseURL, "/"), token: controlToken, hc: hc}
}

func (c *ControlClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("mock control %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+ControlPath+path, body)
	if err != nil {
		return fmt.Errorf("mock control %s: %w", path, err)
	}
	req.Header.Set(ControlTokenHeader, c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("mock control %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("mock control %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("mock control %s: %s: %s", path, resp.Status, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("mock control %s: decode answer: %w", path, err)
		}
	}
	return nil
}

// Reset returns the mock to the configuration it started with: clients, lifetime, policy,
// quirks, faults and keys; counters, cached and issued tokens cleared, clock offset zero.
func (c *ControlClient) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "reset", nil, nil)
}

// SetQuirks replaces the active quirks (nil or empty: none).
func (c *ControlClient) SetQuirks(ctx context.Context, names []string) error {
	if names == nil {
		names = []string{}
	}
	return c.do(ctx, http.MethodPut, "quirks", map[string][]string{"quirks": names}, nil)
}

// SetFaults replaces the faults (the zero Faults: none).
func (c *ControlClient) SetFaults(ctx context.Context, f Faults) error {
	return c.do(ctx, http.MethodPut, "faults", f, nil)
}

// SetConfig changes the token lifetime, the policy or revoke-previous.
func (c *ControlClient) SetConfig(ctx context.Context, p ConfigPatch) error {
	return c.do(ctx, http.MethodPatch, "config", p, nil)
}

// AddClient adds a client, or replaces the one with the same ID (its counters kept).
func (c *ControlClient) AddClient(ctx context.Context, cl Client) error {
	return c.do(ctx, http.MethodPost, "clients", cl, nil)
}

// Advance moves the mock's clock forward by d.
func (c *ControlClient) Advance(ctx context.Context, d time.Duration) error {
	return c.do(ctx, http.MethodPost, "clock/advance", map[string]string{"by": d.String()}, nil)
}

// RotateKey makes a fresh key the signing key. The previous keys stay in the JWKS and keep
// verifying at the sample API (tokens already issued stay valid until they expire).
func (c *ControlClient) RotateKey(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "keys/rotate", nil, nil)
}

// Mint returns a token the token endpoint would not issue: expired, or signed by a foreign key.
func (c *ControlClient) Mint(ctx context.Context, r MintRequest) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, http.MethodPost, "mint", mintJSON{MintRequest: r, TTL: durString(r.TTL)}, &out); err != nil {
		return "", err
	}
	return out.AccessToken, nil
}

// Counters returns every configured client's counters, by client ID.
func (c *ControlClient) Counters(ctx context.Context) (map[string]ClientCounters, error) {
	out := map[string]ClientCounters{}
	if err := c.do(ctx, http.MethodGet, "counters", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// IssuedTokens returns the access tokens issued so far (the most recent 10,000), oldest first.
func (c *ControlClient) IssuedTokens(ctx context.Context) ([]string, error) {
	var out struct {
		Tokens []string `json:"tokens"`
	}
	if err := c.do(ctx, http.MethodGet, "tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// ActiveQuirks returns the names of the quirks in force.
func (c *ControlClient) ActiveQuirks(ctx context.Context) ([]string, error) {
	var out struct {
		Active []string `json:"active"`
	}
	if err := c.do(ctx, http.MethodGet, "quirks", nil, &out); err != nil {
		return nil, err
	}
	return out.Active, nil
}

// mintJSON is MintRequest on the wire, with TTL as a duration string.
type mintJSON struct {
	MintRequest
	TTL string `json:"ttl,omitempty"`
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// controlHandler serves /_control/ to loopback peers holding the control token.
func (s *Server) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_control/reset", func(w http.ResponseWriter, r *http.Request) {
		ctlErr(w, s.reset())
	})
	mux.HandleFunc("GET /_control/quirks", func(w http.ResponseWriter, r *http.Request) {
		active := s.st.Load().quirks.names()
		if active == nil {
			active = []string{}
		}
		ctlJSON(w, map[string]any{"active": active, "available": Quirks()})
	})
	mux.HandleFunc("PUT /_control/quirks", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Quirks []string `json:"quirks"`
		}
		if !ctlRead(w, r, &in) {
			return
		}
		qs, err := parseQuirks(in.Quirks)
		if err != nil {
			ctlErr(w, err)
			return
		}
		ctlErr(w, s.update(func(st *state) error { st.quirks = qs; return nil }))
	})
	mux.HandleFunc("PUT /_control/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !ctlRead(w, r, &f) {
			return
		}
		if err := f.Validate(); err != nil {
			ctlErr(w, err)
			return
		}
		ctlErr(w, s.update(func(st *state) error { st.faults = f; return nil }))
	})
	mux.HandleFunc("PATCH /_control/config", func(w http.ResponseWriter, r *http.Request) {
		var p Config
		if !ctlRead(w, r, &p) {
			return
		}
		ctlErr(w, s.applyConfig(p))
	})
	mux.HandleFunc("POST /_control/clients", func(w http.ResponseWriter, r *http.Request) {
		var c Client
		if !ctlRead(w, r, &c) {
			return
		}
		ctlErr(w, s.update(func(st *state) error { return st.addClient(c) }))
	})
	mux.HandleFunc("POST /_control/clock/advance", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			By string `json:"by"`
		}
		if !ctlRead(w, r, &in) {
			return
		}
		d, err := time.ParseDuration(in.By)
		if err != nil || d < 0 {
			ctlErr(w, fmt.Errorf("by: %q is not a non-negative duration like 1h", in.By))
			return
		}
		s.clock.advance(d)
		ctlErr(w, nil)
	})
	mux.HandleFunc("POST /_control/keys/rotate", func(w http.ResponseWriter, r *http.Request) {
		ctlErr(w, s.rotateKey())
	})
	mux.HandleFunc("POST /_control/mint", func(w http.ResponseWriter, r *http.Request) {
		var in mintJSON
		if !ctlRead(w, r, &in) {
			return
		}
		req := in.MintRequest
		if in.TTL != "" {
			d, err := time.ParseDuration(in.TTL)
			if err != nil {
				ctlErr(w, fmt.Errorf("ttl: %q is not a duration", in.TTL))
				return
			}
			req.TTL = d
		}
		tok, err := s.mint(req)
		if err != nil {
			ctlErr(w, err)
			return
		}
		ctlJSON(w, map[string]string{"access_token": tok})
	})
	mux.HandleFunc("GET /_control/counters", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]ClientCounters{}
		for id, c := range s.st.Load().clients {
			out[id] = c.counters.snapshot()
		}
		ctlJSON(w, out)
	})
	mux.HandleFunc("GET /_control/tokens", func(w http.ResponseWriter, r *http.Request) {
		ctlJSON(w, map[string][]string{"tokens": s.issued.list()})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":"the control API answers loopback clients only"}`)
			return
		}
		got := r.Header.Get(ControlTokenHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.ControlToken)) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"missing or wrong X-Control-Token"}`)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

func ctlRead(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		err = decodeStrict(b, v)
	}
	if err != nil {
		ctlErr(w, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func ctlJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func ctlErr(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_, _ = io.WriteString(w, "{}\n")
}

// reset returns the server to the configuration New was given.
func (s *Server) reset() error {
	st, err := newState(s.cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.publish(st)
	s.keys.Store(s.initKeys)
	s.mu.Unlock()
	s.clock.reset()
	s.lastRotate.Store(s.clock.now().UnixNano())
	s.cache.reset()
	s.issued.reset()
	s.latest.Clear()
	s.perSecond.Clear()
	s.scopes.Clear()
	s.opaque.Clear()
	return nil
}

// applyConfig changes the fields p sets; fields that need a new server are refused.
func (s *Server) applyConfig(p Config) error {
	if f := p.fixedFieldSet(); f != "" {
		return fieldErr(f, errors.New("cannot change while the mock runs (token_ttl, policy, revoke_previous, quirks and faults can)"))
	}
	if err := p.Validate(); err != nil {
		return err
	}
	qs, _ := parseQuirks(p.Quirks) // Validate checked them
	err := s.update(func(st *state) error {
		setIf(&st.ttl, deref(p.TokenTTL), p.TokenTTL != nil)
		setIf(&st.policy, deref(p.Policy), p.Policy != nil)
		setIf(&st.revokePrevious, deref(p.RevokePrevious), p.RevokePrevious != nil)
		setIf(&st.faults, deref(p.Faults), p.Faults != nil)
		setIf(&st.quirks, qs, p.Quirks != nil)
		return nil
	})
	if err == nil && (p.TokenTTL != nil || p.Policy != nil) {
		s.cache.reset()
	}
	return err
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// rotateKey makes a fresh 2048-bit key the signing key, keeping the old ones for verification.
func (s *Server) rotateKey() error { return s.rotateKeyWith(true) }

// rotateKeyWith makes a fresh 2048-bit key the signing key; keepOld keeps the previous keys in
// the JWKS and valid at the sample API.
func (s *Server) rotateKeyWith(keepOld bool) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev *keySet
	if keepOld {
		prev = s.keys.Load()
	}
	ks, err := newKeySet(k, prev)
	if err != nil {
		return err
	}
	s.keys.Store(ks)
	s.cache.reset()
	return nil
}

// mint signs a token the token endpoint would not issue.
func (s *Server) mint(r MintRequest) (string, error) {
	st := s.st.Load()
	c := st.clients[r.ClientID]
	if c == nil {
		return "", fmt.Errorf("client_id: %q is not a configured client", r.ClientID)
	}
	scopes := r.Scopes
	if scopes == nil {
		scopes = c.Scopes
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = st.ttl
	}
	if ttl < time.Second {
		return "", fmt.Errorf("ttl: %s is under 1s", ttl)
	}
	now := s.clock.now()
	iat := now.Unix()
	if r.Expired {
		iat = now.Add(-ttl - 10*time.Minute).Unix()
	}
	ks := s.keys.Load()
	if r.Foreign {
		fk := *ks
		sk := *ks.current
		sk.priv = foreignKey()
		fk.current = &sk
		ks = &fk
	}
	claims := claimSet{sub: c.ID, aud: c.ID, dis: c.Distributor, iss: Issuer, nbf: iat, iat: iat,
		exp: iat + int64(ttl/time.Second), jti: newJTI(), scopes: scopes, scopeClaim: true}
	return s.sign(ks, quirkSet{}, &claims)
}
