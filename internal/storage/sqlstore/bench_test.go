package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
	"github.com/steward-rehab/steward/internal/tlog"
)

// benchLog returns a store of the engine holding a log of n entries, built
// once and kept between runs (SQLite in the temporary folder, PostgreSQL in
// a schema of its own): building ten million entries takes many minutes.
func benchLog(b *testing.B, engine string, n uint64) storage.Store {
	b.Helper()
	ctx := context.Background()
	var s *Store
	var err error
	switch engine {
	case "sqlite":
		path := filepath.Join(os.TempDir(), fmt.Sprintf("steward-bench-log-%d.db", n))
		s, err = OpenSQLite(ctx, path, SQLiteOptions{Create: true, Migrate: true})
	case "postgres":
		s, err = OpenPostgres(ctx, pgtest.KeptURL(b, fmt.Sprintf("steward_bench_log_%d", n)), PostgresOptions{Migrate: true})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var size uint64
	s.View(ctx, func(tx storage.ReadTx) error { size, err = tx.LogSize(ctx); return err })
	if size > n {
		b.Fatalf("the kept %s log holds %d entries, more than %d: delete it", engine, size, n)
	}
	if size == n {
		return s
	}
	// Entries shaped like sample.registered events, about 500 bytes each.
	const batch = 20000
	for size < n {
		err := s.Update(ctx, func(tx storage.Tx) error {
			start, err := tx.LockLog(ctx)
			if err != nil {
				return err
			}
			app, err := tlog.NewAppender(ctx, tx, start)
			if err != nil {
				return err
			}
			count := min(batch, n-start)
			entries := make([][]byte, count)
			for i := range entries {
				entries[i] = fmt.Appendf(nil, `{"data":{"digest":"sha256:%064x","participant":"p-%013d","sample":"s-%020d","size":123456},"time":"2025-01-01T00:00:00Z","type":"sample.registered","v":1}`,
					start+uint64(i), (start+uint64(i))%100000, start+uint64(i))
				if _, _, err := app.Append(entries[i]); err != nil {
					return err
				}
			}
			size = start + count
			return tx.AppendEntries(ctx, start, entries, app.TakeNodes())
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkInclusionProof computes and verifies the inclusion proof of a
// random entry in a log of 1 million events (and of 10 million with
// STEWARD_BENCH_HUGE=1), each in its own read transaction, as a server
// answering a proof request does.
func BenchmarkInclusionProof(b *testing.B) {
	sizes := []uint64{1_000_000}
	if os.Getenv("STEWARD_BENCH_HUGE") != "" {
		sizes = append(sizes, 10_000_000)
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("engine=%s/events=%d", engine, n), func(b *testing.B) {
				benchInclusionProof(b, benchLog(b, engine, n), n)
			})
		}
	}
}

func benchInclusionProof(b *testing.B, s storage.Store, n uint64) {
	ctx := context.Background()
	var root []byte
	err := s.View(ctx, func(tx storage.ReadTx) error {
		var err error
		root, err = tlog.RootAt(ctx, tx, n)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		idx := rng.Uint64N(n)
		err := s.View(ctx, func(tx storage.ReadTx) error {
			proof, err := tlog.InclusionProof(ctx, tx, idx, n)
			if err != nil {
				return err
			}
			var leaf []byte
			err = tx.EntriesAt(ctx, []uint64{idx}, func(_ uint64, e []byte) error { leaf = tlog.LeafHash(e); return nil })
			if err != nil {
				return err
			}
			return tlog.VerifyInclusion(idx, n, leaf, proof, root)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
