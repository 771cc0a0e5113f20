package evidence

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path through a temporary file in the same directory, synced,
// and a rename, so that a reader (or a crash) never sees a half-written file, and a file
// hard-linked elsewhere (a bundle's staging copy) is replaced, never changed in place.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for content written as a stream (a plot, a results file):
// write writes the whole file to w, and the file is in place only when write and the sync
// succeeded. w is not buffered.
func WriteAtomic(path string, perm os.FileMode, write func(w io.Writer) error) error {
	return writeTemp(path, write, perm, os.Rename)
}

// WriteFileExclusive writes data to path atomically and fails, wrapping os.ErrExist, if path
// already exists: the temporary file is hard-linked into place, which the kernel refuses when
// the name is taken.
func WriteFileExclusive(path string, data []byte, perm os.FileMode) error {
	err := writeTemp(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, perm, func(tmp, path string) error {
		err := os.Link(tmp, path)
		os.Remove(tmp)
		if os.IsExist(err) {
			return fmt.Errorf("%s already exists: %w", path, os.ErrExist)
		}
		return err
	})
	return err
}

// writeTemp writes a temporary file beside path with write and hands it to place; on any error
// the temporary file is removed.
func writeTemp(path string, write func(io.Writer) error, perm os.FileMode, place func(tmp, path string) error) error {
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
	if err := write(tmp); err != nil {
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
