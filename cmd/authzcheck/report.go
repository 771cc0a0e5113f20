package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/internal/evidence"
	"github.com/authzcheck/authzcheck/load"
	"github.com/authzcheck/authzcheck/reports"
)

const reportUsage = `Usage:
  authzcheck report html DIR [--out FILE]           re-render DIR/report.html from the bundle's JSON
  authzcheck report verify DIR [--public-key FILE]  check every hash (and the signature, with a key)
  authzcheck report keygen --out DIR                write an ed25519 pair: DIR/evidence.key, DIR/evidence.pub
  authzcheck report merge DIR... [--out DIR]        combine the load results of several generators

Run 'authzcheck report COMMAND -h' for a command's flags.
Exit codes: 0 intact / done; 1 verification failed (each problem names its file);
2 bad usage (missing DIR, unreadable key, a key that already exists, a bundle changed since
it was sealed, runs that cannot be merged honestly).
`

// reportUsages are the usage texts of each report command, printed by 'report COMMAND -h'
// before its flags.
var reportUsages = map[string]string{
	"html": `Usage: authzcheck report html DIR [--out FILE]

Re-renders the report of the bundle in DIR from its JSON. Without --out it writes DIR/report.html,
only into a sealed bundle that verifies and only when the page is the sealed one (so the seal
still holds); a changed bundle is refused, naming each file. With --out FILE (outside DIR) it
renders any bundle, and warns when the bundle does not verify.

Example: authzcheck report html evidence/20260301T101500Z --out /tmp/report.html
Exit codes: 0 written; 1 the page would hold a secret or a signed token; 2 bad usage, not a
bundle, or a bundle changed since it was sealed.

Flags:
`,
	"verify": `Usage: authzcheck report verify DIR [--public-key FILE]

Checks every file of the bundle in DIR against SHA256SUMS (and manifest.json), that no file was
added or removed, and with --public-key that SHA256SUMS.sig is its signature by that key.

Example: authzcheck report verify evidence/20260301T101500Z --public-key keys/evidence.pub
Exit codes: 0 intact; 1 a problem, each naming its file; 2 bad usage or an unreadable key.

Flags:
`,
	"keygen": `Usage: authzcheck report keygen --out DIR

Writes an ed25519 key pair to sign bundles with: DIR/evidence.key (mode 0600, for --sign-key)
and DIR/evidence.pub (for 'report verify --public-key'). It never overwrites a key.

Example: authzcheck report keygen --out keys
Exit codes: 0 written; 2 bad usage or a key that already exists; 3 the files could not be written.

Flags:
`,
	"merge": `Usage: authzcheck report merge DIR... [--out DIR|FILE.json] [--force]

Combines the load results of several generators of one test (each DIR a bundle with
load/results.bin) into one summary recomputed from every result. It refuses the same run twice
(by run ID or identical results), runs of different modes and runs against different targets,
unless --force, which merges and prints each difference. --out DIR writes DIR/summary.json and
DIR/plot.html; --out FILE.json writes FILE.json and FILE.plot.html; never inside a bundle.

Example: authzcheck report merge gen-1 gen-2 gen-3 --out merged
Exit codes: 0 merged; 2 bad usage, or runs that cannot be merged honestly; 3 a write failed.

Flags:
`,
}

// runReport is the 'report' subcommand: it dispatches to html, verify, keygen and merge.
func runReport(env *cli.Env) error {
	if len(env.Args) == 0 {
		return cli.Usagef("missing a report command: html, verify, keygen or merge; run 'authzcheck report -h'")
	}
	sub, args := env.Args[0], env.Args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(env.Stdout, reportUsage)
		return nil
	case "html":
		return reportHTML(env, args)
	case "verify":
		return reportVerify(env, args)
	case "keygen":
		return reportKeygen(env, args)
	case "merge":
		return reportMerge(env, args)
	}
	return cli.Usagef("unknown report command %q; want html, verify, keygen or merge", sub)
}

// parseInterleaved parses flags that may come before or after the positional arguments
// ("verify DIR --public-key F" as well as "verify --public-key F DIR").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newReportFlags makes a FlagSet whose errors are returned, never printed.
func newReportFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("report "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func reportFlagError(env *cli.Env, name string, fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		printFlags(env.Stdout, reportUsages[name], fs)
		return nil
	}
	return cli.Usagef("%v; run 'authzcheck report %s -h' for the flags", err, name)
}

