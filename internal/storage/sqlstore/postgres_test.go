package sqlstore

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
	"github.com/steward-rehab/steward/internal/storage/storagetest"
)

func openTestPostgres(t *testing.T) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), pgtest.URL(t), PostgresOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgresConformance(t *testing.T) {
	pgtest.BaseURL(t)
	storagetest.Run(t, func(t *testing.T) storage.Store { return openTestPostgres(t) })
}

func TestRedactURL(t *testing.T) {
	for _, raw := range []string{
		"postgres://steward:hunter2@db.example/registry",
		"postgresql://steward@db.example/registry?password=hunter2&sslmode=require",
		"postgres://steward:hunter2@db.example:5432/registry?password=hunter2",
	} {
		got := RedactURL(raw)
		if strings.Contains(got, "hunter2") {
			t.Errorf("RedactURL(%q) = %q, which contains the password", raw, got)
		}
		if !strings.Contains(got, "db.example") {
			t.Errorf("RedactURL(%q) = %q, which lost the host", raw, got)
		}
	}
}

// TestPostgresMissingDatabase opens a database that does not exist, with a
// password in the URL: the error names createdb and does not contain the
// password.
func TestPostgresMissingDatabase(t *testing.T) {
	base, err := url.Parse(pgtest.BaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	base.Path = "/steward_absent_" + strconv.Itoa(os.Getpid())
	base.User = url.UserPassword(base.User.Username(), "hunter2")
	_, err = OpenPostgres(context.Background(), base.String(), PostgresOptions{})
	if err == nil {
		t.Fatal("opening a missing database succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q contains the password", err)
	}
	// With password authentication the server may reject the login
	// before it looks for the database.
	if !strings.Contains(err.Error(), "createdb") && !strings.Contains(err.Error(), "password") {
		t.Errorf("error %q neither says to create the database nor names a login failure", err)
	}
}

// TestPostgresDeadlockRetried makes two transactions lock two rows in
// opposite orders. PostgreSQL aborts one with a deadlock error, and Update
// must run that one again instead of returning the error.
func TestPostgresDeadlockRetried(t *testing.T) {
	ctx := context.Background()
	s := openTestPostgres(t)
	defer s.Close()
	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, p := range []string{"p-a", "p-b"} {
			if err := tx.InsertParticipant(ctx, storage.Participant{Pseudonym: p, Namespace: "ns", SourceID: p, Salt: []byte("s")}, []byte("k")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Each transaction locks its first row, waits until the other has
	// locked its first row too, then asks for the other's row.
	var attempts [2]atomic.Int32
	var locked sync.WaitGroup
	locked.Add(2)
	update := func(i int, first, second string) error {
		return s.Update(ctx, func(tx storage.Tx) error {
			n := attempts[i].Add(1)
			if err := tx.UpdateAttributes(ctx, first, participant.Attributes{Condition: "x"}, []byte("s")); err != nil {
				return err
			}
			if n == 1 {
				locked.Done()
				locked.Wait()
			}
			return tx.UpdateAttributes(ctx, second, participant.Attributes{Condition: "y"}, []byte("s"))
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- update(0, "p-a", "p-b") }()
	go func() { errs <- update(1, "p-b", "p-a") }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("update: %v", err)
		}
	}
	if total := attempts[0].Load() + attempts[1].Load(); total != 3 {
		t.Errorf("the two transactions ran %d times in all, want 3: one of them once more after the deadlock", total)
	}
}

func TestPostgresErrorClasses(t *testing.T) {
	cases := []struct {
		code                string
		conflict, retryable bool
	}{
		{"23505", true, false},
		{"40001", false, true},
		{"40P01", false, true},
		{"23503", false, false},
	}
	for _, c := range cases {
		err := fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: c.code})
		if got := postgresDialect.isConflict(err); got != c.conflict {
			t.Errorf("isConflict(SQLSTATE %s) = %v, want %v", c.code, got, c.conflict)
		}
		if got := postgresDialect.isRetryable(err); got != c.retryable {
			t.Errorf("isRetryable(SQLSTATE %s) = %v, want %v", c.code, got, c.retryable)
		}
	}
}
