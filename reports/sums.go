package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// FileEntry is one file of a bundle: its slash-separated path relative to the bundle directory,
// its SHA-256 (lower-case hex) and its size in bytes.
type FileEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// hashFile returns the SHA-256 of the file at path and its size.
func hashFile(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// listFiles walks dir and returns the slash-separated relative paths of its regular files,
// sorted, leaving out the names in skip. Anything that is neither a directory nor a regular file
// (a symlink, a device) is an error: a bundle holds plain files only.
func listFiles(dir string, skip ...string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file; a bundle holds plain files only", rel)
		}
		for _, s := range skip {
			if rel == s {
				return nil
			}
		}
		if err := checkSumPath(rel); err != nil {
			return err
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// hashFiles hashes the named files (relative to dir) in order.
func hashFiles(dir string, names []string) ([]FileEntry, error) {
	out := make([]FileEntry, 0, len(names))
	for _, n := range names {
		sum, size, err := hashFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", n, err)
		}
		out = append(out, FileEntry{Path: n, SHA256: sum, Size: size})
	}
	return out, nil
}

// entryOf is the FileEntry of data written to path.
func entryOf(path string, data []byte) FileEntry {
	h := sha256.Sum256(data)
	return FileEntry{Path: path, SHA256: hex.EncodeToString(h[:]), Size: int64(len(data))}
}

// sortedEntries sorts entries by path, in place, and returns them.
func sortedEntries(entries []FileEntry) []FileEntry {
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries
}

// checkSumPath rejects a path that SHA256SUMS cannot hold plainly or that could point outside
// the bundle: empty, absolute, with "." or ".." elements, a backslash, or a control character.
func checkSumPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty file name")
	case strings.ContainsAny(p, "\\"):
		return fmt.Errorf("file name %q holds a backslash", p)
	case strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return fmt.Errorf("file name %q holds a control character", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("file name %q is absolute", p)
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("file name %q is not a clean relative path", p)
	}
	return nil
}

// FormatSums renders entries in the format of GNU sha256sum ("<hex>  <path>", one a line),
// sorted by path, so that `sha256sum -c SHA256SUMS` checks a bundle without authzcheck.
func FormatSums(entries []FileEntry) []byte {
	sorted := append([]FileEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var b bytes.Buffer
	for _, e := range sorted {
		b.WriteString(e.SHA256)
		b.WriteString("  ")
		b.WriteString(e.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseSums reads a SHA256SUMS file: lines of 64 lower- or upper-case hex digits, a space, a
// mode character (' ' text or '*' binary) and a clean relative path. It rejects anything else
// (blank lines, duplicates, escaped names, paths leaving the bundle) with the line number.
func ParseSums(data []byte) ([]FileEntry, error) {
	if len(data) == 0 {
		return nil, errors.New("SHA256SUMS is empty")
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("SHA256SUMS: last line has no newline (file truncated?)")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	seen := make(map[string]bool, len(lines))
	out := make([]FileEntry, 0, len(lines))
	for i, line := range lines {
		n := i + 1
		if len(line) < 67 {
			return nil, fmt.Errorf("SHA256SUMS line %d: want \"<64 hex digits>  <path>\"", n)
		}
		sum, sep, mode, name := line[:64], line[64], line[65], line[66:]
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("SHA256SUMS line %d: checksum is not 64 hex digits", n)
		}
		if sep != ' ' || (mode != ' ' && mode != '*') {
			return nil, fmt.Errorf("SHA256SUMS line %d: want two spaces (or \" *\") between checksum and path", n)
		}
		if err := checkSumPath(name); err != nil {
			return nil, fmt.Errorf("SHA256SUMS line %d: %w", n, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("SHA256SUMS line %d: %s is listed twice", n, name)
		}
		seen[name] = true
		out = append(out, FileEntry{Path: name, SHA256: strings.ToLower(sum), Size: -1})
	}
	return out, nil
}
