package mock_test

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authzcheck/authzcheck/mock"
)

// A partner's test fetches a token with the standard OAuth 2.0 client and calls the sample API.
func ExampleNew() {
	srv, err := mock.New()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)

	cfg := clientcredentials.Config{ClientID: mock.DefaultClientID, ClientSecret: mock.DefaultClientSecret,
		TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cfg.Token(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.TokenType, tok.Extra("scope"))

	resp, err := cfg.Client(ctx).Get(srv.APIURL())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// Bearer shop.all reservation.all product.all livecheck.all
	// 200 OK
}

// Quirks and faults make the mock deviate on purpose; the control API changes them at run time.
func ExampleControlClient() {
	srv, err := mock.New(mock.WithQuirks("no-pragma"), mock.WithFaults(mock.Faults{ErrorRate: 0.1}))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ctx := context.Background()
	ctl := srv.Control()
	if err := ctl.SetQuirks(ctx, []string{"api-accepts-alg-none", "expires-in-string"}); err != nil {
		panic(err)
	}
	expired, err := ctl.Mint(ctx, mock.MintRequest{ClientID: mock.DefaultClientID, Expired: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(expired != "")
	// Output: true
}
