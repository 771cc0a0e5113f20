package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/authzcheck/authzcheck/internal/redact"
)

// ErrUnredacted is returned by Finalize when a file of the bundle holds a secret or a signed
// JWT: redaction at the source failed, and the bundle is not sealed.
var ErrUnredacted = errors.New("unredacted evidence")

// signedJWTRe matches a compact JWS whose header and payload are JSON objects ("eyJ") and whose
// signature segment is long enough to be a real signature: a token someone could replay.
// Unsigned ("alg":"none") tokens, fingerprints and decoded claims do not match.
var signedJWTRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{22,}`)

// secretForms returns every form in which the credentials' secrets can travel
// (redact.CredentialForms) as bytes, less those that hold a shorter one: finding the shorter one
// finds them too, and each form costs a pass over every file.
func secretForms(creds []redact.Credential) [][]byte {
	all := redact.CredentialForms(creds...)
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) < len(all[j]) })
	var out [][]byte
	for _, f := range all {
		covered := false
		for _, kept := range out {
			if strings.Contains(f, string(kept)) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, []byte(f))
		}
	}
	return out
}

// scanBundle reads the named files of dir once each, searching them for the secret forms and
// for signed JWTs and hashing them on the way. It returns their FileEntry in order, or an error
// wrapping ErrUnredacted naming the first file found and what it held, without the value itself
// (a token is named by its fingerprint).
func scanBundle(dir string, names []string, forms [][]byte) ([]FileEntry, error) {
	out := make([]FileEntry, 0, len(names))
	buf := make([]byte, 0, scanOverlap+scanChunk)
	for _, n := range names {
		e, err := scanFile(filepath.Join(dir, filepath.FromSlash(n)), forms, buf)
		if err != nil {
			return nil, scanError(n, err)
		}
		e.Path = n
		out = append(out, e)
	}
	return out, nil
}

// scanError names the file a scan failed on.
func scanError(name string, err error) error {
	if errors.Is(err, ErrUnredacted) {
		return fmt.Errorf("%s holds %w; the bundle was not sealed (a harness bug: please report it)", name, err)
	}
	return fmt.Errorf("scan %s: %w", name, err)
}

// scanChunk and scanOverlap bound the memory of a scan: a file (results.bin of a long load run
// is tens of MB) is read a chunk at a time, each chunk searched with the end of the previous
// one, so a secret or token that straddles two chunks is still found.
const (
	scanChunk   = 1 << 20
	scanOverlap = 64 << 10
)

// scanFile scans the file at path a chunk at a time (buf, when it has the capacity, is reused)
// and returns its SHA-256 and size (Path left empty).
func scanFile(path string, forms [][]byte, buf []byte) (FileEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileEntry{}, err
	}
	defer f.Close()
	if cap(buf) < scanOverlap+scanChunk {
		buf = make([]byte, 0, scanOverlap+scanChunk)
	}
	buf = buf[:0]
	h := sha256.New()
	var size int64
	for {
		n, err := io.ReadFull(f, buf[len(buf):len(buf)+scanChunk])
		h.Write(buf[len(buf) : len(buf)+n])
		size += int64(n)
		buf = buf[:len(buf)+n]
		if serr := scanBytes(buf, forms); serr != nil {
			return FileEntry{}, serr
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return FileEntry{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}, nil
		}
		if err != nil {
			return FileEntry{}, err
		}
		if len(buf) > scanOverlap {
			buf = buf[:copy(buf, buf[len(buf)-scanOverlap:])]
		}
	}
}

// scanBytes reports the first secret form or signed JWT found in data.
func scanBytes(data []byte, forms [][]byte) error {
	for _, f := range forms {
		if bytes.Contains(data, f) {
			return fmt.Errorf("%w: a client secret", ErrUnredacted)
		}
	}
	if m := signedJWTRe.Find(data); m != nil {
		return fmt.Errorf("%w: a signed JWT (%s)", ErrUnredacted, redact.Token(string(m)))
	}
	return nil
}

// CheckPage is the last check before a rendered page is written outside Finalize (authzcheck
// report html): it refuses a page that holds a signed JWT or, in any of their forms, the
// secrets of creds (which may be none). The error wraps ErrUnredacted and never holds the value.
func CheckPage(page []byte, creds ...Credential) error {
	return scanBytes(page, secretForms(creds))
}
