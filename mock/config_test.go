package mock_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/mock"
)

func TestReadConfig(t *testing.T) {
	c, err := mock.ReadConfig(strings.NewReader(`{
	  "addr": "127.0.0.1:9999",
	  "clients": [{"id": "ACME", "secret": "s3cret", "scopes": ["product.all"], "distributor": "ACME-D"}],
	  "token_ttl": "2s", "policy": "cached", "revoke_previous": true,
	  "faults": {"latency": "20ms", "error_rate": 0.5, "retry_after": "3s"},
	  "quirks": ["no-pragma"]}`))
	require.NoError(t, err)
	require.NotNil(t, c.TokenTTL)
	assert.Equal(t, 2*time.Second, *c.TokenTTL)
	require.NotNil(t, c.Policy)
	assert.Equal(t, mock.PolicyCached, *c.Policy)
	require.NotNil(t, c.RevokePrevious)
	assert.True(t, *c.RevokePrevious)
	assert.Equal(t, &mock.Faults{Latency: 20 * time.Millisecond, ErrorRate: 0.5, RetryAfter: 3 * time.Second}, c.Faults)
	assert.Equal(t, []mock.Client{{ID: "ACME", Secret: "s3cret", Scopes: []string{"product.all"}, Distributor: "ACME-D"}}, c.Clients)

	for _, tc := range []struct{ name, doc, field string }{
		{"unknown field", `{"polcy":"cached"}`, "polcy"},
		{"bad lifetime", `{"token_ttl":"soon"}`, "token_ttl"},
		{"sub-second lifetime", `{"token_ttl":"500ms"}`, "token_ttl"},
		{"unknown policy", `{"policy":"sometimes"}`, "policy"},
		{"client ID with colon", `{"clients":[{"id":"a:b","secret":"x"}]}`, "clients"},
		{"client without secret", `{"clients":[{"id":"a"}]}`, "clients"},
		{"fault rate over 1", `{"faults":{"reset_rate":2}}`, "faults"},
		{"fault duration", `{"faults":{"latency":"fast"}}`, "latency"},
		{"unknown quirk", `{"quirks":["nope"]}`, "quirks"},
		{"port out of range", `{"addr":"127.0.0.1:99999"}`, "addr"},
		{"address without port", `{"addr":"127.0.0.1"}`, "addr"},
		{"trailing data", `{} {}`, "trailing"},
	} {
		_, err := mock.ReadConfig(strings.NewReader(tc.doc))
		if assert.Error(t, err, tc.name) {
			assert.Contains(t, err.Error(), tc.field, tc.name)
		}
	}
}

// TestConfigEmptyClientListMeansTheDemoClients: a file's "clients": [] is no list at all.
func TestConfigEmptyClientListMeansTheDemoClients(t *testing.T) {
	c, err := mock.ReadConfig(strings.NewReader(`{"clients":[]}`))
	require.NoError(t, err)
	h := newHarness(t, mock.WithConfig(*c))
	h.token("")
	_, err = mock.New(mock.WithClients())
	assert.ErrorContains(t, err, "clients", "from Go, an empty client list is a mistake")
}

// TestConfigValidateNamesTheField: Validate's error is a FieldError with the JSON name.
func TestConfigValidateNamesTheField(t *testing.T) {
	bad, short, pol := 1500*time.Millisecond, 0*time.Second, mock.Policy("sometimes")
	tests := []struct {
		name  string
		cfg   mock.Config
		field string
	}{
		{"fractional lifetime", mock.Config{TokenTTL: &bad}, "token_ttl"},
		{"zero lifetime", mock.Config{TokenTTL: &short}, "token_ttl"},
		{"unknown policy", mock.Config{Policy: &pol}, "policy"},
		{"negative latency", mock.Config{Faults: &mock.Faults{Latency: -time.Second}}, "faults"},
		{"bad port", mock.Config{Addr: "127.0.0.1:99999"}, "addr"},
		{"unknown quirk", mock.Config{Quirks: []string{"nope"}}, "quirks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			var fe *mock.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
			_, err = mock.New(mock.WithConfig(tc.cfg))
			require.ErrorAs(t, err, &fe, "New refuses it too")
			assert.Equal(t, tc.field, fe.Field)
		})
	}
	assert.NoError(t, (&mock.Config{}).Validate(), "an empty Config is all defaults")
}

// TestConfigRoundTrips: a Config written as JSON reads back the same.
func TestConfigRoundTrips(t *testing.T) {
	ttl, pol, on := 90*time.Second, mock.PolicyCached, true
	in := mock.Config{Addr: "127.0.0.1:0", TLS: true, Clients: []mock.Client{{ID: "ACME", Secret: "s3cret-value"}},
		TokenTTL: &ttl, Policy: &pol, RevokePrevious: &on, Faults: &mock.Faults{ErrorRate: 0.25}, Quirks: []string{"no-pragma"}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"token_ttl":"1m30s"`)
	out, err := mock.ReadConfig(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, in, *out)
}

// TestWithConfigAndOptionsSetOneConfig: options and WithConfig set the same settings; the later
// wins, and flags merged over a file (Merge) replace only what they set.
func TestWithConfigAndOptionsSetOneConfig(t *testing.T) {
	ttl := 90 * time.Second
	h := newHarness(t, mock.WithTokenTTL(time.Hour), mock.WithConfig(mock.Config{TokenTTL: &ttl}))
	_, m := h.token("")
	assert.Equal(t, float64(90), m["expires_in"])

	pol, flagTTL := mock.PolicyCached, 60*time.Second
	file := mock.Config{TokenTTL: &ttl, Policy: &pol, Quirks: []string{"no-pragma"}}
	file.Merge(mock.Config{TokenTTL: &flagTTL})
	assert.Equal(t, flagTTL, *file.TokenTTL)
	assert.Equal(t, mock.PolicyCached, *file.Policy, "unset in the overlay: kept")
	assert.Equal(t, []string{"no-pragma"}, file.Quirks)
}

func TestParseClient(t *testing.T) {
	c, err := mock.ParseClient("ACME:s3+cret:product.all, shop.all")
	require.NoError(t, err)
	assert.Equal(t, mock.Client{ID: "ACME", Secret: "s3+cret", Scopes: []string{"product.all", "shop.all"}}, c)
	c, err = mock.ParseClient("ACME:s3cret")
	require.NoError(t, err)
	assert.Empty(t, c.Scopes)
	for _, bad := range []string{"ACME", "ACME:", ":secret"} {
		_, err := mock.ParseClient(bad)
		assert.Error(t, err, bad)
		if err != nil {
			assert.NotContains(t, err.Error(), "secret\"", "the secret is never quoted back")
		}
	}
}

func TestWithNowSetsTheClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newHarness(t, mock.WithNow(func() time.Time { return at }))
	tok, _ := h.token("")
	_, c := jwtParts(t, tok)
	assert.Equal(t, float64(at.Unix()), c["iat"])
	assert.Equal(t, float64(at.Add(8*time.Hour).Unix()), c["exp"])
	assert.Equal(t, 200, h.api("GET", "/products", bearer(tok)).status, "the API judges expiry by the same clock")
}
