// Package reports seals, verifies and renders the evidence bundle of a run, whose schema is
// package evidence (summary.json, transcripts, load/summary.json): it stages a run's bundle
// (Open), writes manifest.json, SHA256SUMS and its signature, renders the self-contained
// report.html, and checks a bundle against its seal (Verify). The conformance runner (steps) and
// the load runner (load) produce results; this package stores them, signs them and renders them.
// Everything it writes has already been redacted at the source (internal/redact).
package reports
