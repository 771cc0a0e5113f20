package evidence_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// The atomic writer replaces a file by rename: a hard link to the old file (a sealed bundle's
// file in a staging copy) keeps the old contents, and no temporary file is left.
func TestWriteFileAtomicReplacesNeverRewritesInPlace(t *testing.T) {
	dir := t.TempDir()
	p, link := filepath.Join(dir, "summary.json"), filepath.Join(dir, "linked.json")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	require.NoError(t, os.Link(p, link))
	require.NoError(t, evidence.WriteFileAtomic(p, []byte("new"), 0o640))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "new", string(got))
	old, err := os.ReadFile(link)
	require.NoError(t, err)
	assert.Equal(t, "old", string(old))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file left")
}

func TestWriteFileExclusiveNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "evidence.key")
	require.NoError(t, evidence.WriteFileExclusive(p, []byte("first"), 0o600))
	err := evidence.WriteFileExclusive(p, []byte("second"), 0o600)
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrExist), "%v", err)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "first", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}

func TestWriteFileAtomicIntoAMissingDirectoryNamesThePath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", "summary.json")
	err := evidence.WriteFileAtomic(p, []byte("x"), 0o644)
	require.Error(t, err)
	assert.Contains(t, err.Error(), p)
}

func TestTranscriptRequestOrigin(t *testing.T) {
	cases := map[string]string{
		"https://127.0.0.1:44443/token?x=1": "https://127.0.0.1:44443",
		"http://[::1]:8080/a":               "http://[::1]:8080",
		"/relative":                         "",
		"::not a url":                       "",
	}
	for in, want := range cases {
		assert.Equal(t, want, evidence.TranscriptRequest{URL: in}.Origin(), in)
	}
}

// A stream that fails part-way leaves the previous file as it was, and no temporary file.
func TestWriteAtomicKeepsTheOldFileWhenTheStreamFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "plot.html")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	err := evidence.WriteAtomic(p, 0o644, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half a plo")
		return errors.New("disk on fire")
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk on fire")
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")
}
