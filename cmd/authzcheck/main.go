// Command authzcheck is the conformance and load-test harness for the DerbySoft Ticket API's
// authentication (AuthZ). It parses flags into a configuration and hands it to the packages that
// do the work: steps (conformance), load, mock and reports.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/authzcheck/authzcheck/internal/cli"
)

const usage = `authzcheck: conformance and load tests for DerbySoft's AuthZ token endpoint.

Usage:
  authzcheck conformance [flags]        run the check catalogue (default target: the embedded mock)
  authzcheck load issuance|cached|ramp  measure token issuance and token caching under load
  authzcheck client [flags] -- COMMAND  certify a partner's client program (the CLIENT checks)
  authzcheck mock [flags]               serve the reference AuthZ mock and sample Ticket API
  authzcheck report html|verify|merge|keygen ...
  authzcheck version                    print harness, Go, godog and Vegeta versions (also --version)

Run 'authzcheck COMMAND -h' for a command's flags.
Exit codes: 0 all required checks held; 1 a MUST check or threshold failed;
2 bad usage or configuration; 3 target unreachable or harness failure.
`

// commands maps a subcommand name to its entry point. Each lives in its own file.
var commands = map[string]func(*cli.Env) error{
	"client":      runClient,
	"conformance": runConformance,
	"load":        runLoad,
	"mock":        runMock,
	"report":      runReport,
	"version":     runVersion,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := cli.OSEnv(ctx, nil, term.IsTerminal(int(os.Stdout.Fd())))
	os.Exit(run(env, os.Args[1:]))
}

// run dispatches to a subcommand and turns its error into a one-line message and an exit code.
func run(env *cli.Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.Stdout, usage)
		if len(args) == 0 {
			return cli.ExitUsage
		}
		return cli.ExitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "authzcheck: unknown command %q; run 'authzcheck --help' for the list\n", args[0])
		return cli.ExitUsage
	}
	env.Args = args[1:]
	err := cmd(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "authzcheck %s: %s\n", args[0], cli.OneLine(err))
	}
	return cli.CodeOf(err)
}
