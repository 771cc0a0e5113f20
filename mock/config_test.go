package mock_test

import (
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
	ttl, err := c.TTL()
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, ttl)
	assert.Equal(t, mock.PolicyCached, c.Policy)
	assert.Equal(t, &mock.Faults{Latency: 20 * time.Millisecond, ErrorRate: 0.5, RetryAfter: 3 * time.Second}, c.Faults)
	assert.Equal(t, []mock.Client{{ID: "ACME", Secret: "s3cret", Scopes: []string{"product.all"}, Distributor: "ACME-D"}}, c.Clients)

	for name, doc := range map[string]string{
		"unknown field":         `{"polcy":"cached"}`,
		"bad lifetime":          `{"token_ttl":"soon"}`,
		"sub-second lifetime":   `{"token_ttl":"500ms"}`,
		"unknown policy":        `{"policy":"sometimes"}`,
		"client ID with colon":  `{"clients":[{"id":"a:b","secret":"x"}]}`,
		"client without secret": `{"clients":[{"id":"a"}]}`,
		"fault rate over 1":     `{"faults":{"reset_rate":2}}`,
		"fault duration":        `{"faults":{"latency":"fast"}}`,
		"unknown quirk":         `{"quirks":["nope"]}`,
		"trailing data":         `{} {}`,
	} {
		_, err := mock.ReadConfig(strings.NewReader(doc))
		assert.Error(t, err, name)
	}
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
