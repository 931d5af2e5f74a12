package release

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Contents is everything a bundle holds, produced as the bundle is written.
type Contents struct {
	// Manifest opens the manifest bytes; it is read twice when writing data.
	Manifest   func() (io.ReadCloser, error)
	Licence    []byte
	Datasheet  []byte
	Checkpoint []byte
	// Entries writes the log entries the manifest cites, with their proofs.
	Entries func(w *EntryWriter) error
	// Data returns the content of a sample; nil writes no data folder.
	Data func(Sample) (io.ReadCloser, error)
}

// EntryWriter writes log/entries.jsonl, one entry per line.
type EntryWriter struct {
	enc *json.Encoder
}

// Write adds one entry with its proof.
func (w *EntryWriter) Write(e EntryProof) error { return w.enc.Encode(e) }

// Write creates the bundle folder dir. It writes into a temporary folder
// beside dir and renames it into place at the end, so dir either holds a
// whole bundle or does not exist.
func Write(dir string, c Contents) (err error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("output folder %s exists and is not empty: choose a new --out folder", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".steward-release-*")
	if err != nil {
		return fmt.Errorf("create bundle folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	if err := copyManifest(tmp, c.Manifest); err != nil {
		return err
	}
	for name, data := range map[string][]byte{LicenceFile: c.Licence, DatasheetFile: c.Datasheet, CheckpointFile: c.Checkpoint} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := writeEntries(filepath.Join(tmp, filepath.FromSlash(EntriesFile)), c.Entries); err != nil {
		return fmt.Errorf("write %s: %w", EntriesFile, err)
	}
	if c.Data != nil {
		if err := writeData(tmp, c); err != nil {
			return err
		}
	}

	os.Remove(dir) // an empty folder may be replaced
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("move bundle into %s: %w", dir, err)
	}
	return nil
}

func copyManifest(root string, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	defer rc.Close()
	f, err := os.Create(filepath.Join(root, ManifestFile))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", ManifestFile, err)
	}
	return f.Close()
}

func writeEntries(path string, write func(*EntryWriter) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(&EntryWriter{enc: json.NewEncoder(bw)}); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeData writes every sample's recording, reading the manifest again to
// learn which.
func writeData(root string, c Contents) error {
	if err := os.MkdirAll(filepath.Join(root, DataDir), 0o755); err != nil {
		return err
	}
	rc, err := c.Manifest()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, _, err = DecodeManifest(rc, func(_ Header, s Sample) error {
		if err := writeDataFile(filepath.Join(root, filepath.FromSlash(s.File)), s, c.Data); err != nil {
			return fmt.Errorf("write data of sample %s: %w", s.ID, err)
		}
		return nil
	})
	return err
}

func writeDataFile(path string, s Sample, open func(Sample) (io.ReadCloser, error)) error {
	rc, err := open(s)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	d := newDigester()
	if _, err := io.Copy(io.MultiWriter(f, d), rc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := d.digest(); got != s.Digest {
		return fmt.Errorf("stored content has digest %s, the registry recorded %s: the blob store is corrupt", got, s.Digest)
	}
	return nil
}
