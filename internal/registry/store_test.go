package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

// testEngine is a database engine the registry tests run on.
type testEngine struct {
	name string
	// database returns the --db URL of a new, empty database for one test,
	// or "" for the registry's default SQLite file. It skips the test when
	// the engine is not available.
	database func(t *testing.T) string
}

func testEngines() []testEngine {
	return []testEngine{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
	}
}

// initRegistry creates a registry on the given database URL ("" for
// SQLite) in a new folder and returns the folder and the open registry.
func initRegistry(t *testing.T, database string) (string, *Registry) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "reg")
	r, err := Init(context.Background(), dir, InitOptions{Options: Options{Database: database}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return dir, r
}

func TestRegistryOnEachEngine(t *testing.T) {
	ctx := context.Background()
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			dir, r := initRegistry(t, e.database(t))
			batch := &Batch{Samples: []SampleInput{
				voiceSample("P017", wavBytes(16000, 1600, 1), 16000),
				voiceSample("P018", wavBytes(16000, 800, 2), 16000),
			}}
			rep, err := r.Register(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Samples) != 2 || rep.ParticipantsCreated != 2 {
				t.Fatalf("report %+v, want 2 samples and 2 participants", rep)
			}
			r.Close()

			// Reopen from steward.json, which now names the database.
			r, err = Open(ctx, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			again, err := r.Register(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range again.Samples {
				if !s.Duplicate || s.EventIndex != rep.Samples[i].EventIndex {
					t.Errorf("second registration of %s: %+v, want a duplicate at index %d", s.Where, s, rep.Samples[i].EventIndex)
				}
			}
			logRep, err := r.VerifyLog(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.VerifyContent(ctx, logRep); err != nil {
				t.Fatal(err)
			}
			if len(logRep.Problems) > 0 {
				t.Fatalf("content verification: %v", logRep.Problems)
			}
		})
	}
}

func TestMigrateDatabase(t *testing.T) {
	ctx := context.Background()
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			dir, r := initRegistry(t, e.database(t))
			r.Close()

			m, err := MigrateDatabase(ctx, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if m.From != m.To || m.To < 1 {
				t.Errorf("migrate of a current schema reported %d to %d, want equal versions of 1 or more", m.From, m.To)
			}

			// Record a migration this binary lacks, as a newer steward would.
			s, err := OpenStore(ctx, Config{}.databaseURL(dir, readDatabase(t, dir)), false, false)
			if err != nil {
				t.Fatal(err)
			}
			db := s.(*sqlstore.Store).DB()
			if _, err := db.ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)"); err != nil {
				t.Fatal(err)
			}
			s.Close()

			if _, err := MigrateDatabase(ctx, dir, Options{}); !errors.Is(err, storage.ErrSchemaVersion) {
				t.Errorf("migrate of a newer schema: %v, want ErrSchemaVersion", err)
			}
			_, err = Open(ctx, dir, Options{})
			if !errors.Is(err, storage.ErrSchemaVersion) {
				t.Fatalf("open of a newer schema: %v, want ErrSchemaVersion", err)
			}
			if !strings.Contains(err.Error(), "install the newer steward") {
				t.Errorf("error %q does not say to install the newer steward", err)
			}
		})
	}
}

// readDatabase returns the database URL in a registry's steward.json.
func readDatabase(t *testing.T, dir string) string {
	t.Helper()
	cfg, err := readConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func TestOpenStoreHidesPassword(t *testing.T) {
	ctx := context.Background()
	for _, dbURL := range []string{
		"postgre://steward:hunter2@db.example/registry",
		"postgres://steward:hunter2@127.0.0.1:1/registry?connect_timeout=1",
	} {
		_, err := OpenStore(ctx, dbURL, false, false)
		if err == nil {
			t.Fatalf("OpenStore(%q) succeeded", dbURL)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("OpenStore(%q) error %q contains the password", dbURL, err)
		}
	}
}
