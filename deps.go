//go:build tools

package tools

import (
	_ "github.com/cucumber/godog"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/uuid"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/stretchr/testify/require"
	_ "github.com/tsenart/vegeta/v12/lib"
	_ "go.uber.org/goleak"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/sync/singleflight"
	_ "golang.org/x/term"
)
