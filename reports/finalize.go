package reports

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authzcheck/authzcheck/internal/buildinfo"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/internal/redact"
)

// ManifestSchema names the version of manifest.json's layout.
const ManifestSchema = "authzcheck.manifest/v1"

// Manifest is manifest.json: what the bundle is (the runs that wrote into it, the harness that
// ran them, their configuration and counts) and every file it holds with its SHA-256. It never
// holds a secret. The top-level run fields describe the bundle's primary run: its last
// conformance run (whose summary.json the bundle holds), or its first run when only load ran;
// Runs lists every run.
type Manifest struct {
	Schema   string         `json:"schema"`
	RunID    string         `json:"run_id"`
	Started  time.Time      `json:"started"`  // UTC, the earliest start of its runs
	Finished time.Time      `json:"finished"` // UTC, the latest end of its runs
	Result   string         `json:"result"`   // "failed" when any run failed, else "passed"
	Harness  buildinfo.Info `json:"harness"`  // of the last run sealed into the bundle

	Profile   string            `json:"profile,omitempty"`
	Tags      string            `json:"tags,omitempty"`
	Seed      int64             `json:"seed"`
	Strict    bool              `json:"strict"`
	Waivers   []evidence.Waiver `json:"waivers,omitempty"`
	TargetURL string            `json:"target_url"`
	APIURL    string            `json:"api_url,omitempty"`
	ClientID  string            `json:"client_id"`

	Counts *evidence.Counts `json:"counts,omitempty"` // of the conformance run (summary.json)
	Load   *LoadFigures     `json:"load,omitempty"`   // of the last load run (load/summary.json)
	Runs   []ManifestRun    `json:"runs"`
	Files  []FileEntry      `json:"files"` // every file but manifest.json, SHA256SUMS and its .sig, sorted
}

// ManifestRun is one run that wrote into the bundle.
type ManifestRun struct {
	evidence.RunInfo
	Harness buildinfo.Info   `json:"harness"`
	Counts  *evidence.Counts `json:"counts,omitempty"`
	Load    *LoadFigures     `json:"load,omitempty"`
	// PreviousSums is the SHA-256 of the SHA256SUMS this run added to, chaining a bundle's runs.
	PreviousSums string `json:"previous_sha256sums,omitempty"`
}

// Credential is a client's ID and secret (redact.Credential), named here so that callers of
// Finalize need not import internal/redact.
type Credential = redact.Credential

// FinalizeOptions are the optional parts of sealing a bundle.
type FinalizeOptions struct {
	// SignKey, when set, signs SHA256SUMS into SHA256SUMS.sig (ed25519). Read the --sign-key file
	// with ReadPrivateKeyFile before the run starts, so that a bad key is a usage error (exit 2)
	// and not a run thrown away at the end.
	SignKey ed25519.PrivateKey
	// Credentials are the clients of the run: their secrets must never appear in the bundle.
	// Finalize searches every file it seals (manifest.json and report.html included) for them,
	// raw and in every form they travel in (redact.CredentialForms: each secret with the Basic
	// credential built from its own client's ID), and for signed JWTs, and refuses to seal the
	// bundle when it finds one (defence in depth: redaction happens at the source; Finalize never
	// rewrites evidence).
	Credentials []Credential
	// Secrets are further values that must never appear, searched for like Credentials with the
	// run's ClientID.
	Secrets []string
	// Build overrides the harness identity written to the manifest (tests); nil means
	// buildinfo.Get().
	Build *buildinfo.Info
}

// NewRunID returns a fresh run ID (a random UUID).
func NewRunID() string { return uuid.NewString() }

// ownedBy reports whether a run of kind writes path, and so may change it between two seals.
func ownedBy(kind, path string) bool {
	switch path {
	case evidence.ReportFile, evidence.ManifestFile:
		return true
	}
	switch kind {
	case evidence.KindLoad:
		return strings.HasPrefix(path, evidence.LoadDir+"/")
	case evidence.KindConformance:
		return path == evidence.SummaryFile || path == evidence.CucumberFile || path == evidence.JUnitFile || strings.HasPrefix(path, evidence.TranscriptsDir+"/")
	}
	return false
}

