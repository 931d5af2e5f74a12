// Package sqlstore implements storage.Store over database/sql. One file per
// engine (sqlite.go, postgres.go) supplies the driver, the SQL dialect, the
// migrations and the error classification; the queries are shared.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/steward-rehab/steward/internal/storage"
)

// dialect is what differs between engines.
type dialect struct {
	name string
	// rebind rewrites ? placeholders into the engine's form.
	rebind func(query string) string
	// lockLog selects the log size and locks the log head row.
	lockLog string
	// isConflict reports a unique or primary key violation.
	isConflict func(error) bool
	// isRetryable reports a serialization failure, deadlock or busy database
	// after which the whole transaction can be run again.
	isRetryable func(error) bool
	goose       goose.Dialect
	migrations  fs.FS
	// serialWrites makes one process run one write transaction at a time,
	// which SQLite needs to avoid busy waiting between its own connections.
	serialWrites bool
	// prepareInTx prepares each query once per transaction. Engines whose
	// driver caches prepared statements per connection leave it false, so
	// a statement is parsed once per connection instead of once per
	// transaction.
	prepareInTx bool
	// lockMigrations, if set, makes concurrent migrations of one database
	// wait for each other. It returns the function that releases the lock.
	lockMigrations func(ctx context.Context, db *sql.DB) (unlock func(), err error)
	// copyRows, if set, bulk-loads rows into a table on the driver's
	// connection of the current transaction, for inserts of copyMinRows
	// rows or more.
	copyRows func(ctx context.Context, driverConn any, table string, columns []string, rows [][]any) error
}

// copyMinRows is the fewest rows that insertRows loads with copyRows: a few
// rows cost less as one INSERT.
const copyMinRows = 16

// Store is a storage.Store on a SQL database.
type Store struct {
	db      *sql.DB
	d       *dialect
	writeMu sync.Mutex
}

var _ storage.Store = (*Store)(nil)

const maxAttempts = 8

