package main

import "github.com/authzcheck/authzcheck/internal/cli"

// runMock is the 'mock' subcommand. Not built yet.
func runMock(env *cli.Env) error {
	return cli.Unreachablef("'mock' is not implemented yet")
}