// Finalize seals the evidence bundle in dir after a run wrote its files there: it merges run
// into dir/manifest.json (a load run adding to a conformance bundle appends to its runs),
// renders dir/report.html, hashes every file into manifest.json and SHA256SUMS and, with
// opts.SignKey, writes SHA256SUMS.sig. Every file is written atomically (temporary file and
// rename).
//
// Before it writes anything it checks two things and refuses to seal otherwise: that no file
// holds one of opts.Secrets or a signed JWT (the error wraps ErrUnredacted and names the file),
// and, when dir was already sealed, that the files another run wrote are as that seal left
// them, so adding a run can never bless a file changed since.
func Finalize(dir string, run evidence.RunInfo, opts FinalizeOptions) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("finalize: %s is not a directory", dir)
	}
	if run.Kind != evidence.KindConformance && run.Kind != evidence.KindLoad {
		return fmt.Errorf("finalize: run kind %q; want %q or %q", run.Kind, evidence.KindConformance, evidence.KindLoad)
	}
	if opts.SignKey != nil && len(opts.SignKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("finalize: signing key has %d bytes; want an ed25519 private key", len(opts.SignKey))
	}
	if run.RunID == "" {
		run.RunID = NewRunID()
	}
	run.Started, run.Finished = run.Started.UTC(), run.Finished.UTC()
	build := buildinfo.Get()
	if opts.Build != nil {
		build = *opts.Build
	}

	old, err := readManifest(dir)
	if err != nil {
		return fmt.Errorf("finalize: %w; use a new --out directory", err)
	}
	forms := secretForms(finalizeCredentials(run, opts))
	files, prevSums, err := scanForSeal(dir, run.Kind, forms)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	b, err := readBundle(dir, files)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	rec, err := runRecord(dir, b, run, build, prevSums)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	m := mergeManifest(old, rec, build)
	b.Manifest = m
	html, err := RenderHTML(b)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	// report.html and manifest.json are built from evidence.RunInfo (target URL, client ID, waiver
	// reasons), which no redactor saw: they are scanned like the rest, and both before either is
	// written, so a refusal leaves the bundle as it was.
	if err := scanBytes(html, forms); err != nil {
		return fmt.Errorf("finalize: %w", scanError(evidence.ReportFile, err))
	}
	m.Files = sortedEntries(append(append([]FileEntry(nil), files...), entryOf(evidence.ReportFile, html)))
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	mj = append(mj, '\n')
	if err := scanBytes(mj, forms); err != nil {
		return fmt.Errorf("finalize: %w", scanError(evidence.ManifestFile, err))
	}
	if err := writeSeal(dir, html, mj, m.Files, opts.SignKey); err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	return nil
}

// finalizeCredentials are the clients whose secrets must not appear: opts.Credentials, and each
// of opts.Secrets with the run's client ID.
func finalizeCredentials(run evidence.RunInfo, opts FinalizeOptions) []redact.Credential {
	creds := append([]redact.Credential(nil), opts.Credentials...)
	for _, s := range opts.Secrets {
		creds = append(creds, redact.Credential{ID: run.ClientID, Secret: s})
	}
	return creds
}

// scanForSeal reads every file of dir once, scanning it for forms and hashing it, and, when dir
// was sealed before, checks that the files a run of kind does not own are as that seal left them.
// It returns the files and the SHA-256 of the previous SHA256SUMS ("" when there was none).
func scanForSeal(dir, kind string, forms [][]byte) ([]FileEntry, string, error) {
	inputs, err := listFiles(dir, evidence.ManifestFile, evidence.ReportFile, evidence.SumsFile, evidence.SignatureFile)
	if err != nil {
		return nil, "", err
	}
	files, err := scanBundle(dir, inputs, forms)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return files, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	known := make(map[string]FileEntry, len(files))
	for _, f := range files {
		known[f.Path] = f
	}
	v, err := verify(dir, nil, known)
	if err != nil {
		return nil, "", err
	}
	for _, p := range v.Problems {
		if p.Kind == "added" || ownedBy(kind, p.Path) {
			continue // this run's own files, new or rewritten
		}
		return nil, "", fmt.Errorf("the bundle in %s changed since it was sealed (%s); use a new --out directory", dir, p)
	}
	h := sha256.Sum256(data)
	return files, hex.EncodeToString(h[:]), nil
}

