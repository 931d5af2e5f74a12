package sqlstore

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

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
