package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/cli"
)

const versionUsage = `Usage: authzcheck version   (or: authzcheck --version)

Prints the harness version and commit, and the versions of Go, godog and Vegeta it was built
with: the same identity every bundle's manifest.json records. It takes no flags.
`

// runVersion is the 'version' subcommand (and --version).
func runVersion(env *cli.Env) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, versionUsage)
			return nil
		}
		return cli.Usagef("%v; 'authzcheck version' takes no flags", err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q; 'authzcheck version' takes none", fs.Arg(0))
	}
	i := buildinfo.Get()
	fmt.Fprintf(env.Stdout, "authzcheck %s\ncommit  %s\ngo      %s\ngodog   %s\nvegeta  %s\n",
		i.Version, i.Commit, i.Go, i.Godog, i.Vegeta)
	return nil
}
