// Package cli holds what the command's subcommands share: the process environment they run in
// (arguments, environment, standard streams, signals) and the exit codes users' CI scripts
// depend on. Tests build an Env with buffers and a fake environment; nothing below cmd touches
// package os for these.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes, the same for every subcommand (DESIGN.md, "Command line").
const (
	// ExitOK: everything required held.
	ExitOK = 0
	// ExitFailed: a MUST check or a load threshold failed.
	ExitFailed = 1
	// ExitUsage: bad usage or configuration.
	ExitUsage = 2
	// ExitUnreachable: the target could not be reached, or the harness itself failed.
	ExitUnreachable = 3
)

// Env is the process state a subcommand runs in.
type Env struct {
	Args   []string // arguments after the subcommand name
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// IsTerminal reports whether Stdout is an interactive terminal (progress lines are drawn
	// only then).
	IsTerminal bool
	// Ctx is cancelled on SIGINT/SIGTERM.
	Ctx context.Context
}

// OSEnv is the real process environment.
func OSEnv(ctx context.Context, args []string, isTerminal bool) *Env {
	return &Env{Args: args, Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		IsTerminal: isTerminal, Ctx: ctx}
}

// Error is an error with the exit code it should end the process with. Its message is one line
// that says what was wrong and what to do.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef returns an exit-2 error: bad usage or configuration.
func Usagef(format string, args ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Unreachablef returns an exit-3 error: the target could not be reached or the harness failed.
func Unreachablef(format string, args ...any) error {
	return &Error{Code: ExitUnreachable, Err: fmt.Errorf(format, args...)}
}

// Failedf returns an exit-1 error: a MUST check or threshold failed.
func Failedf(format string, args ...any) error {
	return &Error{Code: ExitFailed, Err: fmt.Errorf(format, args...)}
}

// CodeOf maps an error to its exit code: nil is 0, an *Error its own code, anything else 3 (the
// harness itself failed).
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitUnreachable
}

// OneLine folds an error message onto one line for the console.
func OneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