// Update implements storage.Store.
func (s *Store) Update(ctx context.Context, fn func(storage.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.update(ctx, fn)
		if err == nil || !s.d.isRetryable(err) || attempt == maxAttempts {
			return err
		}
		// Back off with jitter so that colliding writers spread out.
		delay := time.Duration(attempt*attempt)*5*time.Millisecond + time.Duration(rand.IntN(5000))*time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func (s *Store) update(ctx context.Context, fn func(storage.Tx) error) (err error) {
	if s.d.serialWrites {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	// An engine that bulk-loads needs the transaction's connection.
	var conn *sql.Conn
	var sqlTx *sql.Tx
	if s.d.copyRows != nil {
		if conn, err = s.db.Conn(ctx); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		defer conn.Close()
		sqlTx, err = conn.BeginTx(ctx, nil)
	} else {
		sqlTx, err = s.db.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(&tx{q: sqlTx, d: s.d, conn: conn}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// View implements storage.Store.
func (s *Store) View(ctx context.Context, fn func(storage.ReadTx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.view(ctx, fn)
		if err == nil || !s.d.isRetryable(err) || attempt == maxAttempts {
			return err
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
}

func (s *Store) view(ctx context.Context, fn func(storage.ReadTx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.name == "postgres" {
		// One snapshot for the whole function.
		opts.Isolation = sql.LevelRepeatableRead
	}
	sqlTx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer sqlTx.Rollback()
	return fn(&tx{q: sqlTx, d: s.d})
}

// Close implements storage.Store.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database handle, for backups and tests.
func (s *Store) DB() *sql.DB { return s.db }

// tx implements storage.Tx on one database transaction.
type tx struct {
	q *sql.Tx
	d *dialect
	// stmts caches prepared statements for the transaction's lifetime: a
	// batch runs the same few queries thousands of times, and preparing one
	// costs more than running it. Committing or rolling back closes them.
	stmts map[string]*sql.Stmt
	// conn is the transaction's connection when the engine bulk-loads.
	conn *sql.Conn
}

// insertRows inserts rows into table: with the engine's bulk load when it
// has one and there are enough rows, else with INSERT statements of up to
// batchRows rows each.
func (t *tx) insertRows(ctx context.Context, table string, columns []string, rows [][]any) error {
	if t.conn != nil && len(rows) >= copyMinRows {
		err := t.conn.Raw(func(driverConn any) error {
			return t.d.copyRows(ctx, driverConn, table, columns, rows)
		})
		if err != nil && t.d.isConflict(err) {
			return fmt.Errorf("%w: %v", storage.ErrConflict, err)
		}
		return err
	}
	prefix := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	for i := 0; i < len(rows); i += batchRows {
		chunk := rows[i:min(i+batchRows, len(rows))]
		args := make([]any, 0, len(columns)*len(chunk))
		for _, row := range chunk {
			args = append(args, row...)
		}
		if _, err := t.exec(ctx, prefix+placeholders(len(chunk), len(columns)), args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	st, err := t.q.PrepareContext(ctx, t.d.rebind(query))
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = st
	return st, nil
}

var _ storage.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if t.d.prepareInTx {
		var st *sql.Stmt
		if st, err = t.stmt(ctx, query); err != nil {
			return nil, err
		}
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = t.q.ExecContext(ctx, t.d.rebind(query), args...)
	}
	if err != nil && t.d.isConflict(err) {
		return nil, fmt.Errorf("%w: %v", storage.ErrConflict, err)
	}
	return res, err
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !t.d.prepareInTx {
		return t.q.QueryContext(ctx, t.d.rebind(query), args...)
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a query expected to return at most one row.
func (t *tx) queryRow(ctx context.Context, query string, args ...any) scanner {
	if !t.d.prepareInTx {
		return t.q.QueryRowContext(ctx, t.d.rebind(query), args...)
	}
	st, err := t.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow is a row whose Scan returns the error that prevented the query.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// notFound turns sql.ErrNoRows into storage.ErrNotFound naming what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, storage.ErrNotFound)
	}
	return err
}

// timeFormat is fixed-width so that stored times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w: %w", s, storage.ErrCorrupt, err)
	}
	return t, nil
}

// rebindDollar rewrites ? placeholders as $1, $2, ... Queries in this
// package never contain a literal question mark.
func rebindDollar(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// migrate brings the schema to the newest version this binary supports and
// returns the versions before and after. A schema newer than this binary is
// an error wrapping storage.ErrSchemaVersion: migrations only go forward.
func migrate(ctx context.Context, db *sql.DB, d *dialect) (from, to int64, err error) {
	if d.lockMigrations != nil {
		unlock, err := d.lockMigrations(ctx, db)
		if err != nil {
			return 0, 0, fmt.Errorf("lock %s schema for migration: %w", d.name, err)
		}
		defer unlock()
	}
	p, err := goose.NewProvider(d.goose, db, d.migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, 0, fmt.Errorf("load %s migrations: %w", d.name, err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s schema version: %w", d.name, err)
	}
	if current > target {
		return current, current, newerSchemaError(current, target)
	}
	if _, err := p.Up(ctx); err != nil {
		return current, current, fmt.Errorf("migrate %s schema from version %d: %w", d.name, current, err)
	}
	return current, target, nil
}

// checkVersion returns storage.ErrSchemaVersion unless the database schema is
// exactly the newest version this binary knows.
func checkVersion(ctx context.Context, db *sql.DB, d *dialect) error {
	p, err := goose.NewProvider(d.goose, db, d.migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("load %s migrations: %w", d.name, err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("read %s schema version: %w", d.name, err)
	}
	switch {
	case current < target:
		return fmt.Errorf("%w: the database schema is version %d and this steward needs %d; run `steward migrate` to upgrade it",
			storage.ErrSchemaVersion, current, target)
	case current > target:
		return newerSchemaError(current, target)
	}
	return nil
}

func newerSchemaError(current, target int64) error {
	return fmt.Errorf("%w: the database schema is version %d, newer than the %d this steward knows; install the newer steward that wrote it",
		storage.ErrSchemaVersion, current, target)
}

// openChecked finishes opening a database: it migrates the schema when
// migrateOnOpen is set and otherwise requires the newest version.
func openChecked(ctx context.Context, db *sql.DB, d *dialect, migrateOnOpen bool) (*Store, error) {
	var err error
	if migrateOnOpen {
		_, _, err = migrate(ctx, db, d)
	} else {
		err = checkVersion(ctx, db, d)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, d: d}, nil
}

// SchemaVersions returns the database's schema version and the newest this
// binary knows.
func (s *Store) SchemaVersions(ctx context.Context) (current, target int64, err error) {
	p, err := goose.NewProvider(s.d.goose, s.db, s.d.migrations, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}
