package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

var sqliteDialect = func() *dialect {
	sub, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		panic(err)
	}
	return &dialect{
		name:         "sqlite",
		rebind:       func(q string) string { return q },
		lockLog:      "SELECT size FROM log_head WHERE id = 1",
		isConflict:   sqliteIsConflict,
		isRetryable:  sqliteIsBusy,
		goose:        goose.DialectSQLite3,
		migrations:   sub,
		serialWrites: true,
		prepareInTx:  true,
	}
}()

func sqliteCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	return 0, false
}

func sqliteIsConflict(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func sqliteIsBusy(err error) bool {
	code, ok := sqliteCode(err)
	return ok && (code&0xff == sqlite3.SQLITE_BUSY || code&0xff == sqlite3.SQLITE_LOCKED)
}

// SQLiteOptions tune an SQLite store.
type SQLiteOptions struct {
	// Create allows a new database file to be made; otherwise the file must
	// exist.
	Create bool
	// Migrate upgrades the schema on open; otherwise a schema older or newer
	// than this binary is an error wrapping storage.ErrSchemaVersion.
	Migrate bool
}

// OpenSQLite opens the SQLite database at path.
//
// Transactions that write start with BEGIN IMMEDIATE, so they take SQLite's
// write lock first and never fail half-way on a lock upgrade. The journal is
// a write-ahead log with synchronous=FULL: a committed transaction survives
// a power cut.
func OpenSQLite(ctx context.Context, path string, opts SQLiteOptions) (*Store, error) {
	db, err := openSQLiteDB(ctx, path, opts.Create)
	if err != nil {
		return nil, err
	}
	return openChecked(ctx, db, sqliteDialect, opts.Migrate)
}

// MigrateSQLite upgrades the schema of the SQLite database at path to the
// newest version this binary supports and returns the versions before and
// after.
func MigrateSQLite(ctx context.Context, path string) (from, to int64, err error) {
	db, err := openSQLiteDB(ctx, path, false)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	return migrate(ctx, db, sqliteDialect)
}

func openSQLiteDB(ctx context.Context, path string, create bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	// Reading pages through a memory map instead of one read call each, and
	// caching 64 MiB of them per connection, makes the long scans of release
	// builds and log verification several times faster.
	q.Add("_pragma", "mmap_size(1073741824)")
	q.Add("_pragma", "cache_size(-65536)")
	q.Set("_txlock", "immediate")
	if !create {
		q.Set("mode", "rw")
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return db, nil
}

// Backup writes a consistent copy of the live database to path with VACUUM
// INTO, while other connections keep reading and writing.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.d.name != "sqlite" {
		return fmt.Errorf("backup is implemented for sqlite only; use the engine's own tools for %s", s.d.name)
	}
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("back up database to %s: %w", path, err)
	}
	return nil
}
