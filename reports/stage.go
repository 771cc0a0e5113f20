package reports

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// ErrRefused is wrapped by every error of Open that refuses the directory it was given (a file,
// a directory of foreign files, a bundle changed since it was sealed, a bundle that already
// holds a run of the kind): the caller's usage was wrong, and nothing was written.
var ErrRefused = errors.New("refused")

// Stage is a run's evidence bundle while the run writes it. The run writes into Dir, a staging
// directory beside the bundle holding a copy of the sealed bundle it adds to (hard links where
// the file system allows); Seal seals the staging directory and renames it into place. Until
// then the bundle is as it was: a run that fails part-way, or whose seal is refused, leaves it
// untouched (and `report verify` still passes on it). Close removes what Seal did not put in
// place. A Stage is used by one goroutine.
type Stage struct {
	name    string // the bundle directory as the run was given it, for messages
	final   string // the same, absolute: "." has a parent to stage beside
	dir     string // the staging directory
	existed bool   // final existed when opened (an empty directory or a sealed bundle)
	sealed  []byte // SHA256SUMS of the bundle when opened; nil for a new bundle
	created []string
	done    bool // renamed into place, or left for the user to recover
}

// Open checks dir before a run of kind (evidence.KindConformance or evidence.KindLoad) starts, and stages it:
//
//   - a directory that does not exist, or is empty, starts a new bundle;
//   - a directory holding files but no SHA256SUMS is not a bundle the harness wrote: refused,
//     so that no foreign file is ever sealed in;
//   - a sealed bundle is verified, and refused, naming each file, when a file was added,
//     removed or altered since it was sealed;
//   - a bundle that already holds a run of kind (summary.json for conformance, load/ for load)
//     is refused, so that no evidence of two runs of one kind is mixed.
//
// Refusals wrap ErrRefused and write nothing. Other errors (an unreadable directory, no room
// for the staging directory) do not wrap it.
func Open(dir, kind string) (*Stage, error) {
	if kind != evidence.KindConformance && kind != evidence.KindLoad {
		return nil, fmt.Errorf("open %s: run kind %q; want %q or %q", dir, kind, evidence.KindConformance, evidence.KindLoad)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	s := &Stage{name: filepath.Clean(dir), final: abs}
	if err := s.check(kind); err != nil {
		return nil, err
	}
	if err := s.stage(kind); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// check decides whether the run may write into s.final, and reads its seal.
func (s *Stage) check(kind string) error {
	dir := s.name
	fi, err := os.Stat(s.final)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("--out %s: a part of the path is a file, not a directory; give a new directory for the evidence: %w", dir, ErrRefused)
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--out %s is a file, not a directory; give a new directory for the evidence: %w", dir, ErrRefused)
	}
	s.existed = true
	entries, err := os.ReadDir(s.final)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	sums, err := os.ReadFile(filepath.Join(s.final, evidence.SumsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--out %s holds files but is not a sealed authzcheck bundle (no %s): give a new or empty directory, so no foreign file is sealed in: %w",
			dir, evidence.SumsFile, ErrRefused)
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	v, err := Verify(s.final, nil)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if !v.OK() {
		return fmt.Errorf("--out %s changed since it was sealed (%s): nothing was run; restore the bundle or give a new directory: %w",
			dir, problemList(v.Problems), ErrRefused)
	}
	entriesOf, err := ParseSums(sums)
	if err != nil { // Verify read it already; a file replaced in between
		return fmt.Errorf("--out %s: %v: %w", dir, err, ErrRefused)
	}
	for _, e := range entriesOf {
		if kind == evidence.KindConformance && e.Path == evidence.SummaryFile {
			return fmt.Errorf("--out %s already holds a conformance run; give a new directory so no evidence is mixed: %w", dir, ErrRefused)
		}
		if kind == evidence.KindLoad && strings.HasPrefix(e.Path, evidence.LoadDir+"/") {
			return fmt.Errorf("--out %s already holds load results; give a new directory so no evidence is mixed: %w", dir, ErrRefused)
		}
	}
	s.sealed = sums
	return nil
}

// problemList names every problem's file, with its kind: "altered: summary.json, added: x".
func problemList(ps []Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Kind + ": " + p.Path
	}
	return strings.Join(parts, ", ")
}

// stage creates the staging directory beside s.final and copies the sealed bundle into it:
// the files SHA256SUMS lists (so a file added since Verify is never carried over), SHA256SUMS
// and its signature. Files are hard-linked, which costs nothing and which every writer of the
// harness respects (evidence.WriteFileAtomic replaces a file, never changes it in place); the
// files a run of kind rewrites are copied all the same, so that even an in-place write cannot
// reach the sealed bundle.
func (s *Stage) stage(kind string) error {
	parent := filepath.Dir(s.final)
	if err := s.mkdirParents(parent); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(s.final)+".staging-*")
	if err != nil {
		return fmt.Errorf("--out %s: staging directory: %w", s.final, err)
	}
	s.dir = dir
	mode := os.FileMode(0o755)
	if fi, err := os.Stat(s.final); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("--out %s: %w", s.final, err)
	}
	if s.sealed == nil {
		return nil
	}
	entries, err := ParseSums(s.sealed)
	if err != nil {
		return fmt.Errorf("--out %s: %w", s.final, err)
	}
	names := []string{evidence.SumsFile}
	for _, e := range entries {
		names = append(names, e.Path)
	}
	if _, err := os.Stat(filepath.Join(s.final, evidence.SignatureFile)); err == nil {
		names = append(names, evidence.SignatureFile)
	}
	for _, n := range names {
		src, dst := filepath.Join(s.final, filepath.FromSlash(n)), filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("--out %s: %w", s.final, err)
		}
		if ownedBy(kind, n) || n == evidence.SumsFile || n == evidence.SignatureFile || os.Link(src, dst) != nil {
			if err := copyFile(src, dst); err != nil {
				return fmt.Errorf("--out %s: staging %s: %w", s.final, n, err)
			}
		}
	}
	return nil
}

