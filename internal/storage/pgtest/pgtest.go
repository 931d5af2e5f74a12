// Package pgtest gives tests a PostgreSQL schema of their own on the server
// that the environment variable STEWARD_TEST_POSTGRES names. Without the
// variable the tests that need PostgreSQL skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvVar names the environment variable that holds the URL of the test
// database, such as postgres://postgres@127.0.0.1:5432/steward_ci?sslmode=disable.
const EnvVar = "STEWARD_TEST_POSTGRES"

// BaseURL returns the URL in STEWARD_TEST_POSTGRES, or skips the test when
// the variable is not set.
func BaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		t.Skipf("%s is not set: set it to a PostgreSQL URL, such as postgres://postgres@127.0.0.1:5432/steward_ci?sslmode=disable, to run the PostgreSQL tests", EnvVar)
	}
	return base
}

// URL creates an empty schema for one test in the database named by
// STEWARD_TEST_POSTGRES, creating that database if it does not exist, and
// returns a URL whose search_path selects the schema. The schema is dropped
// when the test ends. Without the variable the test is skipped.
func URL(t testing.TB) string {
	t.Helper()
	base := BaseURL(t)
	ctx := context.Background()
	conn, err := connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)

	var suffix [6]byte
	rand.Read(suffix[:])
	schema := "steward_test_" + hex.EncodeToString(suffix[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		conn, err := connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("invalid %s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// KeptURL is URL for a schema that outlives the test, created if it does not
// exist: benchmarks keep large fixtures in one between runs.
func KeptURL(t testing.TB, schema string) string {
	t.Helper()
	base := BaseURL(t)
	ctx := context.Background()
	conn, err := connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("invalid %s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// connect connects to the database at rawURL, first creating it through the
// server's postgres database if it does not exist.
func connect(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, rawURL)
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != "3D000" {
		return conn, err
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	admin.Close(ctx)
	// 42P04: another test process created it first.
	if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") {
		return nil, err
	}
	return pgx.Connect(ctx, rawURL)
}
