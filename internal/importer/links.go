package importer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkLinks rejects a dataset folder holding symbolic links that lead out
// of it. An importer reads the files it finds by name, so a link would make
// it register, and quote in its messages, any file the user can read.
// Links that stay inside the folder are fine.
//
// NOTE: a link swapped in after this check and before a file is read is not
// caught; manifests open their files through os.Root, which is.
func checkLinks(dir string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("dataset folder %s: %w", dir, err)
	}
	var probs problems
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			probs.add(rel, "symbolic link to a missing or unreadable file: remove it or copy the file into the folder")
			return nil
		}
		if target != root && !strings.HasPrefix(target, root+string(os.PathSeparator)) {
			probs.add(rel, "symbolic link to %s, outside the dataset folder: copy the file into the folder instead", target)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read dataset folder %s: %w", dir, err)
	}
	return probs.err()
}