// bundleDir checks that exactly one DIR was given and that it is a directory.
func bundleDir(name string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", cli.Usagef("want one bundle directory, got %d arguments; usage: authzcheck report %s DIR", len(pos), name)
	}
	fi, err := os.Stat(pos[0])
	if err != nil || !fi.IsDir() {
		return "", cli.Usagef("%s is not a bundle directory; give the --out directory of a run", pos[0])
	}
	return pos[0], nil
}

func reportHTML(env *cli.Env, args []string) error {
	fs := newReportFlags("html")
	out := fs.String("out", "", "write the report here instead of DIR/report.html")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return reportFlagError(env, "html", fs, err)
	}
	dir, err := bundleDir("html", pos)
	if err != nil {
		return err
	}
	if *out != "" && within(dir, *out) {
		return cli.Usagef("--out %s is inside the bundle %s: the seal would not list it; write the report outside the bundle", *out, dir)
	}
	b, err := reports.ReadBundle(dir)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if b.Summary == nil && b.Load == nil {
		return cli.Usagef("%s holds neither summary.json nor load/: not a bundle", dir)
	}
	if err := checkSeal(env, dir, *out == ""); err != nil {
		return err
	}
	page, err := reports.RenderHTML(b)
	if err != nil {
		return cli.Unreachablef("%v", err)
	}
	// The page is built from JSON no redactor may have seen (a hand-edited or older bundle): never
	// write a signed JWT, nor the secrets of the clients in the environment, if any are set.
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	creds := []reports.Credential{{ID: getenv("AUTHZ_CLIENT_ID"), Secret: getenv("AUTHZ_CLIENT_SECRET")},
		{ID: getenv("AUTHZ_CLIENT2_ID"), Secret: getenv("AUTHZ_CLIENT2_SECRET")}}
	if err := reports.CheckPage(page, creds...); err != nil {
		return cli.Failedf("the report of %s holds %v; it was not written (a harness bug, or a bundle changed by hand: please report it)", dir, err)
	}
	target := *out
	if target == "" {
		target = filepath.Join(dir, evidence.ReportFile)
		// Never change a sealed report behind the seal's back.
		if sealed, err := sealedReport(dir); err == nil && sealed != nil && !bytes.Equal(sealed, page) {
			return cli.Usagef("the re-rendered report differs from the sealed %s (the bundle changed since it was sealed, or another harness version made it: see report verify); "+
				"write it elsewhere with --out FILE so the bundle still verifies", target)
		}
	}
	if err := evidence.WriteFileAtomic(target, page, 0o644); err != nil {
		return cli.Unreachablef("%v", err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s (%d bytes)\n", target, len(page))
	return nil
}

// checkSeal verifies the bundle before its report is rendered. Writing into the bundle (inPlace)
// needs a sealed bundle that verifies: a refusal names each file that changed, and nothing is
// written. A report written elsewhere may show any bundle, with a warning when it does not verify.
func checkSeal(env *cli.Env, dir string, inPlace bool) error {
	v, err := reports.Verify(dir, nil)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	unsealed := !v.OK() && v.Problems[0].Path == evidence.SumsFile && v.Problems[0].Kind == "missing"
	switch {
	case v.OK():
		return nil
	case inPlace && unsealed:
		return cli.Usagef("%s is not a sealed bundle: report html writes only into a sealed one; write this report elsewhere with --out FILE", dir)
	case inPlace:
		return cli.Usagef("%s changed since it was sealed (%s): nothing was written; see 'authzcheck report verify %s'", dir, problemNames(v.Problems), dir)
	case !unsealed:
		fmt.Fprintf(env.Stderr, "authzcheck report: warning: %s fails verification (%s): the report shows the bundle as it is now\n", dir, problemNames(v.Problems))
	}
	return nil
}

// problemNames lists each problem as "kind: file".
func problemNames(ps []reports.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Kind + ": " + p.Path
	}
	return strings.Join(parts, ", ")
}

// within reports whether path is dir or lies under it.
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// sealedReport returns the bundle's report.html when SHA256SUMS lists it, else nil.
func sealedReport(dir string) ([]byte, error) {
	sums, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	if err != nil {
		return nil, nil
	}
	entries, err := reports.ParseSums(sums)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Path == evidence.ReportFile {
			return os.ReadFile(filepath.Join(dir, evidence.ReportFile))
		}
	}
	return nil, nil
}

