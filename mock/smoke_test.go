package mock_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/mock"
)

func TestClientCredentialsLibraryGetsAToken(t *testing.T) {
	srv, err := mock.New()
	require.NoError(t, err)
	defer srv.Close()
	cfg := clientcredentials.Config{ClientID: mock.DefaultClientID, ClientSecret: mock.DefaultClientSecret,
		TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Bearer", tok.TokenType)
	resp, err := cfg.Client(context.Background()).Get(srv.APIURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}
