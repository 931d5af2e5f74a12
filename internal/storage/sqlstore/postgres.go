package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// rebindCache keeps the $n form of every query, which the hot paths run
// thousands of times per batch.
var rebindCache sync.Map // query with ? -> query with $n

var postgresDialect = func() *dialect {
	sub, err := fs.Sub(postgresMigrations, "migrations/postgres")
	if err != nil {
		panic(err)
	}
	return &dialect{
		name: "postgres",
		rebind: func(q string) string {
			if r, ok := rebindCache.Load(q); ok {
				return r.(string)
			}
			r := rebindDollar(q)
			rebindCache.Store(q, r)
			return r
		},
		// Under READ COMMITTED, a writer that waits for this row lock reads
		// the size its predecessor committed once the lock is granted, and
		// every later statement of its transaction sees that predecessor's
		// rows. Under REPEATABLE READ it would fail with a serialization
		// error instead.
		lockLog:        "SELECT size FROM log_head WHERE id = 1 FOR UPDATE",
		isConflict:     func(err error) bool { return postgresCode(err) == pgUniqueViolation },
		isRetryable:    postgresIsRetryable,
		goose:          goose.DialectPostgres,
		migrations:     sub,
		lockMigrations: lockPostgresMigrations,
		// pgx prepares each query once per connection and caches it, so
		// preparing per transaction would only add round trips.
		prepareInTx: false,
		copyRows:    postgresCopyRows,
	}
}()

// SQLSTATE codes, from the PostgreSQL manual's appendix "PostgreSQL Error
// Codes".
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgInvalidCatalogName   = "3D000" // the database does not exist
)

func postgresCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func postgresIsRetryable(err error) bool {
	code := postgresCode(err)
	return code == pgSerializationFailure || code == pgDeadlockDetected
}

// migrationLockID is the key of the session-level advisory lock that
// migrations hold. Its value is arbitrary but fixed, so every steward
// binary takes the same lock.
const migrationLockID = 0x5374657761726401

// lockPostgresMigrations takes an advisory lock on a connection of its own.
// A second process migrating the same database waits on it, then finds the
// schema already current.
func lockPostgresMigrations(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockID)); err != nil {
		conn.Close()
		return nil, err
	}
	return func() {
		// Closing the connection would release the lock too, but the pool
		// keeps connections open, so unlock explicitly.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockID))
		conn.Close()
	}, nil
}

// postgresCopyRows loads rows with COPY ... FROM STDIN in pgx's binary
// format, on the connection of the running transaction. It spares the
// server parsing and planning a multi-row INSERT.
func postgresCopyRows(ctx context.Context, driverConn any, table string, columns []string, rows [][]any) error {
	c, ok := driverConn.(*stdlib.Conn)
	if !ok {
		return fmt.Errorf("copy into %s: unexpected driver connection %T", table, driverConn)
	}
	_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

// PostgresOptions tune a PostgreSQL store.
type PostgresOptions struct {
	// Migrate upgrades the schema on open; otherwise a schema older or newer
	// than this binary is an error wrapping storage.ErrSchemaVersion.
	Migrate bool
	// MaxConns bounds the open connections of this process. Zero means 16.
	// Every writer waiting for the log lock holds one.
	MaxConns int
}

// OpenPostgres opens the PostgreSQL database at a postgres:// or
// postgresql:// URL, such as postgres://steward@db.example/registry. The
// database must exist; its schema is the one named first in search_path,
// which the URL may set (?search_path=name).
//
// Write transactions run at READ COMMITTED and serialise on a row lock of
// log_head, so appenders in any number of processes get gapless indexes.
// Read transactions run at REPEATABLE READ, so each reads one snapshot.
// Durability is the server's: a commit returns once its WAL record is
// flushed, with the default synchronous_commit=on.
func OpenPostgres(ctx context.Context, dbURL string, opts PostgresOptions) (*Store, error) {
	db, err := openPostgresDB(ctx, dbURL, opts.MaxConns)
	if err != nil {
		return nil, err
	}
	return openChecked(ctx, db, postgresDialect, opts.Migrate)
}

// MigratePostgres upgrades the schema of the PostgreSQL database at dbURL to
// the newest version this binary supports and returns the versions before and
// after.
func MigratePostgres(ctx context.Context, dbURL string) (from, to int64, err error) {
	db, err := openPostgresDB(ctx, dbURL, 2)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	return migrate(ctx, db, postgresDialect)
}

func openPostgresDB(ctx context.Context, dbURL string, maxConns int) (*sql.DB, error) {
	where := RedactURL(dbURL)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("invalid postgres URL %s: %w", where, err)
	}
	if maxConns <= 0 {
		maxConns = 16
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	// Keep idle connections, and with them their prepared statements.
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if postgresCode(err) == pgInvalidCatalogName {
			return nil, fmt.Errorf("open postgres database %s: %w; create it first, for example with createdb", where, err)
		}
		return nil, fmt.Errorf("open postgres database %s: %w", where, err)
	}
	return db, nil
}

// RedactURL returns a database URL fit for messages and logs: any password
// is replaced by xxxxx. A string that does not parse as a URL is replaced
// entirely, since it may be a password.
func RedactURL(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
