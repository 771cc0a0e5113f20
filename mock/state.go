package mock

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// state is the mock's run-time configuration. It is never modified once published: writers
// copy it, change the copy and store it (Server.update), so the hot path reads it without locks.
type state struct {
	clients        map[string]*clientEntry
	order          []*clientEntry // configuration order; order[0] is the "first client" some quirks use
	ttl            time.Duration
	policy         Policy
	revokePrevious bool
	quirks         quirkSet
	faults         Faults
	verifier       *jwtCheck // the sample API's JWT checks for quirks; set by Server.publish
}

// clientEntry is a Client prepared for the hot path.
type clientEntry struct {
	Client
	secretHash   [32]byte
	scopeSet     map[string]bool
	defaultScope string // the client's scopes, space-delimited
	counters     *clientCounters
}

// clientCounters are one client's activity since start or the last Reset.
type clientCounters struct {
	tokenRequests, tokensIssued, apiCalls, rejections atomic.Int64
	jtiSeq                                            atomic.Int64 // the last jti under quirk jti-counter-per-client
}

func (c *clientCounters) snapshot() ClientCounters {
	return ClientCounters{TokenRequests: c.tokenRequests.Load(), TokensIssued: c.tokensIssued.Load(),
		APICalls: c.apiCalls.Load(), Rejections: c.rejections.Load()}
}

// ClientCounters is one client's activity: token requests that named it, tokens issued to it,
// sample-API calls made with its tokens, and rejections (token endpoint and API) attributed to it.
type ClientCounters struct {
	TokenRequests int64 `json:"token_requests"`
	TokensIssued  int64 `json:"tokens_issued"`
	APICalls      int64 `json:"api_calls"`
	Rejections    int64 `json:"rejections"`
}

// newState is the run-time state of a Config that withDefaults completed and checked.
func newState(c Config) (*state, error) {
	st := &state{clients: map[string]*clientEntry{}, ttl: *c.TokenTTL, policy: *c.Policy,
		revokePrevious: *c.RevokePrevious, faults: *c.Faults}
	q, err := parseQuirks(c.Quirks)
	if err != nil {
		return nil, fieldErr("quirks", err)
	}
	st.quirks = q
	for _, cl := range c.Clients {
		if err := st.addClient(cl); err != nil {
			return nil, fieldErr("clients", err)
		}
	}
	return st, nil
}

// ValidateTTL reports what is wrong with a token lifetime: it must be whole seconds (expires_in
// is an integer), at least 1s.
func ValidateTTL(ttl time.Duration) error {
	if ttl < time.Second {
		return fmt.Errorf("token lifetime %s: must be at least 1s", ttl)
	}
	if ttl%time.Second != 0 {
		return fmt.Errorf("token lifetime %s: must be whole seconds (expires_in is an integer)", ttl)
	}
	return nil
}

// ValidateClient reports what is wrong with a client definition, naming the field.
func ValidateClient(c Client) error {
	if c.ID == "" {
		return fmt.Errorf("client: empty ID")
	}
	if strings.ContainsRune(c.ID, ':') {
		return fmt.Errorf("client %q: the ID cannot contain ':' (HTTP Basic splits on it)", c.ID)
	}
	for _, r := range c.ID + c.Distributor {
		if unicode.IsControl(r) || r == '"' || r == '\\' {
			return fmt.Errorf("client %q: ID and distributor must be printable, without quotes or backslashes", c.ID)
		}
	}
	if c.Secret == "" {
		return fmt.Errorf("client %q: empty secret", c.ID)
	}
	for _, sc := range c.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \"\\") {
			return fmt.Errorf("client %q: scope %q must be non-empty, without spaces, quotes or backslashes", c.ID, sc)
		}
	}
	return nil
}

func (st *state) addClient(c Client) error {
	if err := ValidateClient(c); err != nil {
		return err
	}
	if len(c.Scopes) == 0 {
		c.Scopes = append([]string(nil), DefaultScopes...)
	}
	if c.Distributor == "" {
		c.Distributor = c.ID
	}
	e := &clientEntry{Client: c, secretHash: sha256.Sum256([]byte(c.Secret)), scopeSet: map[string]bool{},
		defaultScope: strings.Join(c.Scopes, " "), counters: &clientCounters{}}
	for _, sc := range c.Scopes {
		e.scopeSet[sc] = true
	}
	if old, ok := st.clients[c.ID]; ok {
		e.counters = old.counters
		for i, o := range st.order {
			if o == old {
				st.order[i] = e
			}
		}
	} else {
		st.order = append(st.order, e)
	}
	st.clients[c.ID] = e
	return nil
}

// clone copies the state for a writer; clients share their counters.
func (st *state) clone() *state {
	n := *st
	n.clients = make(map[string]*clientEntry, len(st.clients))
	for k, v := range st.clients {
		n.clients[k] = v
	}
	n.order = append([]*clientEntry(nil), st.order...)
	return &n
}

// update applies f to a copy of the state and publishes it.
func (s *Server) update(f func(*state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.st.Load().clone()
	if err := f(n); err != nil {
		return err
	}
	s.publish(n)
	return nil
}

// publish makes st the current state, with the sample API's JWT checks for its quirks built
// once. The caller holds s.mu, or is New (which no one else can reach yet).
func (s *Server) publish(st *state) {
	st.verifier = newJWTCheck(st.quirks, s.clock.now)
	s.st.Store(st)
}
