package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
)

// engine opens one empty database of an engine in the ways the schema
// version checks need.
type engine struct {
	name string
	// newDB makes an empty database and returns functions that open it and
	// migrate it.
	newDB func(t *testing.T) (open func(migrate bool) (*Store, error), migrate func() (int64, int64, error))
}

func engines() []engine {
	ctx := context.Background()
	return []engine{
		{"sqlite", func(t *testing.T) (func(bool) (*Store, error), func() (int64, int64, error)) {
			path := filepath.Join(t.TempDir(), "registry.db")
			open := func(migrate bool) (*Store, error) {
				return OpenSQLite(ctx, path, SQLiteOptions{Create: true, Migrate: migrate})
			}
			return open, func() (int64, int64, error) { return MigrateSQLite(ctx, path) }
		}},
		{"postgres", func(t *testing.T) (func(bool) (*Store, error), func() (int64, int64, error)) {
			url := pgtest.URL(t)
			open := func(migrate bool) (*Store, error) {
				return OpenPostgres(ctx, url, PostgresOptions{Migrate: migrate})
			}
			return open, func() (int64, int64, error) { return MigratePostgres(ctx, url) }
		}},
	}
}

// TestSchemaVersionOlder opens a database whose schema is older than the
// binary, here an empty one at version 0: open without Migrate rejects it
// and names `steward migrate`, which then upgrades it.
func TestSchemaVersionOlder(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			open, migrate := e.newDB(t)
			_, err := open(false)
			if !errors.Is(err, storage.ErrSchemaVersion) {
				t.Fatalf("open of an empty database: %v, want ErrSchemaVersion", err)
			}
			if !strings.Contains(err.Error(), "run `steward migrate`") {
				t.Errorf("error %q does not name steward migrate", err)
			}

			from, to, err := migrate()
			if err != nil {
				t.Fatal(err)
			}
			if from != 0 || to < 1 {
				t.Errorf("migrate reported versions %d to %d, want 0 to 1 or more", from, to)
			}
			again, to2, err := migrate()
			if err != nil {
				t.Fatal(err)
			}
			if again != to || to2 != to {
				t.Errorf("second migrate reported %d to %d, want %d to %d", again, to2, to, to)
			}

			s, err := open(false)
			if err != nil {
				t.Fatalf("open after migrate: %v", err)
			}
			s.Close()
		})
	}
}

// TestSchemaVersionNewer opens a database that a newer binary migrated past
// the versions this one supports: open and migrate both reject it.
func TestSchemaVersionNewer(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			open, migrate := e.newDB(t)
			s, err := open(true)
			if err != nil {
				t.Fatal(err)
			}
			_, target, err := s.SchemaVersions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Record one more migration, as a newer binary would have.
			_, err = s.DB().ExecContext(ctx, s.d.rebind("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)"), target+1, true)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()

			for _, migrateOnOpen := range []bool{false, true} {
				_, err = open(migrateOnOpen)
				if !errors.Is(err, storage.ErrSchemaVersion) {
					t.Fatalf("open (migrate %v) of a newer schema: %v, want ErrSchemaVersion", migrateOnOpen, err)
				}
				if !strings.Contains(err.Error(), "install the newer steward") {
					t.Errorf("error %q does not say to install the newer steward", err)
				}
			}
			if _, _, err := migrate(); !errors.Is(err, storage.ErrSchemaVersion) {
				t.Fatalf("migrate of a newer schema: %v, want ErrSchemaVersion", err)
			}
		})
	}
}
