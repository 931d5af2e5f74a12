package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

// BackupFile describes a backup folder. Backup writes it last, so a folder
// without it holds an interrupted backup.
const BackupFile = "backup.json"

// backupFormat names the layout of a backup folder: a registry folder with
// the default layout (steward.json, log.key, log.pub, keeper.key unless a key
// management service wraps data keys, erasure.key once someone was erased,
// registry.db and blobs/) plus backup.json.
const backupFormat = "steward-backup/1"

// BackupManifest is the content of backup.json.
type BackupManifest struct {
	Format    string    `json:"format"`
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"createdAt"`
	// LogSize is the number of log entries in the copied database.
	LogSize uint64 `json:"logSize"`
	// Checkpoint is the latest signed checkpoint in the copied database, a
	// C2SP signed note. A registry restored from the backup returns it.
	Checkpoint string `json:"checkpoint"`
	Samples    int    `json:"samples"`
	Releases   int    `json:"releases"`
	// Objects and Bytes count the blob files copied, including objects
	// written after the database snapshot that nothing references yet.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	// Missing lists the objects that the copied database references but
	// the registry's own blob folder lacked, so the backup lacks them too.
	Missing []string `json:"missing,omitempty"`
}

// Backup writes a consistent copy of the registry into dir, which must be
// missing or empty, while other processes may keep writing to the registry.
// It copies the embedded default only: an SQLite database and a local blob
// folder.
//
// The database is copied first, as one transaction's snapshot (SQLite's
// VACUUM INTO), and the blob folder after it. Register and BuildRelease make
// every recording and release document durable before the event that
// references it commits, and blobs never change once written, so every
// object that the snapshot references is in the folder when it is copied.
// Objects written after the snapshot are copied too; nothing in the copy
// references them, and garbage collection may remove them.
func (r *Registry) Backup(ctx context.Context, dir string) (_ *BackupManifest, err error) {
	folder := r.blobs.Folder()
	if folder == "" {
		return nil, fmt.Errorf("backup copies registries that keep recordings in a local folder, and this one uses %s: back that up with the object store's versioning or replication, and the database with its engine's tools", r.blobs)
	}
	snapshotter, ok := r.store.(interface {
		Backup(ctx context.Context, path string) error
	})
	if !ok {
		return nil, errors.New("backup is not implemented for this database engine: use the engine's own backup tools")
	}
	if within(dir, folder) {
		return nil, fmt.Errorf("back up to %s: the folder is inside the blob folder %s, which the backup copies: choose a folder outside it", dir, folder)
	}
	cleanup, err := prepareEmptyDir(dir)
	if err != nil {
		return nil, fmt.Errorf("back up to %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()

	// Keys and configuration first; they never change once written. The
	// copy gets the default layout wherever the database and blob folder of
	// the registry are.
	for _, name := range []string{LogKeyFile, LogPubFile, KeeperKeyFile, ErasureKeyFile} {
		if name == KeeperKeyFile && r.cfg.Keeper != "" {
			continue // data keys are wrapped by a key management service
		}
		src := filepath.Join(r.dir, name)
		if _, err := os.Stat(src); name == ErasureKeyFile && errors.Is(err, os.ErrNotExist) {
			continue // nobody was erased yet
		}
		if err := copyFile(src, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("back up %s: %w", name, err)
		}
	}
	cfg := Config{Origin: r.cfg.Origin, Database: "sqlite:" + DatabaseFile, Blobs: "file:" + BlobFolder, Keeper: r.cfg.Keeper}
	if err := writeConfig(filepath.Join(dir, ConfigFile), cfg); err != nil {
		return nil, err
	}

	// The database snapshot, then the blobs it references.
	started := time.Now()
	dbPath := filepath.Join(dir, DatabaseFile)
	if err := snapshotter.Backup(ctx, dbPath); err != nil {
		return nil, err
	}
	snapshotted := time.Now()
	objects, size, err := copyTree(ctx, folder, filepath.Join(dir, BlobFolder), skipUnfinishedBlobs)
	if err != nil {
		return nil, fmt.Errorf("back up blob folder %s: %w", folder, err)
	}

	// Check what the copy promises before calling it a backup: every object
	// the copied database references is in the copy, unless the registry
	// itself lacks it.
	m, missing, err := describeCopy(ctx, dbPath, filepath.Join(dir, BlobFolder))
	if err != nil {
		return nil, fmt.Errorf("check backup in %s: %w", dir, err)
	}
	var lost []missingObject
	recorded := map[string]bool{}
	for _, o := range missing {
		if _, err := os.Stat(filepath.Join(folder, filepath.FromSlash(o.key))); err == nil {
			lost = append(lost, o)
			continue
		}
		if recorded[o.key] {
			continue // a pack of several samples
		}
		recorded[o.key] = true
		m.Missing = append(m.Missing, o.key)
	}
	if len(lost) > 0 {
		return nil, fmt.Errorf("backup in %s is incomplete: %w", dir, missingError(lost, dir))
	}
	if len(m.Missing) > 0 {
		r.log.Warn("the registry lacks objects its database references, so the backup lacks them too",
			"objects", len(m.Missing), "first", m.Missing[0])
	}
	m.Origin, m.CreatedAt, m.Objects, m.Bytes = r.Origin(), r.now().UTC(), objects, size
	if err := syncFolder(dir); err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, BackupFile), append(raw, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", BackupFile, err)
	}
	r.log.Info("registry backed up", "dir", dir, "log_size", m.LogSize, "samples", m.Samples, "objects", objects,
		"snapshot", snapshotted.Sub(started), "blobs", time.Since(snapshotted))
	return m, nil
}

// ReadBackupManifest reads backup.json of the backup in dir.
func ReadBackupManifest(dir string) (*BackupManifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, BackupFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a complete backup: it has no %s (an interrupted `steward backup` leaves none)", dir, BackupFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read backup: %w", err)
	}
	var m BackupManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", filepath.Join(dir, BackupFile), err)
	}
	if m.Format != backupFormat {
		return nil, fmt.Errorf("%s: unsupported backup format %q, want %q", filepath.Join(dir, BackupFile), m.Format, backupFormat)
	}
	return &m, nil
}

// Restore creates a registry in dir, which must be missing or empty, from
// the backup in backupDir. It then opens the new registry, verifies its
// whole log, checks that every recording and release document is present,
// and that the latest checkpoint is the one the backup recorded. On any
// error it removes what it created. Reading back every recording is left to
// `steward log verify --content`.
// Log receives a line when it succeeds; nil discards it.
func Restore(ctx context.Context, backupDir, dir string, log *slog.Logger) (_ *BackupManifest, err error) {
	m, err := ReadBackupManifest(backupDir)
	if err != nil {
		return nil, err
	}
	if within(dir, backupDir) {
		return nil, fmt.Errorf("restore into %s: the folder is inside the backup %s: choose a folder outside it", dir, backupDir)
	}
	cleanup, err := prepareEmptyDir(dir)
	if err != nil {
		return nil, fmt.Errorf("restore into %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()

	// steward.json goes last, so that an interrupted restore leaves a folder
	// that does not open as a registry.
	skip := func(rel string, _ fs.DirEntry) bool { return rel == BackupFile || rel == ConfigFile }
	if _, _, err := copyTree(ctx, backupDir, dir, skip); err != nil {
		return nil, fmt.Errorf("restore from %s: %w", backupDir, err)
	}
	if err := copyFile(filepath.Join(backupDir, ConfigFile), filepath.Join(dir, ConfigFile)); err != nil {
		return nil, fmt.Errorf("restore %s: %w", ConfigFile, err)
	}
	if err := syncFolder(dir); err != nil {
		return nil, err
	}
	if err := checkRestored(ctx, dir, m); err != nil {
		return nil, fmt.Errorf("restored registry in %s failed its check, so it was removed: %w", dir, err)
	}
	if log != nil {
		log.Info("registry restored", "backup", backupDir, "dir", dir, "log_size", m.LogSize, "samples", m.Samples)
	}
	return m, nil
}

// checkRestored opens a restored registry and checks its log, its blobs and
// its latest checkpoint against the backup's manifest.
func checkRestored(ctx context.Context, dir string, m *BackupManifest) error {
	r, err := Open(ctx, dir, Options{})
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.VerifyLog(ctx); err != nil {
		return err
	}

	// Only the objects that the source registry had already lost may be
	// missing.
	got, missing, err := describeStore(ctx, r.store, r.blobs.Folder())
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, key := range m.Missing {
		known[key] = true
	}
	var lost []missingObject
	for _, o := range missing {
		if !known[o.key] {
			lost = append(lost, o)
		}
	}
	if len(lost) > 0 {
		return missingError(lost, dir)
	}

	if got.LogSize != m.LogSize || got.Checkpoint != m.Checkpoint {
		return fmt.Errorf("the restored log has %d entries and latest checkpoint %q, but %s records %d entries and %q",
			got.LogSize, got.Checkpoint, BackupFile, m.LogSize, m.Checkpoint)
	}
	return nil
}

// describeCopy opens a copied database and describes it; see describeStore.
func describeCopy(ctx context.Context, dbPath, blobFolder string) (*BackupManifest, []missingObject, error) {
	store, err := sqlstore.OpenSQLite(ctx, dbPath, sqlstore.SQLiteOptions{})
	if err != nil {
		return nil, nil, err
	}
	defer store.Close()
	return describeStore(ctx, store, blobFolder)
}

// missingObject is an object that a database references and a blob folder
// lacks.
type missingObject struct {
	key   string
	owner string // the sample or release that references it, for messages
}

// maxMissingListed bounds the missing objects an error lists.
const maxMissingListed = 10

func missingError(missing []missingObject, dir string) error {
	lines := make([]string, 0, maxMissingListed+1)
	for i, o := range missing {
		if i == maxMissingListed {
			lines = append(lines, fmt.Sprintf("and %d more", len(missing)-maxMissingListed))
			break
		}
		lines = append(lines, o.key+" of "+o.owner)
	}
	return fmt.Errorf("%d object(s) missing from %s:\n  %s", len(missing), filepath.Join(dir, BlobFolder), strings.Join(lines, "\n  "))
}

// describeStore reads the log size and latest checkpoint of a database, and
// lists the recordings of samples and the documents of releases that the
// blob folder lacks. It compares sizes and does not read content.
func describeStore(ctx context.Context, store storage.Store, blobFolder string) (*BackupManifest, []missingObject, error) {
	m := &BackupManifest{Format: backupFormat}
	var missing []missingObject
	sizes := map[string]int64{} // packs hold many recordings; stat each once
	present := func(key string, end int64) bool {
		size, ok := sizes[key]
		if !ok {
			size = -1
			if st, err := os.Stat(filepath.Join(blobFolder, filepath.FromSlash(key))); err == nil && st.Mode().IsRegular() {
				size = st.Size()
			}
			sizes[key] = size
		}
		return size >= 0 && size >= end
	}
	err := store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if m.LogSize, err = tx.LogSize(ctx); err != nil {
			return err
		}
		cp, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return fmt.Errorf("read latest checkpoint: %w", err)
		}
		m.Checkpoint = string(cp.Note)
		// Erasure deletes a participant's recordings on purpose.
		erased := map[string]bool{}
		err = tx.Participants(ctx, func(p storage.Participant) error {
			if !p.ErasedAt.IsZero() {
				erased[p.Pseudonym] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Samples(ctx, storage.SampleFilter{}, func(s storage.Sample) error {
			m.Samples++
			if !erased[s.Participant] && !present(s.BlobKey, s.BlobOffset+s.BlobLength) {
				missing = append(missing, missingObject{s.BlobKey, "sample " + s.ID})
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Releases(ctx, func(rel storage.Release) error {
			m.Releases++
			for _, name := range []string{release.ManifestFile, release.LicenceFile, release.DatasheetFile} {
				if key := releaseDocumentKey(rel.ID, name); !present(key, 0) {
					missing = append(missing, missingObject{key, "release " + rel.ID})
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return m, missing, nil
}
