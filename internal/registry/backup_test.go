package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/storagetest"
)

func latestCheckpoint(t *testing.T, r *Registry) storage.Checkpoint {
	t.Helper()
	var cp storage.Checkpoint
	err := r.Store().View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		cp, err = tx.LatestCheckpoint(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// restoreAndOpen restores a backup into a new folder and opens it.
func restoreAndOpen(t *testing.T, backup string) (*Registry, *BackupManifest) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "restored")
	m, err := Restore(ctx, backup, dir, nil)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	r, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("open restored registry: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, m
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	people := participantNames("B", 3)
	if _, err := r.Register(ctx, generatedBatch(t, 1, true, people...)); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if _, err := r.Grant(ctx, people[0], GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: filepath.Join(t.TempDir(), "bundle")})
	if err != nil {
		t.Fatal(err)
	}
	want := latestCheckpoint(t, r)

	backup := filepath.Join(t.TempDir(), "backup")
	m, err := r.Backup(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	if m.Samples != 12 || m.Releases != 1 || m.LogSize != want.Size || m.Checkpoint != string(want.Note) {
		t.Errorf("backup manifest %+v, want 12 samples, 1 release and the checkpoint of size %d", m, want.Size)
	}
	for _, name := range []string{ConfigFile, LogKeyFile, LogPubFile, KeeperKeyFile, DatabaseFile, BackupFile} {
		if _, err := os.Stat(filepath.Join(backup, name)); err != nil {
			t.Errorf("backup lacks %s: %v", name, err)
		}
	}
	st, err := os.Stat(filepath.Join(backup, LogKeyFile))
	if err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("the backup's %s has mode %v, want 0600 like the original", LogKeyFile, st.Mode().Perm())
	}

	restored, rm := restoreAndOpen(t, backup)
	if !reflect.DeepEqual(rm, m) {
		t.Errorf("Restore returned manifest %+v, want the backup's %+v", rm, m)
	}
	if restored.Origin() != r.Origin() || restored.VerifierKey() != r.VerifierKey() {
		t.Errorf("restored origin %s and key %s, want %s and %s", restored.Origin(), restored.VerifierKey(), r.Origin(), r.VerifierKey())
	}
	if size := verifyRegistry(t, restored); size != want.Size {
		t.Errorf("restored log has %d entries, want %d", size, want.Size)
	}
	if got := latestCheckpoint(t, restored); string(got.Note) != string(want.Note) {
		t.Errorf("restored latest checkpoint:\n%s\nwant:\n%s", got.Note, want.Note)
	}

	// The restored registry exports the release again from its own blobs,
	// and the bundle verifies with the original public key.
	out := filepath.Join(t.TempDir(), "export")
	if err := restored.ExportRelease(ctx, res.Release.ID, out, true); err != nil {
		t.Fatalf("export release from the restored registry: %v", err)
	}
	if _, err := release.Verify(out, r.VerifierKey()); err != nil {
		t.Errorf("release exported from the restored registry: %v", err)
	}

	// The restored registry keeps working on its own.
	if _, err := restored.Register(ctx, generatedBatch(t, 2, false, "B100")); err != nil {
		t.Fatalf("register in the restored registry: %v", err)
	}
	verifyRegistry(t, restored)
}

// TestBackupOfDamagedRegistry backs up a registry whose blob folder lost a
// pack: the backup records the loss instead of failing, and its restore
// accepts that loss and no other.
func TestBackupOfDamagedRegistry(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.Register(ctx, generatedBatch(t, 1, true, "D000")); err != nil {
		t.Fatal(err)
	}
	packs, err := filepath.Glob(filepath.Join(r.Blobs().Folder(), content.PackPrefix, "*"))
	if err != nil || len(packs) != 1 {
		t.Fatalf("want one pack in the registry, found %v (%v)", packs, err)
	}
	if err := os.Remove(packs[0]); err != nil {
		t.Fatal(err)
	}
	lostKey := content.PackPrefix + filepath.Base(packs[0])

	backup := filepath.Join(t.TempDir(), "backup")
	m, err := r.Backup(ctx, backup)
	if err != nil {
		t.Fatalf("backup of a registry that lost a pack: %v", err)
	}
	if len(m.Missing) != 1 || m.Missing[0] != lostKey {
		t.Errorf("backup records missing objects %v, want [%s]", m.Missing, lostKey)
	}
	restored, _ := restoreAndOpen(t, backup)
	rep, err := restored.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.VerifyContent(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 3 {
		t.Errorf("content verification of the restored registry found %d problems, want the 3 packed recordings: %v", len(rep.Problems), rep.Problems)
	}

	// Losing another object after the backup is not accepted.
	large, err := filepath.Glob(filepath.Join(backup, BlobFolder, "participants", "*", "*"))
	if err != nil || len(large) != 1 {
		t.Fatalf("want one large recording in the backup, found %v (%v)", large, err)
	}
	if err := os.Remove(large[0]); err != nil {
		t.Fatal(err)
	}
	_, err = Restore(ctx, backup, filepath.Join(t.TempDir(), "again"), nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Base(large[0])) {
		t.Fatalf("restore of a backup that lost a recording it had: %v, want an error naming it", err)
	}
}

// TestBackupWhileRegistering takes backups while another goroutine keeps
// registering batches through its own connection to the same registry, and
// checks that every restored copy is consistent: its log verifies, and every
// sample in it reads back with its digest.
func TestBackupWhileRegistering(t *testing.T) {
	ctx := context.Background()
	src, _ := newTestRegistry(t)
	if _, err := src.Register(ctx, generatedBatch(t, 0, true, "W000")); err != nil {
		t.Fatal(err)
	}
	writer, err := Open(ctx, src.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()

	const batches = 12
	done := make(chan struct{})
	var writeErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 1; i <= batches; i++ {
			people := participantNames(fmt.Sprintf("W%02d-", i), 2)
			if _, err := writer.Register(ctx, generatedBatch(t, i, i%2 == 0, people...)); err != nil {
				writeErr = err
				return
			}
		}
	}()

	// Back up until the writer finishes, pausing between backups so that
	// each one copies a longer log.
	const maxBackups = 6
	var manifests []*BackupManifest
	var backups []string
	for running := true; running && len(backups) < maxBackups; {
		backup := filepath.Join(t.TempDir(), "backup")
		m, err := src.Backup(ctx, backup)
		if err != nil {
			t.Fatalf("backup %d while registering: %v", len(backups), err)
		}
		manifests = append(manifests, m)
		backups = append(backups, backup)
		select {
		case <-done:
			running = false
		case <-time.After(150 * time.Millisecond):
		}
	}
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("register while backing up: %v", writeErr)
	}
	final := verifyRegistry(t, src)
	overlapping := 0
	for _, m := range manifests {
		if m.LogSize < final {
			overlapping++
		}
	}
	if overlapping < 2 {
		t.Fatalf("%d of %d backups finished before the writer's %d batches were logged; the test needs at least 2", overlapping, len(backups), batches)
	}

	for i, backup := range backups {
		m := manifests[i]
		if m.LogSize == 0 || m.LogSize > final {
			t.Errorf("backup %d has %d log entries, want between 1 and %d", i, m.LogSize, final)
		}
		restored, _ := restoreAndOpen(t, backup)
		if size := verifyRegistry(t, restored); size != m.LogSize {
			t.Errorf("backup %d restored with %d log entries, want %d", i, size, m.LogSize)
		}
	}
	t.Logf("%d backups of logs from %d to %d entries while the log grew to %d", len(backups), manifests[0].LogSize, manifests[len(manifests)-1].LogSize, final)
}

