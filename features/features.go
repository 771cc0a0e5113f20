// Package features holds the conformance suite as Gherkin: one feature file per area of the
// check catalogue (CHECKS.md), each scenario tagged with its check ID, its level and its needs.
// The files are embedded so that the one binary carries its own suite; package steps runs them.
package features

import "embed"

// FS holds every *.feature file of the suite at its root.
//
//go:embed *.feature
var FS embed.FS

// ClientFS holds the client certification suite (the CLIENT area), features/client/*.feature,
// under client/; package client runs it against a partner's program.
//
//go:embed client/*.feature
var ClientFS embed.FS
