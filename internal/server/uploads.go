package server

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/steward-rehab/steward/internal/importer"
	"github.com/steward-rehab/steward/internal/registry"
)

// extractUpload unpacks a tar request body into a new temporary folder
// and returns it with the function that removes it. Entries must be
// regular files or folders with relative paths that stay inside. Errors
// name entries as the archive does, never by their path on the server.
func (s *Server) extractUpload(w http.ResponseWriter, r *http.Request) (string, func(), error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != tarType {
		return "", nil, newError(http.StatusUnsupportedMediaType, "Content-Type %q is not supported: send the files as a tar archive, %s", r.Header.Get("Content-Type"), tarType)
	}
	dir, err := os.MkdirTemp("", "steward-upload-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	tr := tar.NewReader(http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes))
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cleanup()
			return "", nil, tarError(err, "")
		}
		if err := extractEntry(dir, h, tr); err != nil {
			cleanup()
			return "", nil, err
		}
		files++
	}
	if files == 0 {
		cleanup()
		return "", nil, newError(http.StatusBadRequest, "the tar archive is empty: send the manifest and its recordings")
	}
	return dir, cleanup, nil
}

// tarError classifies an error of reading the tar archive, inside the
// named entry or, when entry is empty, between entries.
func tarError(err error, entry string) error {
	if hasOwnStatus(err) {
		return err
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) && entry != "":
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("the tar archive ends inside entry %q: send the whole archive", entry), err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &httpError{status: http.StatusBadRequest, msg: "the tar archive ends inside an entry's header: send the whole archive", err: err}
	case entry != "":
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid tar archive: entry %q could not be read: %v", entry, err), err: err}
	}
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid tar archive: %v", err), err: err}
}

// writeError marks an error of writing an extracted file, which is the
// server's fault, apart from the errors of reading the archive.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// markedWriter returns the errors of its writer as writeError.
type markedWriter struct{ w io.Writer }

func (m markedWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

func extractEntry(dir string, h *tar.Header, r io.Reader) error {
	name := path.Clean(h.Name)
	if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return newError(http.StatusBadRequest, "tar entry %q leaves the upload: use relative paths inside one folder", h.Name)
	}
	target := filepath.Join(dir, filepath.FromSlash(name))
	switch h.Typeflag {
	case tar.TypeDir:
		return entryError(h.Name, os.MkdirAll(target, 0o700))
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return entryError(h.Name, err)
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return entryError(h.Name, err)
		}
		_, err = io.Copy(markedWriter{f}, r)
		var failedWrite writeError
		switch {
		case errors.As(err, &failedWrite):
			f.Close()
			return fmt.Errorf("extract tar entry %q: %w", h.Name, failedWrite.err)
		case err != nil:
			f.Close()
			return tarError(err, h.Name)
		}
		return f.Close()
	}
	return newError(http.StatusBadRequest, "tar entry %q is not a regular file or folder: links and devices are not accepted", h.Name)
}

// entryError turns a failure to create an entry's file or folder into a
// client error when an earlier entry of the archive caused it: the same
// name twice, or a file where a folder must be. Other failures, such as a
// full disk, are the server's and keep their cause for the log.
func entryError(entry string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("tar entry %q appears twice, or collides with a folder of the same name: send each file once", entry), err: err}
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("tar entry %q needs a folder where an earlier entry is a file: send each file once, inside distinct folders", entry), err: err}
	}
	return fmt.Errorf("extract tar entry %q: %w", entry, err)
}

// importJSON is the outcome of an import or an ingest.
type importJSON struct {
	Notes               []importer.Note  `json:"notes"`
	Samples             []registeredJSON `json:"samples"`
	Erased              []string         `json:"erased"`
	ParticipantsCreated int              `json:"participantsCreated"`
	ParticipantsUpdated int              `json:"participantsUpdated"`
}

type registeredJSON struct {
	Where       string   `json:"where"`
	Sample      string   `json:"sample"`
	Participant string   `json:"participant"`
	Digest      string   `json:"digest"`
	EventIndex  uint64   `json:"eventIndex"`
	Duplicate   bool     `json:"duplicate,omitempty"`
	Differs     []string `json:"differs,omitempty"`
}

