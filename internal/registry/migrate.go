package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

// Migration is the outcome of MigrateDatabase.
type Migration struct {
	// Database is the database URL with any password redacted.
	Database string
	// From and To are the schema versions before and after. They are equal
	// when the schema was already current.
	From, To int64
}

// MigrateDatabase upgrades the schema of the registry's database in dir, or
// of opts.Database when set, to the newest version this binary supports. A
// schema newer than that is an error wrapping storage.ErrSchemaVersion,
// since migrations only go forward. Several processes may run it at once
// on PostgreSQL; they take turns.
func MigrateDatabase(ctx context.Context, dir string, opts Options) (Migration, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return Migration{}, err
	}
	dbURL := cfg.databaseURL(dir, opts.Database)
	m := Migration{Database: sqlstore.RedactURL(dbURL)}
	switch {
	case strings.HasPrefix(dbURL, "sqlite://"):
		m.From, m.To, err = sqlstore.MigrateSQLite(ctx, strings.TrimPrefix(dbURL, "sqlite://"))
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		m.From, m.To, err = sqlstore.MigratePostgres(ctx, dbURL)
	default:
		err = fmt.Errorf("unsupported database URL %q: use sqlite:///path/registry.db or postgres://user@host/database", m.Database)
	}
	return m, err
}