// mkdirParents creates dir and its missing parents, remembering which it created so that
// Close can remove them again when the run leaves nothing.
func (s *Stage) mkdirParents(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", s.final, err)
	}
	s.created = missing // innermost first: the order Close removes them in
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Dir is the staging directory the run writes its files into (and Finalize seals).
func (s *Stage) Dir() string { return s.dir }

// Final is the bundle directory the run was given: where the sealed bundle will be.
func (s *Stage) Final() string { return s.name }

// Seal seals the staging directory (Finalize) and puts it in place of the bundle. When sealing
// fails the bundle is as it was. When the bundle changed during the run, the newly sealed one is
// left in its staging directory, named in the error, and the bundle is not touched.
func (s *Stage) Seal(run evidence.RunInfo, opts FinalizeOptions) error {
	if s.done {
		return fmt.Errorf("seal %s: already sealed", s.final)
	}
	if err := Finalize(s.dir, run, opts); err != nil {
		return err
	}
	return s.commit()
}

// commit renames the sealed staging directory into place. A sealed bundle is first checked to
// be as it was when opened, then moved aside (so the rename can take its name) and removed.
func (s *Stage) commit() error {
	keep := func(err error) error {
		s.done = true // the sealed staging directory is the user's to recover
		return fmt.Errorf("%w; the new sealed bundle is in %s", err, s.dir)
	}
	switch {
	case s.sealed != nil:
		now, err := os.ReadFile(filepath.Join(s.final, evidence.SumsFile))
		if err != nil || string(now) != string(s.sealed) {
			return keep(fmt.Errorf("%s was resealed or removed during the run", s.final))
		}
		if v, err := Verify(s.final, nil); err != nil || !v.OK() {
			return keep(fmt.Errorf("%s changed during the run", s.final))
		}
		aside := filepath.Join(filepath.Dir(s.final), "."+filepath.Base(s.final)+".replaced-"+randomSuffix())
		if err := os.Rename(s.final, aside); err != nil {
			return keep(err)
		}
		if err := os.Rename(s.dir, s.final); err != nil {
			if back := os.Rename(aside, s.final); back != nil {
				return keep(fmt.Errorf("%v; the previous bundle is in %s", err, aside))
			}
			return keep(err)
		}
		s.done = true
		// The previous bundle's files are links to the new one's, or replaced by it.
		_ = os.RemoveAll(aside)
		return nil
	case s.existed:
		// os.Remove refuses a directory that is no longer empty: nothing foreign is lost.
		if err := os.Remove(s.final); err != nil {
			return keep(fmt.Errorf("%s is no longer empty", s.final))
		}
	}
	if err := os.Rename(s.dir, s.final); err != nil {
		return keep(fmt.Errorf("%s appeared during the run", s.final))
	}
	s.done = true
	return nil
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Close removes the staging directory unless Seal put it in place (or left it, sealed, for the
// user to recover), and the parent directories Open created for it if they are empty. It is
// safe to call more than once, and after Seal.
func (s *Stage) Close() error {
	if s.done || s.dir == "" {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.dir = ""
	for _, d := range s.created {
		if os.Remove(d) != nil {
			break
		}
	}
	return err
}
