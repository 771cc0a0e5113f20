package evidence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path through a temporary file in the same directory, synced,
// and a rename, so that a reader (or a crash) never sees a half-written file, and a file
// hard-linked elsewhere (a bundle's staging copy) is replaced, never changed in place.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeTemp(path, data, perm, os.Rename)
}

// WriteFileExclusive writes data to path atomically and fails, wrapping os.ErrExist, if path
// already exists: the temporary file is hard-linked into place, which the kernel refuses when
// the name is taken.
func WriteFileExclusive(path string, data []byte, perm os.FileMode) error {
	err := writeTemp(path, data, perm, func(tmp, path string) error {
		err := os.Link(tmp, path)
		os.Remove(tmp)
		if os.IsExist(err) {
			return fmt.Errorf("%s already exists: %w", path, os.ErrExist)
		}
		return err
	})
	return err
}

// writeTemp writes data to a temporary file beside path and hands it to place; on any error the
// temporary file is removed.
func writeTemp(path string, data []byte, perm os.FileMode, place func(tmp, path string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := place(name, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return err
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return nil
}
