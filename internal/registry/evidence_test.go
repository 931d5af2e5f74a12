package registry

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
)

// TestDenseEvidenceMatchesSparse writes the evidence of the same entries
// both ways, looking nodes up per chunk and loading the whole tree, and
// expects the same bytes.
func TestDenseEvidenceMatchesSparse(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		for i := 0; i < 3000; i++ {
			if _, err := w.append("test.filler", map[string]int{"n": i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var indexes []uint64
	for i := uint64(0); i < 3000; i += 3 {
		indexes = append(indexes, i)
	}
	indexes = append(indexes, 2999)
	err = r.Store().View(ctx, func(tx storage.ReadTx) error {
		size, err := tx.LogSize(ctx)
		if err != nil {
			return err
		}
		var sparse, dense bytes.Buffer
		if err := writeEvidence(ctx, tx, release.NewEntryWriter(&sparse), indexes, size); err != nil {
			return err
		}
		if err := writeDenseEvidence(ctx, tx, release.NewEntryWriter(&dense), indexes, size); err != nil {
			return err
		}
		if sparse.Len() == 0 || !bytes.Equal(sparse.Bytes(), dense.Bytes()) {
			return fmt.Errorf("dense evidence (%d bytes) differs from sparse (%d bytes)", dense.Len(), sparse.Len())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
