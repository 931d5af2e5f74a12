package release

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A build logs its release first and writes the bundle after, so a build
// killed in between leaves a release without a bundle. A marker file
// beside the output folder names that release until the bundle is in
// place, so the next build or verify of the folder can point at
// `steward release export` instead of logging, and charging for, the same
// selection again.

// PendingPath returns the marker file of the output folder dir: a hidden
// file beside it, because dir itself must be empty or absent.
func PendingPath(dir string) string {
	clean := filepath.Clean(dir)
	return filepath.Join(filepath.Dir(clean), "."+filepath.Base(clean)+".steward-pending")
}

// MarkPending records that release id is being built into dir, and makes
// the record durable before the release is committed.
func MarkPending(dir, id string) error {
	path := PendingPath(dir)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("mark the build of %s: %w", dir, err)
	}
	if _, err := f.WriteString(id + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("mark the build of %s: %w", dir, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("mark the build of %s: %w", dir, err)
	}
	return f.Close()
}

// Pending returns the release whose build into dir stopped before the
// bundle was written, or "" when there is none.
func Pending(dir string) (string, error) {
	raw, err := os.ReadFile(PendingPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", PendingPath(dir), err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// ClearPending removes the marker of dir if it names release id.
func ClearPending(dir, id string) error {
	named, err := Pending(dir)
	if err != nil || named != id {
		return err
	}
	if err := os.Remove(PendingPath(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", PendingPath(dir), err)
	}
	return nil
}
