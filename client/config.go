package client

import (
	"crypto/ed25519"
	"io"
	"time"

	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/reports"
)

// Config is one certification run of a partner's client.
type Config struct {
	// Command is COMMAND and its arguments; {token_url}, {api_url} and {client_id} in the
	// arguments are replaced per session. The secret is only ever in AUTHZ_CLIENT_SECRET.
	Command []string
	// WorkDir is COMMAND's working directory ("" = the harness's).
	WorkDir string
	// Dir is the evidence directory; "" writes no bundle.
	Dir string
	// Seal seals Dir once the run has written its files there; nil seals Dir in place
	// (reports.Finalize). 'authzcheck client' writes into a staging directory and gives its
	// reports.Stage's Seal, which also puts the sealed bundle in place.
	Seal func(evidence.RunInfo, reports.FinalizeOptions) error
	// Env is the base environment of COMMAND (nil = the harness's own, os.Environ()).
	Env []string
	// Only selects check IDs ("CLIENT-04") or tags ("@must", "must"); empty = all.
	Only []string
	// Grace is how long COMMAND has to exit after SIGTERM before SIGKILL (default 2 s).
	Grace time.Duration
	// Parallel is how many sessions run at once (default: all of them).
	Parallel int
	// Strict makes a failed SHOULD check fail the run.
	Strict bool
	// SignKey signs the bundle's SHA256SUMS when set.
	SignKey ed25519.PrivateKey
	// Stdout receives progress lines; Stderr warnings. nil discards them. The client's own
	// output is never copied there: its last lines are quoted, redacted, in verdicts.
	Stdout, Stderr io.Writer
}
