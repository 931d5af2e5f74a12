package importer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/steward-rehab/steward/internal/registry"
)

// TestRegisterImportTwice registers each shared dataset in a new registry
// and then again: the registry accepts every batch, and the second import
// finds every sample and participant already there.
func TestRegisterImportTwice(t *testing.T) {
	ctx := context.Background()
	r, err := registry.Init(ctx, filepath.Join(t.TempDir(), "registry"), registry.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	imports := []struct {
		dataset string
		read    func(string) (*registry.Batch, *Report, error)
		samples int
		people  int
	}{
		{"physionet-gaitpdb", GaitPDB, 7, 166},
		{"physionet-gaitndd", WFDB, 5, 64},
		{"bids-motion-dualtask", BIDS, 0, 5},
	}
	for _, imp := range imports {
		t.Run(imp.dataset, func(t *testing.T) {
			b, _, err := imp.read(dataset(t, imp.dataset))
			if err != nil {
				t.Fatal(err)
			}
			first, err := r.Register(ctx, b)
			if err != nil {
				t.Fatalf("first import: %v", err)
			}
			if len(first.Samples) != imp.samples || first.ParticipantsCreated != imp.people {
				t.Errorf("first import: %d samples and %d participants created, want %d and %d", len(first.Samples), first.ParticipantsCreated, imp.samples, imp.people)
			}
			again, err := r.Register(ctx, b)
			if err != nil {
				t.Fatalf("second import: %v", err)
			}
			if again.ParticipantsCreated != 0 || again.ParticipantsUpdated != 0 {
				t.Errorf("second import created %d and updated %d participants, want none", again.ParticipantsCreated, again.ParticipantsUpdated)
			}
			for _, s := range again.Samples {
				if !s.Duplicate {
					t.Errorf("second import registered %s anew", s.Where)
				}
			}
		})
	}
}