// ingest registers the samples of a manifest. The body is a tar of the
// manifest, named by the manifest query parameter, and the recordings it
// lists at their paths relative to it.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	manifest, namespace := q.Get("manifest"), q.Get("namespace")
	if manifest == "" || path.IsAbs(manifest) || strings.Contains(manifest, "..") {
		return newError(http.StatusBadRequest, "invalid manifest %q: name the manifest's path inside the tar archive, such as ?manifest=manifest.jsonl", manifest)
	}
	if p.is(registry.RoleSteward) {
		if namespace != "" && namespace != p.token.Org {
			return newError(http.StatusForbidden, "a steward of organisation %q registers only into namespace %q", p.token.Org, p.token.Org)
		}
		namespace = p.token.Org
	}
	dir, cleanup, err := s.extractUpload(w, r)
	if err != nil {
		return err
	}
	defer cleanup()
	batch, rep, err := importer.Manifest(filepath.Join(dir, filepath.FromSlash(manifest)), namespace)
	if err != nil {
		return badInput(stripDir(err, dir))
	}
	return s.registerBatch(w, r, batch, rep, dir)
}

// importDataset imports a dataset folder sent as a tar archive.
func (s *Server) importDataset(w http.ResponseWriter, r *http.Request, p principal) error {
	readers := map[string]func(string) (*registry.Batch, *importer.Report, error){
		"gaitpdb": importer.GaitPDB, "wfdb": importer.WFDB, "bids": importer.BIDS,
	}
	format := r.PathValue("format")
	read, known := readers[format]
	if !known {
		return newError(http.StatusNotFound, "unknown import format %q: use gaitpdb, wfdb or bids", format)
	}
	dir, cleanup, err := s.extractUpload(w, r)
	if err != nil {
		return err
	}
	defer cleanup()
	batch, rep, err := read(dir)
	if err != nil {
		return badInput(stripDir(err, dir))
	}
	if p.is(registry.RoleSteward) {
		if err := checkNamespaces(batch, p.token.Org); err != nil {
			return err
		}
	}
	return s.registerBatch(w, r, batch, rep, dir)
}

// checkNamespaces requires every participant of a batch to belong to org.
func checkNamespaces(b *registry.Batch, org string) error {
	for _, in := range b.Participants {
		if in.Namespace != org {
			return newError(http.StatusForbidden, "the import creates participants in namespace %q, and a steward of organisation %q may register only into %q",
				in.Namespace, org, org)
		}
	}
	for _, in := range b.Samples {
		if in.Namespace != "" && in.Namespace != org {
			return newError(http.StatusForbidden, "the import registers samples in namespace %q, and a steward of organisation %q may register only into %q",
				in.Namespace, org, org)
		}
	}
	return nil
}

func (s *Server) registerBatch(w http.ResponseWriter, r *http.Request, batch *registry.Batch, rep *importer.Report, dir string) error {
	res, err := s.reg.Register(r.Context(), batch)
	if err != nil {
		return inputError(stripDir(err, dir))
	}
	out := importJSON{Notes: []importer.Note{}, Samples: []registeredJSON{}, Erased: []string{},
		ParticipantsCreated: res.ParticipantsCreated, ParticipantsUpdated: res.ParticipantsUpdated}
	for _, where := range res.Erased {
		out.Erased = append(out.Erased, trimDir(where, dir))
	}
	if rep != nil {
		out.Notes = append(out.Notes, rep.Notes...)
	}
	for _, smp := range res.Samples {
		out.Samples = append(out.Samples, registeredJSON{
			Where: trimDir(smp.Where, dir), Sample: smp.Sample, Participant: smp.Participant, Digest: smp.Digest,
			EventIndex: smp.EventIndex, Duplicate: smp.Duplicate, Differs: smp.Differs,
		})
	}
	requestLogger(r.Context(), s.log).Info("batch registered", "samples", len(res.Samples), "participants_created", res.ParticipantsCreated)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// stripDir removes the server's temporary folder from an error message, so
// that it names files as the client sent them.
func stripDir(err error, dir string) error {
	msg := err.Error()
	if !strings.Contains(msg, dir) {
		return err
	}
	return fmt.Errorf("%s", trimDir(msg, dir))
}

func trimDir(s, dir string) string {
	return strings.ReplaceAll(s, dir+string(filepath.Separator), "")
}
