package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/authzcheck/authzcheck/internal/evidence"
)

// Bundle is an evidence bundle read back from its directory: what the report is rendered from.
// Any part may be missing (nil): a load-only bundle has no Summary, an unsealed one no Manifest.
type Bundle struct {
	Dir         string
	Manifest    *Manifest
	Summary     *evidence.Summary
	Transcripts map[string]*evidence.Transcript // by file name under transcripts/ ("0001.json")
	Load        *LoadData
	Timeline    *evidence.ClientTimeline // client/timeline.json of a client certification run
	// Files are the bundle's evidence files with their SHA-256: every file but report.html,
	// manifest.json, SHA256SUMS and its signature (which cannot list themselves in the report).
	Files []FileEntry
	// Problems are parts of the bundle that could not be read; the report lists them.
	Problems []string
}

// ReadBundle reads the JSON of the bundle in dir (manifest.json, summary.json, the transcripts
// summary.json names, load/, client/timeline.json). A missing part is left nil; an unreadable one is an error for
// summary.json and manifest.json, and a listed problem for a transcript.
func ReadBundle(dir string) (*Bundle, error) { return readBundle(dir, nil) }

// readBundle is ReadBundle; files, when not nil, are the bundle's evidence files already hashed
// (Finalize hashes them while it scans them), so they are not read again.
func readBundle(dir string, files []FileEntry) (*Bundle, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s is not a directory", dir)
	}
	b := &Bundle{Dir: dir, Transcripts: map[string]*evidence.Transcript{}}
	var err error
	if b.Manifest, err = readManifest(dir); err != nil {
		return nil, err
	}
	if b.Summary, err = readSummary(dir); err != nil {
		return nil, err
	}
	if b.Summary != nil {
		for _, c := range b.Summary.Checks {
			for _, name := range c.Transcripts {
				if _, done := b.Transcripts[name]; done {
					continue
				}
				t, err := readTranscript(dir, name)
				if err != nil {
					b.Problems = append(b.Problems, err.Error())
					b.Transcripts[name] = nil
					continue
				}
				b.Transcripts[name] = t
			}
		}
	}
	if files != nil {
		b.Files = files
	} else if names, err := listFiles(dir, evidence.ReportFile, evidence.ManifestFile, evidence.SumsFile, evidence.SignatureFile); err != nil {
		b.Problems = append(b.Problems, err.Error())
	} else if b.Files, err = hashFiles(dir, names); err != nil {
		b.Problems = append(b.Problems, err.Error())
	}
	if b.Load, err = readLoad(dir); err != nil {
		return nil, err
	}
	if b.Load != nil {
		b.Problems = append(b.Problems, b.Load.Problems...)
	}
	if b.Timeline, err = readOptionalJSON[evidence.ClientTimeline](dir, evidence.TimelineFile); err != nil {
		b.Problems = append(b.Problems, err.Error()) // the report says so and draws none
	}
	return b, nil
}

// readSummary reads dir/summary.json; a missing file is (nil, nil).
func readSummary(dir string) (*evidence.Summary, error) {
	return readOptionalJSON[evidence.Summary](dir, evidence.SummaryFile)
}

// readTranscript reads transcripts/name. A name that is not a plain file name is refused.
func readTranscript(dir, name string) (*evidence.Transcript, error) {
	name = strings.TrimPrefix(name, evidence.TranscriptsDir+"/")
	if name == "" || path.Base(name) != name || name == "." || name == ".." || filepath.Base(name) != name {
		return nil, fmt.Errorf("transcript %q: not a file name under transcripts/", name)
	}
	data, err := os.ReadFile(filepath.Join(dir, evidence.TranscriptsDir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("transcripts/%s is missing", name)
		}
		return nil, err
	}
	var t evidence.Transcript
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("transcripts/%s: %v", name, err)
	}
	return &t, nil
}