// runRecord is the manifest's record of run, with the counts or figures it wrote into b.
func runRecord(dir string, b *Bundle, run evidence.RunInfo, build buildinfo.Info, prevSums string) (ManifestRun, error) {
	rec := ManifestRun{RunInfo: run, Harness: build, PreviousSums: prevSums}
	switch run.Kind {
	case evidence.KindConformance:
		if b.Summary == nil {
			return rec, fmt.Errorf("%s has no %s; a conformance run writes it before sealing", dir, evidence.SummaryFile)
		}
		c := b.Summary.Counts
		rec.Counts = &c
		if rec.Result == "" {
			rec.Result = b.Summary.Result
		}
	case evidence.KindLoad:
		if b.Load != nil {
			rec.Load = b.Load.Figures
			if rec.Result == "" {
				rec.Result = loadResult(b.Load.Summary)
			}
		}
	}
	return rec, nil
}

// writeSeal writes report.html, manifest.json, SHA256SUMS over files and both, and with key
// SHA256SUMS.sig, each atomically. Without a key it removes a signature over an earlier
// SHA256SUMS, which no longer holds: leaving it would only mislead.
func writeSeal(dir string, html, manifest []byte, files []FileEntry, key ed25519.PrivateKey) error {
	if err := evidence.WriteFileAtomic(filepath.Join(dir, evidence.ReportFile), html, 0o644); err != nil {
		return err
	}
	if err := evidence.WriteFileAtomic(filepath.Join(dir, evidence.ManifestFile), manifest, 0o644); err != nil {
		return err
	}
	sums := FormatSums(append(append([]FileEntry(nil), files...), entryOf(evidence.ManifestFile, manifest)))
	if err := evidence.WriteFileAtomic(filepath.Join(dir, evidence.SumsFile), sums, 0o644); err != nil {
		return err
	}
	sigPath := filepath.Join(dir, evidence.SignatureFile)
	if key == nil {
		if err := os.Remove(sigPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return evidence.WriteFileAtomic(sigPath, ed25519.Sign(key, sums), 0o644)
}

// mergeManifest adds rec to old (replacing a run with the same ID) and recomputes the bundle's
// top-level fields. Files are filled in by the caller.
func mergeManifest(old *Manifest, rec ManifestRun, build buildinfo.Info) *Manifest {
	m := &Manifest{Schema: ManifestSchema, Harness: build}
	if old != nil {
		for _, r := range old.Runs {
			if r.RunID != rec.RunID {
				m.Runs = append(m.Runs, r)
			}
		}
	}
	m.Runs = append(m.Runs, rec)
	// The primary run is the last conformance run: its summary.json is the one on disk, and its
	// counts are the bundle's.
	primary := m.Runs[0]
	for _, r := range m.Runs {
		if r.Kind == evidence.KindConformance {
			primary = r
		}
	}
	m.RunID = primary.RunID
	m.Profile, m.Tags, m.Seed, m.Strict, m.Waivers = primary.Profile, primary.Tags, primary.Seed, primary.Strict, primary.Waivers
	m.TargetURL, m.APIURL, m.ClientID = primary.TargetURL, primary.APIURL, primary.ClientID
	m.Result = evidence.Passed
	for _, r := range m.Runs {
		if m.Started.IsZero() || (!r.Started.IsZero() && r.Started.Before(m.Started)) {
			m.Started = r.Started
		}
		if r.Finished.After(m.Finished) {
			m.Finished = r.Finished
		}
		if r.Result == evidence.Failed {
			m.Result = evidence.Failed
		}
		if r.Kind == evidence.KindConformance && r.Counts != nil {
			m.Counts = r.Counts
		}
		if r.Kind == evidence.KindLoad && r.Load != nil {
			m.Load = r.Load
		}
	}
	return m
}

// loadResult reads a load run's verdict from load/summary.json when the caller did not give one:
// a top-level "result" of "passed" or "failed", or a boolean "passed". Otherwise "".
func loadResult(summary any) string {
	m, ok := summary.(map[string]any)
	if !ok {
		return ""
	}
	if r, ok := m["result"].(string); ok && (r == evidence.Passed || r == evidence.Failed) {
		return r
	}
	if p, ok := m["passed"].(bool); ok {
		if p {
			return evidence.Passed
		}
		return evidence.Failed
	}
	return ""
}
