package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

// TestKilledWriter kills one of two writer processes with SIGKILL in the
// middle of its import. The other must finish. Every batch the killed one
// committed must be stored whole, and no other batch of it partly, and the
// log and every recording must verify. Running the killed import again
// must complete it and report the samples stored before as duplicates at
// their original indexes.
func TestKilledWriter(t *testing.T) {
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			dir, r := initRegistry(t, e.database(t))
			ctx := context.Background()
			victimSpec := writerSpec{Dir: dir, Name: "victim", Clients: 1, Batches: 20, BatchSize: 40}
			survivorSpec := writerSpec{Dir: dir, Name: "survivor", Clients: 1, Batches: 6, BatchSize: 40}
			victim := startWriter(t, victimSpec)
			survivor := startWriter(t, survivorSpec)

			// Kill the victim once it has committed two batches, at a random
			// point of the batches that follow.
			var beforeKill []committedBatch
			for b := range victim.batches {
				beforeKill = append(beforeKill, b)
				if len(beforeKill) == 2 {
					break
				}
			}
			if len(beforeKill) < 2 {
				_, err := victim.wait()
				t.Fatalf("the victim ended before it committed two batches: %v", err)
			}
			midTransaction := false
			if e.name == "postgres" {
				midTransaction = awaitWriteTransaction(t, r, "steward-victim")
			} else {
				time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			}
			if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			rest, err := victim.wait()
			if err == nil {
				t.Fatal("the victim finished its import before it was killed: give it more batches")
			}
			killed := append(beforeKill, rest...)
			t.Logf("killed the victim after %d committed batches, inside a write transaction: %v", len(killed), midTransaction)

			survived, err := survivor.wait()
			if err != nil {
				t.Fatalf("the other writer failed after the kill: %v", err)
			}
			if len(survived) != survivorSpec.Batches {
				t.Fatalf("the other writer committed %d batches, want %d", len(survived), survivorSpec.Batches)
			}

			// Every batch is stored whole or not at all. The victim may have
			// committed one batch more than it reported, if the kill came
			// between its commit and its report.
			counts := samplesPerBatch(t, r)
			for _, b := range append(killed, survived...) {
				if counts[b.Batch] != len(b.Samples) {
					t.Errorf("committed batch %s has %d samples stored, want %d", b.Batch, counts[b.Batch], len(b.Samples))
				}
			}
			for batch, n := range counts {
				if n != victimSpec.BatchSize {
					t.Errorf("batch %s is half-written: %d of %d samples stored", batch, n, victimSpec.BatchSize)
				}
			}
			reported := len(killed) + len(survived)
			if len(counts) != reported && len(counts) != reported+1 {
				t.Errorf("%d batches stored, %d reported committed", len(counts), reported)
			}
			before := checkCommitted(t, r, append(killed, survived...))
			verifyLogAndContent(t, r)

			// Run the killed import again: it completes, and the samples
			// stored before come back as duplicates at their indexes.
			rerun, err := startWriter(t, victimSpec).wait()
			if err != nil {
				t.Fatalf("rerun of the killed import: %v", err)
			}
			if len(rerun) != victimSpec.Batches {
				t.Fatalf("the rerun committed %d batches, want %d", len(rerun), victimSpec.Batches)
			}
			for _, b := range rerun {
				for _, s := range b.Samples {
					idx, ok := before[s.ID]
					if ok && (!s.Duplicate || s.Index != idx) {
						t.Errorf("sample %s stored before the rerun at index %d came back as %+v", s.ID, idx, s)
					}
					if !ok && s.Duplicate {
						t.Errorf("sample %s came back as a duplicate, but it was not stored", s.ID)
					}
				}
			}
			counts = samplesPerBatch(t, r)
			for b := range victimSpec.Batches {
				name := batchName("victim", 0, b)
				if counts[name] != victimSpec.BatchSize {
					t.Errorf("after the rerun batch %s has %d samples, want %d", name, counts[name], victimSpec.BatchSize)
				}
			}
			after := checkCommitted(t, r, append(rerun, survived...))
			if want := (victimSpec.Batches + survivorSpec.Batches) * victimSpec.BatchSize; len(after) != want {
				t.Errorf("%d samples stored after the rerun, want %d", len(after), want)
			}
			verifyLogAndContent(t, r)

			// What the killed writer left in the blob store is garbage that
			// collection removes without touching a referenced recording.
			if _, err := r.CollectGarbage(ctx, 0); err != nil {
				t.Fatal(err)
			}
			verifyLogAndContent(t, r)
		})
	}
}

// samplesPerBatch counts the stored samples of each writer batch, which
// writers name in each sample's source.
func samplesPerBatch(t *testing.T, r *Registry) map[string]int {
	t.Helper()
	ctx := context.Background()
	counts := map[string]int{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		return tx.Samples(ctx, storage.SampleFilter{}, func(s storage.Sample) error {
			batch, ok := s.Source["batch"]
			if !ok {
				return fmt.Errorf("sample %s names no writer batch", s.ID)
			}
			counts[batch]++
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// awaitWriteTransaction waits until a PostgreSQL connection named
// application has a transaction ID, which a registration gets when it locks
// the log head row, and reports whether it saw one within three seconds.
func awaitWriteTransaction(t *testing.T, r *Registry, application string) bool {
	t.Helper()
	db := r.Store().(*sqlstore.Store).DB()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND backend_xid IS NOT NULL", application).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}
