package reportstest

import (
	"os"
	"path/filepath"
	"testing"
)

// Snapshot is every path under root, relative to it, with its contents ("" for a directory,
// whose path ends in "/"): what a refused or failed run must leave exactly as it was, staging
// directories beside a bundle included.
func Snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			files[rel+"/"] = ""
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = string(data)
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", root, err)
	}
	return files
}
