package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
	"github.com/steward-rehab/steward/internal/storage/storagetest"
)

// Environment of a debit child process, set by runDebitRace.
const (
	childDatabase = "STEWARD_LEDGER_CHILD_DB"   // sqlite:PATH or a postgres URL
	childName     = "STEWARD_LEDGER_CHILD_NAME" // names the child's transfer
	childBarrier  = "STEWARD_LEDGER_CHILD_DIR"  // folder of the ready and go files
)

// TestLedgerDebitChild is the body of a child process of runDebitRace. It
// opens the database, reports that it is ready, waits for the go file and
// posts 80 from participant:p-race, then prints posted or insufficient.
func TestLedgerDebitChild(t *testing.T) {
	db := os.Getenv(childDatabase)
	if db == "" {
		t.Skip("runs only as a child process of the ledger race tests")
	}
	ctx := context.Background()
	s, err := openURL(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name, dir := os.Getenv(childName), os.Getenv(childBarrier)
	tr := storagetest.Transfer(name, ledger.PhasePosted, ledger.ParticipantAccount("p-race"), ledger.Payable, 80)
	tr.EventIndex = uint64(1_000_000 + os.Getpid())

	// Warm the connection up, so both children are past connecting when
	// they start.
	if err := s.View(ctx, func(tx storage.ReadTx) error { _, err := tx.LogSize(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ready-"+name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	err = s.Update(ctx, func(tx storage.Tx) error { return tx.InsertTransfers(ctx, []ledger.Transfer{tr}) })
	switch {
	case err == nil:
		fmt.Println("result: posted")
	case errors.Is(err, ledger.ErrInsufficientFunds):
		fmt.Println("result: insufficient")
	default:
		t.Fatal(err)
	}
}

func openURL(ctx context.Context, db string) (*Store, error) {
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		return OpenSQLite(ctx, path, SQLiteOptions{})
	}
	return OpenPostgres(ctx, db, PostgresOptions{})
}

// runDebitRace funds participant:p-race with 100 and starts two processes
// that each post 80 from it at the same moment. Exactly one may succeed,
// the other must fail as insufficient funds, and the balance must be 20.
func runDebitRace(t *testing.T, s *Store, db string) {
	ctx := context.Background()
	fund := storagetest.Transfer("fund", ledger.PhasePosted, ledger.Clinic, ledger.ParticipantAccount("p-race"), 100)
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.InsertTransfers(ctx, []ledger.Transfer{fund}) }); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	var children []*exec.Cmd
	var outputs []*strings.Builder
	for _, name := range []string{"first", "second"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerDebitChild$", "-test.v")
		cmd.Env = append(os.Environ(), childDatabase+"="+db, childName+"="+name, childBarrier+"="+dir)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children, outputs = append(children, cmd), append(outputs, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range []string{"first", "second"} {
		for {
			if _, err := os.Stat(filepath.Join(dir, "ready-"+name)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("child %s did not get ready", name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	results := map[string]int{}
	for i, cmd := range children {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outputs[i])
		}
		switch {
		case strings.Contains(outputs[i].String(), "result: posted"):
			results["posted"]++
		case strings.Contains(outputs[i].String(), "result: insufficient"):
			results["insufficient"]++
		default:
			t.Fatalf("child %d printed no result:\n%s", i, outputs[i])
		}
	}
	if results["posted"] != 1 || results["insufficient"] != 1 {
		t.Errorf("results %v, want one posted and one rejected as insufficient funds", results)
	}
	var balance int64
	err := s.View(ctx, func(tx storage.ReadTx) error {
		a, err := tx.Account(ctx, ledger.ParticipantAccount("p-race"), "EUR")
		balance = a.Balance()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if balance != 20 {
		t.Errorf("balance %d, want 20", balance)
	}
}

func TestLedgerDebitRaceSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := OpenSQLite(context.Background(), path, SQLiteOptions{Create: true, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runDebitRace(t, s, "sqlite:"+path)
}

func TestLedgerDebitRacePostgres(t *testing.T) {
	url := pgtest.URL(t)
	s, err := OpenPostgres(context.Background(), url, PostgresOptions{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runDebitRace(t, s, url)
}
