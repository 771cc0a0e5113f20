package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/cli"
)

func runVersion(env *cli.Env) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(env.Args); err != nil {
		return cli.Usagef("%v; 'authzcheck version' takes no flags", err)
	}
	i := buildinfo.Get()
	fmt.Fprintf(env.Stdout, "authzcheck %s\ncommit  %s\ngo      %s\ngodog   %s\nvegeta  %s\n",
		i.Version, i.Commit, i.Go, i.Godog, i.Vegeta)
	return nil
}
