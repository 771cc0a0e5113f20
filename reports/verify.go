package reports

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// Problem is one way a bundle differs from what sealed it.
type Problem struct {
	Path string `json:"path"` // the file concerned, relative to the bundle
	Kind string `json:"kind"` // altered, missing, added, unreadable, bad signature, malformed
	// Detail says what was found, in a few words.
	Detail string `json:"detail,omitempty"`
}

func (p Problem) String() string {
	if p.Detail == "" {
		return p.Kind + ": " + p.Path
	}
	return p.Kind + ": " + p.Path + " (" + p.Detail + ")"
}

// Verification is the outcome of Verify.
type Verification struct {
	Files            int  // files listed in SHA256SUMS
	Signed           bool // SHA256SUMS.sig is present
	SignatureChecked bool // and it verified against the given public key
	Problems         []Problem
}

// OK reports whether the bundle is intact (and, when a key was given, signed by it).
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Verify checks a sealed bundle: every file listed in SHA256SUMS is present with that hash, no
// file is there that it does not list (SHA256SUMS and SHA256SUMS.sig aside), manifest.json
// agrees with it, and, when pub is not nil, SHA256SUMS.sig is an ed25519 signature of SHA256SUMS
// by pub. Every problem names its file. The error is for a dir that cannot be read at all.
func Verify(dir string, pub ed25519.PublicKey) (*Verification, error) { return verify(dir, pub, nil) }

// verify is Verify; known are files already hashed by the caller (by path), not read again.
func verify(dir string, pub ed25519.PublicKey, known map[string]FileEntry) (*Verification, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s is not a directory", dir)
	}
	v := &Verification{}
	sums, err := os.ReadFile(filepath.Join(dir, evidence.SumsFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			v.Problems = append(v.Problems, Problem{Path: evidence.SumsFile, Kind: "missing", Detail: "the bundle was never sealed"})
			return v, nil
		}
		return nil, fmt.Errorf("read %s: %w", evidence.SumsFile, err)
	}
	entries, err := ParseSums(sums)
	if err != nil {
		v.Problems = append(v.Problems, Problem{Path: evidence.SumsFile, Kind: "malformed", Detail: err.Error()})
		return v, nil
	}
	v.Files = len(entries)

	sig, sigErr := os.ReadFile(filepath.Join(dir, evidence.SignatureFile))
	v.Signed = sigErr == nil
	if pub != nil {
		switch {
		case sigErr != nil:
			v.Problems = append(v.Problems, Problem{Path: evidence.SignatureFile, Kind: "missing", Detail: "a public key was given but the bundle is not signed"})
		case len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, sums, sig):
			v.Problems = append(v.Problems, Problem{Path: evidence.SignatureFile, Kind: "bad signature", Detail: "SHA256SUMS was not signed by this key, or was changed after signing"})
		default:
			v.SignatureChecked = true
		}
	}

	listed := make(map[string]FileEntry, len(entries))
	for _, e := range entries {
		listed[e.Path] = e
	}
	present, err := listFiles(dir, evidence.SumsFile, evidence.SignatureFile)
	if err != nil {
		v.Problems = append(v.Problems, Problem{Path: ".", Kind: "unreadable", Detail: err.Error()})
		return v, nil
	}
	have := make(map[string]bool, len(present))
	for _, p := range present {
		have[p] = true
		if _, ok := listed[p]; !ok {
			v.Problems = append(v.Problems, Problem{Path: p, Kind: "added", Detail: "not listed in SHA256SUMS"})
		}
	}
	for _, e := range entries {
		if !have[e.Path] {
			v.Problems = append(v.Problems, Problem{Path: e.Path, Kind: "missing"})
			continue
		}
		sum, err := "", error(nil)
		if k, ok := known[e.Path]; ok {
			sum = k.SHA256
		} else {
			sum, _, err = hashFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		}
		if err != nil {
			v.Problems = append(v.Problems, Problem{Path: e.Path, Kind: "unreadable", Detail: err.Error()})
			continue
		}
		if sum != e.SHA256 {
			v.Problems = append(v.Problems, Problem{Path: e.Path, Kind: "altered", Detail: "SHA-256 " + sum[:12] + "… differs from SHA256SUMS"})
		}
	}
	// manifest.json is covered by SHA256SUMS; its own file list must say the same.
	if _, ok := listed[evidence.ManifestFile]; ok && have[evidence.ManifestFile] {
		m, err := readManifest(dir)
		switch {
		case err != nil:
			v.Problems = append(v.Problems, Problem{Path: evidence.ManifestFile, Kind: "malformed", Detail: err.Error()})
		case m != nil:
			for _, f := range m.Files {
				if l, ok := listed[f.Path]; !ok || l.SHA256 != f.SHA256 {
					v.Problems = append(v.Problems, Problem{Path: f.Path, Kind: "altered", Detail: "manifest.json and SHA256SUMS disagree"})
				}
			}
		}
	}
	sort.SliceStable(v.Problems, func(i, j int) bool { return v.Problems[i].Path < v.Problems[j].Path })
	v.Problems = dedupe(v.Problems)
	return v, nil
}

func dedupe(ps []Problem) []Problem {
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p.Path == ps[i-1].Path && p.Kind == ps[i-1].Kind {
			continue
		}
		out = append(out, p)
	}
	return out
}

// readManifest reads dir/manifest.json; a missing file is (nil, nil).
func readManifest(dir string) (*Manifest, error) {
	return readOptionalJSON[Manifest](dir, evidence.ManifestFile)
}

// readOptionalJSON decodes the JSON file name of dir into a T; a missing file is (nil, nil), and
// a malformed one an error naming it.
func readOptionalJSON[T any](dir, name string) (*T, error) {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &v, nil
}
