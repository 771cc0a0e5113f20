package reports_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authzcheck/authzcheck/reports"
)

const hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestParseSums(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  []reports.FileEntry
		err   string
	}{
		{"should read text and binary mode lines", hexA + "  a.json\n" + strings.ToUpper(hexA) + " *dir/b.bin\n",
			[]reports.FileEntry{{Path: "a.json", SHA256: hexA, Size: -1}, {Path: "dir/b.bin", SHA256: hexA, Size: -1}}, ""},
		{"should reject an empty file", "", nil, "empty"},
		{"should reject a missing final newline", hexA + "  a.json", nil, "no newline"},
		{"should reject a short checksum", "abc  a.json\n", nil, "line 1"},
		{"should reject non-hex", strings.Repeat("g", 64) + "  a.json\n", nil, "hex"},
		{"should reject one space", hexA + " a.json\n", nil, "line 1"},
		{"should reject a blank line", hexA + "  a.json\n\n", nil, "line 2"},
		{"should reject a path leaving the bundle", hexA + "  ../etc/passwd\n", nil, "clean relative"},
		{"should reject an absolute path", hexA + "  /etc/passwd\n", nil, "absolute"},
		{"should reject an escaped name", "\\" + hexA + "  a\\nb\n", nil, "line 1"},
		{"should reject a duplicate", hexA + "  a.json\n" + hexA + "  a.json\n", nil, "twice"},
		{"should reject CRLF", hexA + "  a.json\r\n", nil, "control"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reports.ParseSums([]byte(tc.input))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatSumsSortsAndRoundTrips(t *testing.T) {
	in := []reports.FileEntry{{Path: "z.json", SHA256: hexA}, {Path: "a/b.json", SHA256: hexA}, {Path: "a.json", SHA256: hexA}}
	out := reports.FormatSums(in)
	assert.Equal(t, hexA+"  a.json\n"+hexA+"  a/b.json\n"+hexA+"  z.json\n", string(out))
	back, err := reports.ParseSums(out)
	require.NoError(t, err)
	assert.Len(t, back, 3)
}

func FuzzParseSums(f *testing.F) {
	f.Add([]byte(hexA + "  a.json\n"))
	f.Add([]byte(hexA + " *transcripts/0001.json\n" + hexA + "  load/results.bin\n"))
	f.Add([]byte(hexA + "  ../x\n"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := reports.ParseSums(data)
		if err != nil {
			return
		}
		// Whatever is accepted is safe to join to a directory and survives a round trip.
		for _, e := range entries {
			if e.Path == "" || strings.HasPrefix(e.Path, "/") || strings.Contains(e.Path, "..") && strings.Contains("/"+e.Path+"/", "/../") {
				t.Fatalf("accepted unsafe path %q", e.Path)
			}
			if len(e.SHA256) != 64 || strings.ToLower(e.SHA256) != e.SHA256 {
				t.Fatalf("accepted checksum %q", e.SHA256)
			}
		}
		again, err := reports.ParseSums(reports.FormatSums(entries))
		if err != nil {
			t.Fatalf("FormatSums output does not parse: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip changed %d entries into %d", len(entries), len(again))
		}
	})
}
