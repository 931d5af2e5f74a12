package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/storagetest"
)

func TestSQLiteConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "registry.db"), SQLiteOptions{Create: true, Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLiteRefusesOldSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := OpenSQLite(ctx, path, SQLiteOptions{Create: true, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	// Roll the schema back one version, as an older binary would have left it.
	if _, err := s.DB().ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = OpenSQLite(ctx, path, SQLiteOptions{})
	if !errors.Is(err, storage.ErrSchemaVersion) {
		t.Fatalf("open with an old schema: %v, want ErrSchemaVersion", err)
	}
	t.Log(err)
}

func TestSQLiteMissingFile(t *testing.T) {
	_, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "absent.db"), SQLiteOptions{})
	if err == nil {
		t.Fatal("opening a missing database without Create succeeded")
	}
}