func reportVerify(env *cli.Env, args []string) error {
	fs := newReportFlags("verify")
	pubFile := fs.String("public-key", "", "ed25519 public key (PEM, evidence.pub): also check SHA256SUMS.sig")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return reportFlagError(env, "verify", fs, err)
	}
	dir, err := bundleDir("verify", pos)
	if err != nil {
		return err
	}
	var pub ed25519.PublicKey
	if *pubFile != "" {
		if pub, err = reports.ReadPublicKeyFile(*pubFile); err != nil {
			return cli.Usagef("--public-key: %v", err)
		}
	}
	v, err := reports.Verify(dir, pub)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if !v.OK() {
		for _, p := range v.Problems {
			fmt.Fprintf(env.Stdout, "FAIL %s\n", p)
		}
		names := make([]string, 0, len(v.Problems))
		for _, p := range v.Problems {
			names = append(names, p.Path)
		}
		return cli.Failedf("%s failed verification: %d problem(s): %s", dir, len(v.Problems), strings.Join(names, ", "))
	}
	sig := "not signed"
	switch {
	case v.SignatureChecked:
		sig = "signature verified with " + *pubFile
	case v.Signed:
		sig = "signed, signature not checked (give --public-key FILE)"
	}
	fmt.Fprintf(env.Stdout, "OK %s: %d files match SHA256SUMS; %s\n", dir, v.Files, sig)
	return nil
}

