package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/internal/redact"
)

func TestScanFileFindsASecretAcrossChunks(t *testing.T) {
	const secret = "Distinctive+Secret/42="
	forms := secretForms([]redact.Credential{{ID: "client", Secret: secret}})
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
			_, err := scanFile(p, forms, nil)
			assert.ErrorIs(t, err, ErrUnredacted)
		})
	}
	clean := filepath.Join(t.TempDir(), "clean.bin")
	require.NoError(t, os.WriteFile(clean, bytes.Repeat([]byte{'.'}, 3*scanChunk+7), 0o644))
	e, err := scanFile(clean, forms, nil)
	require.NoError(t, err)
	sum, size, err := hashFile(clean)
	require.NoError(t, err)
	assert.Equal(t, FileEntry{SHA256: sum, Size: size}, e, "the scan hashes what it reads")
}

// A secret with characters every escaper touches is found however the bundle's writers wrote it.
func TestScanFindsEscapedSecrets(t *testing.T) {
	const id, secret = "demo-client", `p&ss<w0rd>"+Q/x`
	forms := secretForms([]redact.Credential{{ID: id, Secret: secret}})
	jsonOn, err := json.Marshal(map[string]string{"d": secret})
	require.NoError(t, err)
	var page bytes.Buffer
	require.NoError(t, template.Must(template.New("").Parse(`<td>{{.}}</td>`)).Execute(&page, secret))
	for _, data := range []string{string(jsonOn), page.String(), fmt.Sprintf("error: %q", secret),
		strings.ReplaceAll(string(jsonOn), "/", `\/`), template.HTMLEscapeString(secret)} {
		assert.ErrorIs(t, scanBytes([]byte(data), forms), ErrUnredacted, data)
	}
	assert.NoError(t, scanBytes([]byte(`{"d":"***"}`), forms))
}

func TestSecretFormsDropFormsThatHoldAShorterOne(t *testing.T) {
	creds := []redact.Credential{{ID: "demo-client", Secret: "Sec+ret/=%&!x"}}
	forms := secretForms(creds)
	require.NotEmpty(t, forms)
	for _, f := range redact.CredentialForms(creds...) {
		held := false
		for _, kept := range forms {
			held = held || strings.Contains(f, string(kept))
		}
		assert.True(t, held, "%q is found through a kept form", f)
	}
	for i, a := range forms {
		for j, b := range forms {
			if i != j {
				assert.NotContains(t, string(a), string(b))
			}
		}
	}
}
