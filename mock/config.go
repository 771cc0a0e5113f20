package mock

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of a mock, in one form: the JSON configuration file of 'authzcheck
// mock --config', the body of the control API's PATCH /_control/config (only the fields given
// change), and what the With... options set. A field left unset (empty, nil, false) takes its
// default. Example file:
//
//	{
//	  "addr": "127.0.0.1:8080",
//	  "tls": false,
//	  "clients": [{"id": "ACME", "secret": "s3cret-value", "scopes": ["product.all"], "distributor": "ACME"}],
//	  "token_ttl": "8h",
//	  "key_file": "signing-key.pem",
//	  "policy": "reissue",
//	  "revoke_previous": false,
//	  "faults": {"latency": "20ms", "latency_jitter": "10ms", "error_rate": 0.01,
//	             "rate_limit_rate": 0, "retry_after": "1s", "reset_rate": 0, "truncate_rate": 0,
//	             "key_rotate_every": "1h", "key_rotate_drop_old": false},
//	  "quirks": ["no-pragma"]
//	}
type Config struct {
	// Addr is the listen address (default "127.0.0.1:0"); a non-loopback one needs
	// AllowNonLoopback.
	Addr string `json:"addr,omitempty"`
	// AllowNonLoopback permits a non-loopback Addr; the control API still answers loopback
	// peers only.
	AllowNonLoopback bool `json:"allow_non_loopback,omitempty"`
	// TLS serves HTTPS (see WithTLS).
	TLS bool `json:"tls,omitempty"`
	// Clients replace the demo clients (DefaultClientID, DefaultClient2ID).
	Clients []Client `json:"clients,omitempty"`
	// TokenTTL is the token lifetime, whole seconds, at least 1s (default 8h). JSON: "8h".
	TokenTTL *time.Duration `json:"-"`
	// KeyFile is a PEM RS256 signing key (PKCS#1 or PKCS#8, >= 2048 bits); Key wins over it.
	// Default: a fresh 2048-bit key.
	KeyFile string `json:"key_file,omitempty"`
	// Policy is the issuance policy (default PolicyReissue).
	Policy *Policy `json:"policy,omitempty"`
	// RevokePrevious makes a new token revoke the client's earlier ones at the sample API.
	RevokePrevious *bool `json:"revoke_previous,omitempty"`
	// Faults injects latency, errors, rate limiting, resets and truncation on the token endpoint.
	Faults *Faults `json:"faults,omitempty"`
	// Quirks are named deviations from the contract (see Quirks).
	Quirks []string `json:"quirks,omitempty"`

	// The rest is for Go callers only (never read from or written to JSON).

	// Key is the RS256 signing key.
	Key *rsa.PrivateKey `json:"-"`
	// ControlToken is the control API's secret (default: 32 random hex characters).
	ControlToken string `json:"-"`
	// Logger logs request outcomes, never secrets or tokens (default: discard).
	Logger *slog.Logger `json:"-"`
	// Now is the base clock (default time.Now); the control API's Advance adds to it.
	Now func() time.Time `json:"-"`
	// Observer is told of every exchange (see WithObserver).
	Observer func(Exchange) `json:"-"`
}

// ConfigPatch is the control API's change to a running mock: a Config whose given fields change
// (token_ttl, policy, revoke_previous, quirks, faults); the others cannot change while it runs.
type ConfigPatch = Config

// FieldError is a Config value that is not valid. Field is its JSON name ("token_ttl").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error {
	if err == nil {
		return nil
	}
	return &FieldError{Field: field, Err: err}
}

// configJSON is Config on the wire: the lifetime as a duration string.
type configJSON struct {
	Addr             string   `json:"addr,omitempty"`
	AllowNonLoopback bool     `json:"allow_non_loopback,omitempty"`
	TLS              bool     `json:"tls,omitempty"`
	Clients          []Client `json:"clients,omitempty"`
	TokenTTL         *string  `json:"token_ttl,omitempty"`
	KeyFile          string   `json:"key_file,omitempty"`
	Policy           *Policy  `json:"policy,omitempty"`
	RevokePrevious   *bool    `json:"revoke_previous,omitempty"`
	Faults           *Faults  `json:"faults,omitempty"`
	Quirks           []string `json:"quirks,omitempty"`
}