func TestBackupRejects(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)

	t.Run("non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := r.Backup(ctx, dir)
		if err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Fatalf("backup into a non-empty folder: %v, want an error saying it is not empty", err)
		}
		if data, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(data) != "mine" {
			t.Errorf("the rejected backup changed a file in the folder: %q", data)
		}
	})

	t.Run("inside blob folder", func(t *testing.T) {
		_, err := r.Backup(ctx, filepath.Join(r.Blobs().Folder(), "backup"))
		if err == nil || !strings.Contains(err.Error(), "inside the blob folder") {
			t.Fatalf("backup into the blob folder: %v, want an error", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "backup")
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := r.Backup(cancelled, dir); !errors.Is(err, context.Canceled) {
			t.Fatalf("backup with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed backup left its folder behind: %v", err)
		}
	})

	t.Run("object store", func(t *testing.T) {
		blobs := storagetest.S3URL(t)
		s3reg, err := Init(ctx, filepath.Join(t.TempDir(), "reg"), InitOptions{Options: Options{Blobs: blobs}})
		if err != nil {
			t.Fatal(err)
		}
		defer s3reg.Close()
		dir := filepath.Join(t.TempDir(), "backup")
		_, err = s3reg.Backup(ctx, dir)
		if err == nil || !strings.Contains(err.Error(), "local folder") {
			t.Fatalf("backup of a registry on S3: %v, want an error saying backup needs a local blob folder", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a rejected backup created its folder: %v", err)
		}
	})
}

func TestRestoreRejects(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.Register(ctx, generatedBatch(t, 1, true, "R000")); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup")
	if _, err := r.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}

	t.Run("non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Restore(ctx, backup, dir, nil)
		if err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Fatalf("restore into a non-empty folder: %v, want an error saying it is not empty", err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("the rejected restore changed the folder: %d entries, want 1", len(entries))
		}
	})

	t.Run("existing registry", func(t *testing.T) {
		_, err := Restore(ctx, backup, r.Dir(), nil)
		if err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Fatalf("restore over a registry: %v, want an error saying the folder is not empty", err)
		}
		verifyRegistry(t, r)
	})

	t.Run("into the backup", func(t *testing.T) {
		_, err := Restore(ctx, backup, filepath.Join(backup, "restored"), nil)
		if err == nil || !strings.Contains(err.Error(), "inside the backup") {
			t.Fatalf("restore into the backup folder: %v, want an error", err)
		}
	})

	t.Run("incomplete backup", func(t *testing.T) {
		partial := filepath.Join(t.TempDir(), "partial")
		if err := copyDir(backup, partial); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(partial, BackupFile)); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "restored")
		_, err := Restore(ctx, partial, dir, nil)
		if err == nil || !strings.Contains(err.Error(), "not a complete backup") {
			t.Fatalf("restore of a backup without %s: %v, want an error", BackupFile, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a rejected restore created its folder: %v", err)
		}
	})

	t.Run("missing recording", func(t *testing.T) {
		damaged := filepath.Join(t.TempDir(), "damaged")
		if err := copyDir(backup, damaged); err != nil {
			t.Fatal(err)
		}
		packs, err := filepath.Glob(filepath.Join(damaged, BlobFolder, content.PackPrefix, "*"))
		if err != nil || len(packs) != 1 {
			t.Fatalf("want one pack in the backup, found %v (%v)", packs, err)
		}
		if err := os.Remove(packs[0]); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "restored")
		_, err = Restore(ctx, damaged, dir, nil)
		if err == nil || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), filepath.Base(packs[0])) {
			t.Fatalf("restore of a backup without its pack: %v, want an error naming the missing pack", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed restore left its folder behind: %v", err)
		}
	})
}

// copyDir copies a folder tree, for tests that damage a copy of a backup.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	_, _, err := copyTree(context.Background(), src, dst, nil)
	return err
}
