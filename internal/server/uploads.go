package server

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/steward-rehab/steward/internal/importer"
	"github.com/steward-rehab/steward/internal/registry"
)

// extractUpload unpacks a tar request body into a new temporary folder
// and returns it with the function that removes it. Entries must be
// regular files or folders with relative paths that stay inside.
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
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) || errors.Is(err, os.ErrDeadlineExceeded) {
				return "", nil, err
			}
			return "", nil, newError(http.StatusBadRequest, "invalid tar archive: %v", err)
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

func extractEntry(dir string, h *tar.Header, r io.Reader) error {
	name := path.Clean(h.Name)
	if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return newError(http.StatusBadRequest, "tar entry %q leaves the upload: use relative paths inside one folder", h.Name)
	}
	target := filepath.Join(dir, filepath.FromSlash(name))
	switch h.Typeflag {
	case tar.TypeDir:
		return os.MkdirAll(target, 0o700)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return newError(http.StatusBadRequest, "tar entry %q: %v", h.Name, err)
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return newError(http.StatusBadRequest, "tar entry %q is not a regular file or folder: links and devices are not accepted", h.Name)
}

// importJSON is the outcome of an import or an ingest.
type importJSON struct {
	Notes               []importer.Note  `json:"notes"`
	Samples             []registeredJSON `json:"samples"`
	ParticipantsCreated int              `json:"participantsCreated"`
	ParticipantsUpdated int              `json:"participantsUpdated"`
}

type registeredJSON struct {
	Where       string `json:"where"`
	Sample      string `json:"sample"`
	Participant string `json:"participant"`
	Digest      string `json:"digest"`
	EventIndex  uint64 `json:"eventIndex"`
	Duplicate   bool   `json:"duplicate,omitempty"`
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
	out := importJSON{Notes: []importer.Note{}, Samples: []registeredJSON{}, ParticipantsCreated: res.ParticipantsCreated, ParticipantsUpdated: res.ParticipantsUpdated}
	if rep != nil {
		out.Notes = append(out.Notes, rep.Notes...)
	}
	for _, smp := range res.Samples {
		out.Samples = append(out.Samples, registeredJSON{
			Where: trimDir(smp.Where, dir), Sample: smp.Sample, Participant: smp.Participant, Digest: smp.Digest,
			EventIndex: smp.EventIndex, Duplicate: smp.Duplicate,
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