// MarshalJSON writes TokenTTL as a duration string ("8h0m0s").
func (c Config) MarshalJSON() ([]byte, error) {
	j := configJSON{Addr: c.Addr, AllowNonLoopback: c.AllowNonLoopback, TLS: c.TLS, Clients: c.Clients,
		KeyFile: c.KeyFile, Policy: c.Policy, RevokePrevious: c.RevokePrevious, Faults: c.Faults, Quirks: c.Quirks}
	if c.TokenTTL != nil {
		s := c.TokenTTL.String()
		j.TokenTTL = &s
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads TokenTTL as a duration string and refuses unknown fields; it does not
// check values (Validate does).
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := decodeStrict(b, &j); err != nil {
		return err
	}
	n := Config{Addr: j.Addr, AllowNonLoopback: j.AllowNonLoopback, TLS: j.TLS, Clients: j.Clients,
		KeyFile: j.KeyFile, Policy: j.Policy, RevokePrevious: j.RevokePrevious, Faults: j.Faults, Quirks: j.Quirks}
	if len(n.Clients) == 0 {
		n.Clients = nil // "clients": [] means the demo clients, as an absent list does
	}
	if j.TokenTTL != nil {
		d, err := time.ParseDuration(*j.TokenTTL)
		if err != nil {
			return fieldErr("token_ttl", fmt.Errorf("%q is not a duration like 8h or 2s", *j.TokenTTL))
		}
		n.TokenTTL = &d
	}
	*c = n
	return nil
}

// ReadConfig parses a configuration file, refusing unknown fields and checking every value.
func ReadConfig(r io.Reader) (*Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	var c Config
	if err := decodeStrict(b, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate reports the first value given that is not valid, as a *FieldError naming it. Unset
// fields are not checked (they take defaults), so it checks a patch as well as a whole Config.
func (c *Config) Validate() error {
	if c.Addr != "" {
		if err := validateAddr(c.Addr); err != nil {
			return fieldErr("addr", err)
		}
	}
	for _, cl := range c.Clients {
		if err := ValidateClient(cl); err != nil {
			return fieldErr("clients", err)
		}
	}
	if c.TokenTTL != nil {
		if err := ValidateTTL(*c.TokenTTL); err != nil {
			return fieldErr("token_ttl", err)
		}
	}
	if c.Policy != nil {
		if _, err := ParsePolicy(string(*c.Policy)); err != nil {
			return fieldErr("policy", err)
		}
	}
	if c.Faults != nil {
		if err := c.Faults.Validate(); err != nil {
			return fieldErr("faults", err)
		}
	}
	if _, err := parseQuirks(c.Quirks); err != nil {
		return fieldErr("quirks", err)
	}
	if c.Key != nil && c.Key.N.BitLen() < 2048 {
		return fieldErr("key", fmt.Errorf("RSA key of %d bits; RS256 needs at least 2048", c.Key.N.BitLen()))
	}
	return nil
}

// validateAddr checks a listen address's form: host:port with a port in 0..65535. Whether it can
// be bound is for the listener to find out.
func validateAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s is not host:port, e.g. 127.0.0.1:8080", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil && port != "" {
		return fmt.Errorf("%s: the port must be a number from 0 to 65535", addr)
	}
	return nil
}

// Merge overlays every field o sets onto c: the flag-over-file step of 'authzcheck mock', and
// WithConfig. Slices and pointers replace c's when not nil, strings when not empty, booleans
// when true.
func (c *Config) Merge(o Config) {
	setIf(&c.Addr, o.Addr, o.Addr != "")
	setIf(&c.AllowNonLoopback, true, o.AllowNonLoopback)
	setIf(&c.TLS, true, o.TLS)
	setIf(&c.Clients, o.Clients, o.Clients != nil)
	setIf(&c.TokenTTL, o.TokenTTL, o.TokenTTL != nil)
	setIf(&c.KeyFile, o.KeyFile, o.KeyFile != "")
	setIf(&c.Policy, o.Policy, o.Policy != nil)
	setIf(&c.RevokePrevious, o.RevokePrevious, o.RevokePrevious != nil)
	setIf(&c.Faults, o.Faults, o.Faults != nil)
	setIf(&c.Quirks, o.Quirks, o.Quirks != nil)
	setIf(&c.Key, o.Key, o.Key != nil)
	setIf(&c.ControlToken, o.ControlToken, o.ControlToken != "")
	setIf(&c.Logger, o.Logger, o.Logger != nil)
	setIf(&c.Now, o.Now, o.Now != nil)
	setIf(&c.Observer, o.Observer, o.Observer != nil)
}

func ptr[T any](v T) *T { return &v }

func setIf[T any](dst *T, v T, ok bool) {
	if ok {
		*dst = v
	}
}

// fixedFieldSet names a field a patch sets that a running mock cannot change (it needs a new
// server), or returns "".
func (c *Config) fixedFieldSet() string {
	switch {
	case c.Addr != "":
		return "addr"
	case c.AllowNonLoopback:
		return "allow_non_loopback"
	case c.TLS:
		return "tls"
	case c.Clients != nil:
		return "clients"
	case c.KeyFile != "" || c.Key != nil:
		return "key_file"
	}
	return ""
}

// withDefaults is c with every unset field given its default, the signing key loaded and the
// whole checked: what New runs with, and what Reset returns to.
func (c Config) withDefaults() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	setIf(&c.Addr, "127.0.0.1:0", c.Addr == "")
	setIf(&c.Clients, DemoClients(), c.Clients == nil)
	if len(c.Clients) == 0 {
		return c, fieldErr("clients", errors.New("at least one client is needed"))
	}
	ttl, pol, revoke := DefaultTokenTTL, PolicyReissue, false
	setIf(&c.TokenTTL, &ttl, c.TokenTTL == nil)
	setIf(&c.Policy, &pol, c.Policy == nil)
	setIf(&c.RevokePrevious, &revoke, c.RevokePrevious == nil)
	setIf(&c.Faults, &Faults{}, c.Faults == nil)
	// The server keeps c (Reset returns to it): copy what the caller could still change.
	c.TokenTTL, c.Policy, c.RevokePrevious, c.Faults = ptr(*c.TokenTTL), ptr(*c.Policy), ptr(*c.RevokePrevious), ptr(*c.Faults)
	c.Clients, c.Quirks = slices.Clone(c.Clients), slices.Clone(c.Quirks)
	setIf(&c.Logger, slog.New(slog.DiscardHandler), c.Logger == nil)
	setIf(&c.Now, time.Now, c.Now == nil)
	if c.Key == nil && c.KeyFile != "" {
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return c, fieldErr("key_file", err)
		}
		k, err := ParsePrivateKeyPEM(b)
		if err != nil {
			return c, fieldErr("key_file", fmt.Errorf("%s: %w", c.KeyFile, err))
		}
		c.Key = k
	}
	return c, nil
}

// ParseClient reads a client written ID:SECRET[:scope,scope...]. The secret may not contain a
// colon in this form (use the config file for such secrets).
func ParseClient(s string) (Client, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 {
		return Client{}, fmt.Errorf("want ID:SECRET[:scope,...]")
	}
	c := Client{ID: parts[0], Secret: parts[1]}
	if len(parts) == 3 && parts[2] != "" {
		for _, sc := range strings.Split(parts[2], ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				c.Scopes = append(c.Scopes, sc)
			}
		}
	}
	if err := ValidateClient(c); err != nil {
		return Client{}, err
	}
	return c, nil
}

// ValidateQuirks reports the first unknown quirk name.
func ValidateQuirks(names []string) error {
	_, err := parseQuirks(names)
	return err
}
