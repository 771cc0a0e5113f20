package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanFileFindsASecretAcrossChunks(t *testing.T) {
	const secret = "Distinctive+Secret/42="
	forms := secretForms("client", []string{secret})
	tests := map[string]int{
		"in the first chunk":          10,
		"straddling the first border": scanChunk - len(secret)/2,
		"deep in a later chunk":       3*scanChunk + 12345,
		"at the very end":             4*scanChunk - len(secret),
	}
	for name, at := range tests {
		t.Run(name, func(t *testing.T) {
			data := bytes.Repeat([]byte{'.'}, 4*scanChunk)
			copy(data[at:], secret)
			p := filepath.Join(t.TempDir(), "results.bin")
			require.NoError(t, os.WriteFile(p, data, 0o644))
			assert.ErrorIs(t, scanFile(p, forms), ErrUnredacted)
		})
	}
	clean := filepath.Join(t.TempDir(), "clean.bin")
	require.NoError(t, os.WriteFile(clean, bytes.Repeat([]byte{'.'}, 3*scanChunk+7), 0o644))
	assert.NoError(t, scanFile(clean, forms))
}
