package release

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// AttestationFile is the bundle path of the registry's signed statement
// about the bundle.
const AttestationFile = "attestation.dsse.json"

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
	// Documents opens further files by bundle path, such as licence.jsonld
	// and metadata.json. Each is opened once.
	Documents map[string]func() (io.ReadCloser, error)
	// Attest returns the attestation of the bundle as written, given the
	// sha256 digest of every file in it. Nil writes no attestation.
	Attest func(files map[string]string) ([]byte, error)
}

// EntryWriter writes log/entries.jsonl, one entry per line.
type EntryWriter struct {
	w   io.Writer
	buf []byte
}

// NewEntryWriter returns an EntryWriter that writes to w.
func NewEntryWriter(w io.Writer) *EntryWriter { return &EntryWriter{w: w} }

// Write adds one entry with its proof, as encoding/json encodes an
// EntryProof, without its reflection: a release of a million samples has
// millions of lines.
func (w *EntryWriter) Write(e EntryProof) error {
	b := append(w.buf[:0], `{"index":`...)
	b = strconv.AppendUint(b, e.Index, 10)
	b = append(b, `,"entry":"`...)
	b = base64.StdEncoding.AppendEncode(b, e.Entry)
	b = append(b, `","proof":[`...)
	for i, h := range e.Proof {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, h)
		b = append(b, '"')
	}
	b = append(b, "]}\n"...)
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// CheckOutput reports whether a bundle can be written to dir: dir must be
// missing or empty, and its parent folder writable. A release is checked
// before it is logged, so that a mistyped --out logs nothing.
func CheckOutput(dir string) error {
	if info, err := os.Lstat(dir); err == nil && !info.IsDir() {
		return fmt.Errorf("output folder %s exists and is a file, not a folder: choose a new --out folder", dir)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("output folder %s exists and is not empty: choose a new --out folder", dir)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("output folder %s: cannot create its parent folder: %w", dir, err)
	}
	probe, err := os.MkdirTemp(parent, ".steward-release-*")
	if err != nil {
		return fmt.Errorf("output folder %s: cannot write in %s: %w; choose another --out folder", dir, parent, err)
	}
	return os.Remove(probe)
}

// Write creates the bundle folder dir. It writes into a staging folder
// beside dir and renames it into place at the end, so dir either holds a
// whole bundle or does not exist. The staging folder's name follows from
// dir, so what a killed write left there is removed by the next write.
func Write(dir string, c Contents) (err error) {
	if err := CheckOutput(dir); err != nil {
		return err
	}
	clean := filepath.Clean(dir)
	tmp := filepath.Join(filepath.Dir(clean), "."+filepath.Base(clean)+".steward-staging")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove the staging folder of an earlier write: %w", err)
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return fmt.Errorf("create bundle folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	// The digest of every file is taken as it is written, for the
	// attestation.
	written := map[string]string{}
	if written[ManifestFile], err = copyFile(tmp, ManifestFile, c.Manifest); err != nil {
		return err
	}
	for name, data := range map[string][]byte{LicenceFile: c.Licence, DatasheetFile: c.Datasheet, CheckpointFile: c.Checkpoint} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		written[name] = Digest(data)
	}
	for name, open := range c.Documents {
		if written[name], err = copyFile(tmp, name, open); err != nil {
			return err
		}
	}
	if written[EntriesFile], err = writeEntries(filepath.Join(tmp, filepath.FromSlash(EntriesFile)), c.Entries); err != nil {
		return fmt.Errorf("write %s: %w", EntriesFile, err)
	}
	if c.Data != nil {
		if err := writeData(tmp, c, written); err != nil {
			return err
		}
	}
	if c.Attest != nil {
		if err := writeAttestation(tmp, written, c.Attest); err != nil {
			return err
		}
	}

	if info, err := os.Lstat(dir); err == nil && info.IsDir() {
		os.Remove(dir) // an empty folder may be replaced; a full one stays and Rename fails
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("move bundle into %s: %w", dir, err)
	}
	return nil
}

// copyFile writes the bundle file name from open and returns its digest.
func copyFile(root, name string, open func() (io.ReadCloser, error)) (string, error) {
	if !validBundlePath(name) {
		return "", fmt.Errorf("invalid bundle file name %q", name)
	}
	rc, err := open()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	defer rc.Close()
	f, err := os.Create(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return "", err
	}
	d := newDigester()
	if _, err := io.Copy(io.MultiWriter(f, d), rc); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return d.digest(), f.Close()
}

func validBundlePath(name string) bool {
	return name != "" && !filepath.IsAbs(name) && filepath.ToSlash(filepath.Clean(name)) == name &&
		name != ".." && !strings.HasPrefix(name, "../")
}

func writeEntries(path string, write func(*EntryWriter) error) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	d := newDigester()
	bw := bufio.NewWriterSize(io.MultiWriter(f, d), 1<<16)
	if err := write(&EntryWriter{w: bw}); err != nil {
		f.Close()
		return "", err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return d.digest(), f.Close()
}

// writeAttestation checks that written names every file of the bundle,
// then writes the attestation of them.
func writeAttestation(root string, written map[string]string, attest func(map[string]string) ([]byte, error)) error {
	files, err := bundleFiles(root)
	if err != nil {
		return err
	}
	if len(files) != len(written) {
		return fmt.Errorf("attest bundle: %d files written but %d found", len(written), len(files))
	}
	for _, f := range files {
		if _, ok := written[f]; !ok {
			return fmt.Errorf("attest bundle: %s has no recorded digest", f)
		}
	}
	raw, err := attest(written)
	if err != nil {
		return fmt.Errorf("attest bundle: %w", err)
	}
	return os.WriteFile(filepath.Join(root, AttestationFile), raw, 0o644)
}

// writeData writes every sample's recording, reading the manifest again to
// learn which.
func writeData(root string, c Contents, written map[string]string) error {
	if err := os.MkdirAll(filepath.Join(root, DataDir), 0o755); err != nil {
		return err
	}
	rc, err := c.Manifest()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, _, err = DecodeManifest(rc, func(_ Header, s Sample) error {
		if !validBundlePath(s.File) || !strings.HasPrefix(s.File, DataDir+"/") {
			return fmt.Errorf("sample %s: invalid file path %q in the manifest", s.ID, s.File)
		}
		if err := writeDataFile(filepath.Join(root, filepath.FromSlash(s.File)), s, c.Data); err != nil {
			return fmt.Errorf("write data of sample %s: %w", s.ID, err)
		}
		written[s.File] = s.Digest
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

// bundleFiles returns the slash-separated path of every file in the bundle
// but the attestation, sorted.
func bundleFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel != AttestationFile {
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}
