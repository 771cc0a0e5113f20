package main

import "github.com/authzcheck/authzcheck/internal/cli"

// runLoad is the 'load' subcommand. Not built yet.
func runLoad(env *cli.Env) error {
	return cli.Unreachablef("'load' is not implemented yet")
}
