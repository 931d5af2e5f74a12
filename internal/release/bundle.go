package release

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Contents is everything a bundle holds, ready to be written.
type Contents struct {
	Manifest   []byte
	Licence    []byte
	Datasheet  []byte
	Checkpoint []byte
	Entries    []EntryProof
	// Data returns the content of a sample; nil writes no data folder.
	Data func(Sample) (io.ReadCloser, error)
	// Samples are the decoded manifest samples, for the data files.
	Samples []Sample
}

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

	files := map[string][]byte{
		ManifestFile:   c.Manifest,
		LicenceFile:    c.Licence,
		DatasheetFile:  c.Datasheet,
		CheckpointFile: c.Checkpoint,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := writeEntries(filepath.Join(tmp, filepath.FromSlash(EntriesFile)), c.Entries); err != nil {
		return err
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

func writeEntries(path string, entries []EntryProof) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeData(root string, c Contents) error {
	if err := os.MkdirAll(filepath.Join(root, DataDir), 0o755); err != nil {
		return err
	}
	for _, s := range c.Samples {
		if err := writeDataFile(filepath.Join(root, filepath.FromSlash(s.File)), s, c.Data); err != nil {
			return fmt.Errorf("write data of sample %s: %w", s.ID, err)
		}
	}
	return nil
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
