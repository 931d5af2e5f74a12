package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/registry"
)

// TestImportersRejectLinksOut copies gaitpdb and gaitndd into a temporary
// folder and adds a symbolic link to a file outside it: every importer
// rejects the folder, naming the link, without reading the target.
func TestImportersRejectLinksOut(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("root:x:0:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, dataset, link string
		importer            func(string) (*registry.Batch, *Report, error)
	}{
		{"gaitpdb", "physionet-gaitpdb", "GaPt04_01.txt", GaitPDB},
		{"wfdb", "physionet-gaitndd", "park2.hea", WFDB},
		{"bids", "bids-motion-dualtask", "sub-13/notes.txt", BIDS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := dataset(t, c.dataset)
			dir := filepath.Join(t.TempDir(), c.dataset)
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, filepath.FromSlash(c.link))); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.importer(dir)
			var be *registry.BatchError
			if !errors.As(err, &be) || !strings.Contains(err.Error(), c.link) || !strings.Contains(err.Error(), "outside the dataset folder") {
				t.Fatalf("import with a link out: %v", err)
			}
			if strings.Contains(err.Error(), "root:x") {
				t.Fatalf("the error quotes the linked file: %v", err)
			}
		})
	}
}
