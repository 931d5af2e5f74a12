package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/steward-rehab/steward/internal/content"
)

// within reports whether path is parent or a path inside it.
func within(path, parent string) bool {
	p, err1 := filepath.Abs(path)
	q, err2 := filepath.Abs(parent)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(q, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// prepareEmptyDir creates dir, or accepts an existing empty one, and
// returns a function that removes what was put there.
func prepareEmptyDir(dir string) (cleanup func(), err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		return func() { _ = os.RemoveAll(dir) }, nil
	case err != nil:
		return nil, err
	case len(entries) > 0:
		return nil, fmt.Errorf("folder %s is not empty: choose a new folder, or remove this one if it contains an interrupted backup or restore", dir)
	}
	return func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}, nil
}

// skipUnfinishedBlobs leaves out of a backup the uploads that wait for their
// digest under staging/, and the temporary files that gocloud.dev/blob's
// fileblob writes next to an object until it is complete (KEY.<hex>.tmp).
// No sample references either.
func skipUnfinishedBlobs(rel string, d fs.DirEntry) bool {
	if d.IsDir() {
		return rel+"/" == content.StagingPrefix
	}
	return strings.HasSuffix(rel, ".tmp")
}

// copyTree copies the regular files under src to dst, which must not hold
// them yet, leaving out what skip selects (a skipped folder is not
// entered). Files that disappear while it runs are left out too, because
// garbage collection may remove unreferenced objects meanwhile. It returns
// the number of files and bytes copied.
func copyTree(ctx context.Context, src, dst string, skip func(rel string, d fs.DirEntry) bool) (files int, size int64, err error) {
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && path != src {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if skip != nil && skip(filepath.ToSlash(rel), d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case !d.Type().IsRegular():
			return nil
		}
		n, err := copyFileSize(path, target)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		files++
		size += n
		return err
	})
	return files, size, err
}

// copyFile copies one file, keeping its permission bits. The target must
// not exist.
func copyFile(src, dst string) error {
	_, err := copyFileSize(src, dst)
	return err
}

func copyFileSize(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return n, nil
}

// writeConfig writes steward.json in the layout Init uses.
func writeConfig(path string, cfg Config) error {
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// syncFolder flushes the file system that holds dir (syncfs), making every
// file copied into it durable with one call.
func syncFolder(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