func reportKeygen(env *cli.Env, args []string) error {
	fs := newReportFlags("keygen")
	out := fs.String("out", "", "directory for evidence.key (mode 0600) and evidence.pub (required)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return reportFlagError(env, "keygen", fs, err)
	}
	if len(pos) > 0 {
		return cli.Usagef("unexpected argument %q; usage: authzcheck report keygen --out DIR", pos[0])
	}
	if *out == "" {
		return cli.Usagef("--out DIR is required: where to write evidence.key and evidence.pub")
	}
	keyPath, pubPath, err := reports.GenerateKeyPair(*out)
	if err != nil {
		if errors.Is(err, reports.ErrKeyExists) {
			return cli.Usagef("%v", err)
		}
		return cli.Unreachablef("%v", err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s (private, mode 0600: keep it secret; sign a run with --sign-key %s)\n", keyPath, keyPath)
	fmt.Fprintf(env.Stdout, "wrote %s (public: give it to whoever verifies: authzcheck report verify DIR --public-key %s)\n", pubPath, pubPath)
	return nil
}

func reportMerge(env *cli.Env, args []string) error {
	fs := newReportFlags("merge")
	out := fs.String("out", "", "write the merged summary and its plot: DIR/summary.json and DIR/plot.html, or FILE.json and FILE.plot.html beside it")
	force := fs.Bool("force", false, "merge even the same run twice, different modes or different targets (the differences are printed)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return reportFlagError(env, "merge", fs, err)
	}
	if len(pos) == 0 {
		return cli.Usagef("want one or more bundle directories with load results; usage: authzcheck report merge DIR... [--out DIR] [--force]")
	}
	srcs := make([]mergeSource, 0, len(pos))
	for _, d := range pos {
		src, err := readMergeSource(d)
		if err != nil {
			return err
		}
		srcs = append(srcs, src)
	}
	paths, err := mergeOutputs(*out, pos) // checked only: nothing is written before the merge
	if err != nil {
		return err
	}
	if diffs := mergeConflicts(srcs); len(diffs) > 0 {
		if !*force {
			return cli.Usagef("cannot merge honestly: %s; pass --force to merge anyway", strings.Join(diffs, "; "))
		}
		for _, d := range diffs {
			fmt.Fprintf(env.Stderr, "authzcheck report merge: warning: --force: %s\n", d)
		}
	}
	return mergeLoadResults(env, srcs, paths)
}

// mergeSource is one bundle given to merge: its results file, its load summary (nil when the
// bundle has none) and the ID of its load run (from manifest.json; "" when unsealed).
type mergeSource struct {
	dir, results, resultsSHA, runID string
	summary                         *evidence.LoadSummary
}

func readMergeSource(dir string) (mergeSource, error) {
	src := mergeSource{dir: dir, results: filepath.Join(dir, filepath.FromSlash(evidence.LoadResultsFile))}
	data, err := os.ReadFile(src.results)
	if err != nil {
		return src, cli.Usagef("%s has no %s: merge combines the results of load runs", dir, evidence.LoadResultsFile)
	}
	h := sha256.Sum256(data)
	src.resultsSHA = hex.EncodeToString(h[:])
	if s, err := evidence.ReadLoadSummary(filepath.Join(dir, filepath.FromSlash(evidence.LoadSummaryFile))); err == nil {
		src.summary = s
	}
	if b, err := os.ReadFile(filepath.Join(dir, evidence.ManifestFile)); err == nil {
		var m reports.Manifest
		if json.Unmarshal(b, &m) == nil {
			for _, r := range m.Runs {
				if r.Kind == evidence.KindLoad {
					src.runID = r.RunID
				}
			}
		}
	}
	return src, nil
}

// mergeConflicts says what makes the sources unfit to merge: a run given twice (same run ID, or
// the same results), runs of different modes, or of different targets.
func mergeConflicts(srcs []mergeSource) []string {
	var diffs []string
	for i, a := range srcs {
		for _, b := range srcs[:i] {
			switch {
			case a.runID != "" && a.runID == b.runID:
				diffs = append(diffs, fmt.Sprintf("%s and %s are the same run (run ID %s)", b.dir, a.dir, a.runID))
			case a.resultsSHA == b.resultsSHA:
				diffs = append(diffs, fmt.Sprintf("%s and %s hold the same results", b.dir, a.dir))
			}
		}
	}
	for _, field := range []struct {
		name string
		of   func(*evidence.LoadSummary) string
	}{
		{"modes", func(s *evidence.LoadSummary) string { return s.Mode }},
		{"targets", func(s *evidence.LoadSummary) string { return s.Target }},
	} {
		if d := differing(srcs, field.of); d != "" {
			diffs = append(diffs, "different "+field.name+": "+d)
		}
	}
	return diffs
}

// differing lists "dir value" for every source when of gives more than one value, else "".
func differing(srcs []mergeSource, of func(*evidence.LoadSummary) string) string {
	seen := map[string]bool{}
	var parts []string
	for _, s := range srcs {
		if s.summary == nil {
			continue
		}
		v := of(s.summary)
		seen[v] = true
		parts = append(parts, s.dir+" "+v)
	}
	if len(seen) < 2 {
		return ""
	}
	return strings.Join(parts, ", ")
}

// mergePaths are where merge writes: the summary and the plot ("" each: console only).
type mergePaths struct{ summary, plot string }

// mergeOutputs resolves --out: FILE.json writes the summary there and the plot beside it
// (FILE.plot.html); anything else is a directory, new or holding only a previous merge's
// summary.json and plot.html. Never inside one of the merged bundles: its seal would break.
func mergeOutputs(out string, dirs []string) (mergePaths, error) {
	if out == "" {
		return mergePaths{}, nil
	}
	for _, d := range dirs {
		if within(d, out) {
			return mergePaths{}, cli.Usagef("--out %s is inside the bundle %s: its seal would not list the merge; write it elsewhere", out, d)
		}
	}
	if strings.HasSuffix(out, ".json") {
		return mergePaths{summary: out, plot: strings.TrimSuffix(out, ".json") + ".plot.html"}, nil
	}
	entries, err := os.ReadDir(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mergePaths{}, cli.Usagef("--out %s: not a directory (give DIR, or FILE.json): %v", out, err)
	}
	for _, e := range entries {
		if n := e.Name(); n != evidence.LoadSummaryName && n != evidence.PlotFile {
			return mergePaths{}, cli.Usagef("--out %s holds %s: give a new directory for the merge", out, n)
		}
	}
	return mergePaths{summary: filepath.Join(out, evidence.LoadSummaryName), plot: filepath.Join(out, evidence.PlotFile)}, nil
}

// mergeLoadResults combines the load results of several runs (several generators of one test)
// into one summary, recomputed from every result: percentiles of the merged data, not averages
// of percentiles. It writes the summary and a plot of every result to out, and the text report
// to the console.
func mergeLoadResults(env *cli.Env, srcs []mergeSource, out mergePaths) error {
	files := make([]string, len(srcs))
	for i, s := range srcs {
		files[i] = s.results
	}
	sum, err := load.Merge(files)
	if err != nil {
		return cli.Usagef("merge: %v", err)
	}
	if out.summary != "" {
		if err := os.MkdirAll(filepath.Dir(out.summary), 0o755); err != nil {
			return cli.Usagef("--out: %v", err)
		}
		if err := sum.WriteJSON(out.summary); err != nil {
			return cli.Unreachablef("merge: writing %s: %v", out.summary, err)
		}
		if err := reports.WritePlot(out.plot, "authzcheck load merged", files); err != nil {
			return cli.Unreachablef("merge: writing %s: %v", out.plot, err)
		}
	}
	if err := sum.WriteText(env.Stdout); err != nil {
		return cli.Unreachablef("merge: %v", err)
	}
	if out.summary != "" {
		fmt.Fprintf(env.Stdout, "merged summary: %s\nmerged plot: %s\n", out.summary, out.plot)
	}
	return nil
}
