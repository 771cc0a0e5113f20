package main

import "github.com/authzcheck/authzcheck/internal/cli"

// runReport is the 'report' subcommand. Not built yet.
func runReport(env *cli.Env) error {
	return cli.Unreachablef("'report' is not implemented yet")
}
