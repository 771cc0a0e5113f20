package main

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/authzcheck/authzcheck/evidence"
	"github.com/authzcheck/authzcheck/internal/cli"
	"github.com/authzcheck/authzcheck/load"
	"github.com/authzcheck/authzcheck/reports"
)

const reportUsage = `Usage:
  authzcheck report html DIR [--out FILE]           re-render DIR/report.html from the bundle's JSON
  authzcheck report verify DIR [--public-key FILE]  check every hash (and the signature, with a key)
  authzcheck report keygen --out DIR                write an ed25519 pair: DIR/evidence.key, DIR/evidence.pub
  authzcheck report merge DIR...                    combine the load results of several bundles

Exit codes: 0 intact / done; 1 verification failed (each problem names its file);
2 bad usage (missing DIR, unreadable key, a key that already exists).
`

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
		fmt.Fprint(env.Stdout, reportUsage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
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
		target = filepath.Join(dir, reports.ReportFile)
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
	unsealed := !v.OK() && v.Problems[0].Path == reports.SumsFile && v.Problems[0].Kind == "missing"
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
	sums, err := os.ReadFile(filepath.Join(dir, reports.SumsFile))
	if err != nil {
		return nil, nil
	}
	entries, err := reports.ParseSums(sums)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Path == reports.ReportFile {
			return os.ReadFile(filepath.Join(dir, reports.ReportFile))
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
	out := fs.String("out", "", "also write the merged summary as JSON to this file")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return reportFlagError(env, "merge", fs, err)
	}
	if len(pos) == 0 {
		return cli.Usagef("want one or more bundle directories with load results; usage: authzcheck report merge DIR...")
	}
	files := make([]string, 0, len(pos))
	for _, d := range pos {
		f := filepath.Join(d, filepath.FromSlash(reports.LoadResultsFile))
		if _, err := os.Stat(f); err != nil {
			return cli.Usagef("%s has no %s: merge combines the results of load runs", d, reports.LoadResultsFile)
		}
		files = append(files, f)
	}
	return mergeLoadResults(env, files, *out)
}

// mergeLoadResults combines the load results of several runs (several generators of one test)
// into one summary, recomputed from every result: percentiles of the merged data, not averages
// of percentiles.
func mergeLoadResults(env *cli.Env, files []string, out string) error {
	sum, err := load.Merge(files)
	if err != nil {
		return cli.Usagef("merge: %v", err)
	}
	if out != "" {
		if err := sum.WriteJSON(out); err != nil {
			return cli.Unreachablef("merge: writing %s: %v", out, err)
		}
	}
	if err := sum.WriteText(env.Stdout); err != nil {
		return cli.Unreachablef("merge: %v", err)
	}
	if out != "" {
		fmt.Fprintf(env.Stdout, "merged summary: %s\n", out)
	}
	return nil
}
