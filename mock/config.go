package mock

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Config is the mock's configuration file (JSON). Every field is optional; flags given on the
// command line override it. Example:
//
//	{
//	  "addr": "127.0.0.1:8080",
//	  "clients": [{"id": "ACME", "secret": "s3cret", "scopes": ["product.all"], "distributor": "ACME"}],
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
	Addr           string   `json:"addr,omitempty"`
	Clients        []Client `json:"clients,omitempty"`
	TokenTTL       string   `json:"token_ttl,omitempty"`
	KeyFile        string   `json:"key_file,omitempty"`
	Policy         Policy   `json:"policy,omitempty"`
	RevokePrevious bool     `json:"revoke_previous,omitempty"`
	Faults         *Faults  `json:"faults,omitempty"`
	Quirks         []string `json:"quirks,omitempty"`
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
	if _, err := c.TTL(); err != nil {
		return nil, err
	}
	if c.Policy != "" {
		if _, err := ParsePolicy(string(c.Policy)); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	for _, cl := range c.Clients {
		if err := ValidateClient(cl); err != nil {
			return nil, fmt.Errorf("clients: %w", err)
		}
	}
	if c.Faults != nil {
		if err := c.Faults.Validate(); err != nil {
			return nil, err
		}
	}
	if _, err := parseQuirks(c.Quirks); err != nil {
		return nil, fmt.Errorf("quirks: %w", err)
	}
	return &c, nil
}

// TTL is token_ttl as a duration (0 when unset).
func (c *Config) TTL() (time.Duration, error) {
	if c.TokenTTL == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.TokenTTL)
	if err != nil {
		return 0, fmt.Errorf("token_ttl: %q is not a duration like 8h or 2s", c.TokenTTL)
	}
	if err := ValidateTTL(d); err != nil {
		return 0, fmt.Errorf("token_ttl: %w", err)
	}
	return d, nil
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
