package main

import "github.com/authzcheck/authzcheck/internal/cli"

// runConformance is the 'conformance' subcommand. Not built yet.
func runConformance(env *cli.Env) error {
	return cli.Unreachablef("'conformance' is not implemented yet")
}
