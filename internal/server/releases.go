package server

import (
	"archive/tar"
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// releaseJSON is a release as the API shows it.
type releaseJSON struct {
	ID             string    `json:"id"`
	Purpose        string    `json:"purpose"`
	Modalities     []string  `json:"modalities"`
	Licensee       string    `json:"licensee,omitempty"`
	Version        string    `json:"version"`
	Replaces       string    `json:"replaces,omitempty"`
	BuiltAt        time.Time `json:"builtAt"`
	ManifestDigest string    `json:"manifestDigest"`
	SampleCount    int       `json:"sampleCount"`
	EventIndex     uint64    `json:"eventIndex"`
}

func toReleaseJSON(r storage.Release) releaseJSON {
	return releaseJSON{
		ID: r.ID, Purpose: r.Purpose, Modalities: r.Modalities, Licensee: r.Licensee, Version: r.Version, Replaces: r.Replaces,
		BuiltAt: r.BuiltAt, ManifestDigest: r.ManifestDigest, SampleCount: r.SampleCount, EventIndex: r.EventIndex,
	}
}

// noticeJSON is a revocation notice as the API shows it.
type noticeJSON struct {
	ID              string            `json:"id"`
	Release         string            `json:"release"`
	Participant     string            `json:"participant"`
	Reason          string            `json:"reason"`
	Action          string            `json:"action"`
	Samples         []string          `json:"samples"`
	IssuedAt        time.Time         `json:"issuedAt"`
	EventIndex      uint64            `json:"eventIndex"`
	Acknowledgments []acknowledgement `json:"acknowledgements"`
}

type acknowledgement struct {
	Licensee   string    `json:"licensee"`
	At         time.Time `json:"at"`
	EventIndex uint64    `json:"eventIndex"`
}

func toNoticeJSON(n storage.Notice) noticeJSON {
	out := noticeJSON{
		ID: n.ID, Release: n.Release, Participant: n.Participant, Reason: n.Reason, Action: n.Action,
		Samples: n.Samples, IssuedAt: n.IssuedAt, EventIndex: n.EventIndex, Acknowledgments: []acknowledgement{},
	}
	for _, a := range n.Acks {
		out.Acknowledgments = append(out.Acknowledgments, acknowledgement{Licensee: a.Licensee, At: a.At, EventIndex: a.EventIndex})
	}
	return out
}

// visibleReleases returns the releases the principal may see, oldest first.
func (s *Server) visibleReleases(r *http.Request, p principal) ([]storage.Release, error) {
	var out []storage.Release
	err := s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		return tx.Releases(r.Context(), func(rel storage.Release) error {
			if canSeeRelease(p, rel) {
				out = append(out, rel)
			}
			return nil
		})
	})
	return out, err
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request, p principal) error {
	releases, err := s.visibleReleases(r, p)
	if err != nil {
		return err
	}
	out := make([]releaseJSON, 0, len(releases))
	for _, rel := range releases {
		out = append(out, toReleaseJSON(rel))
	}
	writeJSON(w, http.StatusOK, map[string]any{"releases": out})
	return nil
}

// release returns the release named in the path if the principal may see
// it, and otherwise the same refusal as for a release that does not exist.
func (s *Server) release(r *http.Request, p principal) (storage.Release, error) {
	var rel storage.Release
	err := s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		var err error
		rel, err = tx.Release(r.Context(), r.PathValue("id"))
		return err
	})
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !canSeeRelease(p, rel)) {
		return storage.Release{}, errReleaseNotFound
	}
	return rel, err
}

func (s *Server) getRelease(w http.ResponseWriter, r *http.Request, p principal) error {
	rel, err := s.release(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toReleaseJSON(rel))
	return nil
}

// ReleaseRequest is the body of POST /api/v1/releases.
type ReleaseRequest struct {
	Purpose    string   `json:"purpose"`
	Modalities []string `json:"modalities,omitempty"`
	Licensee   string   `json:"licensee,omitempty"`
	// Until is the end of the licence's permission, RFC 3339; empty means
	// five years after the build.
	Until    *time.Time `json:"until,omitempty"`
	WithData bool       `json:"withData,omitempty"`
}

// releaseResult is the response to a release build.
type releaseResult struct {
	Release    releaseJSON    `json:"release"`
	Considered int            `json:"considered"`
	Excluded   map[string]int `json:"excluded"`
	// ExcludedPurposes are the narrower purposes the licence prohibits.
	ExcludedPurposes []string `json:"excludedPurposes,omitempty"`
	Checkpoint       uint64   `json:"checkpointSize"`
}

// Archive formats of a bundle download.
const (
	tarType = "application/x-tar"
	zipType = "application/zip"
)

// archiveFormat picks tar or zip from the format query parameter or the
// Accept header, or "" when the client asked for neither.
func archiveFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "tar":
		return tarType, nil
	case "zip":
		return zipType, nil
	case "":
	default:
		return "", newError(http.StatusBadRequest, "invalid format %q: use tar or zip", f)
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == tarType || mt == zipType) {
			return mt, nil
		}
	}
	return "", nil
}

// buildRelease builds a release. It responds with the bundle as a tar or
// zip when the client requests one (Accept or ?format=), with the build's
// summary in the Steward-Release header; else with the summary as JSON.
func (s *Server) buildRelease(w http.ResponseWriter, r *http.Request, _ principal) error {
	var req ReleaseRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	format, err := archiveFormat(r)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "steward-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bundle")

	spec := registry.ReleaseSpec{Purpose: req.Purpose, Modalities: req.Modalities, Licensee: req.Licensee, Out: out, WithData: req.WithData}
	if req.Until != nil {
		spec.Terms.Until = *req.Until
	}
	res, err := s.reg.BuildRelease(r.Context(), spec)
	if err != nil {
		return inputError(err)
	}
	summary := releaseResult{
		Release: toReleaseJSON(res.Release), Considered: res.Trailer.Selection.Considered,
		Excluded: res.Trailer.Selection.Excluded, ExcludedPurposes: res.Trailer.ExcludedPurposes, Checkpoint: res.Checkpoint.Size,
	}
	requestLogger(r.Context(), s.log).Info("release built", "release", res.Release.ID, "samples", res.Release.SampleCount)
	w.Header().Set("Location", "/api/v1/releases/"+res.Release.ID)
	if format == "" {
		writeJSON(w, http.StatusCreated, summary)
		return nil
	}
	header, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	w.Header().Set("Steward-Release", string(header))
	return s.sendArchive(w, r, out, format, res.Release.ID, http.StatusCreated)
}

// exportTo writes a release's bundle to a new temporary folder and returns
// it and the function that removes it.
func (s *Server) exportTo(r *http.Request, id string, withData bool) (string, func(), error) {
	tmp, err := os.MkdirTemp("", "steward-export-")
	if err != nil {
		return "", nil, err
	}
	out := filepath.Join(tmp, "bundle")
	if err := s.reg.ExportRelease(r.Context(), id, out, withData); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return out, func() { os.RemoveAll(tmp) }, nil
}

// fileJSON is one file of a release bundle.
type fileJSON struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
}

func (s *Server) releaseFiles(w http.ResponseWriter, r *http.Request, p principal) error {
	rel, err := s.release(r, p)
	if err != nil {
		return err
	}
	dir, cleanup, err := s.exportTo(r, rel.ID, false)
	if err != nil {
		return err
	}
	defer cleanup()
	files := []fileJSON{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		files = append(files, fileJSON{Path: filepath.ToSlash(rel), Size: n, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"release": rel.ID, "files": files})
	return nil
}

func (s *Server) releaseBundle(w http.ResponseWriter, r *http.Request, p principal) error {
	rel, err := s.release(r, p)
	if err != nil {
		return err
	}
	format, err := archiveFormat(r)
	if err != nil {
		return err
	}
	if format == "" {
		format = tarType
	}
	var withData bool
	switch v := r.URL.Query().Get("data"); v {
	case "true":
		withData = true
	case "false", "":
	default:
		return newError(http.StatusBadRequest, "invalid data %q: use true or false", v)
	}
	if withData && p.is(registry.RoleAuditor) {
		return newError(http.StatusForbidden, "an auditor token receives bundles without recordings: leave out data=true")
	}
	dir, cleanup, err := s.exportTo(r, rel.ID, withData)
	if err != nil {
		return err
	}
	defer cleanup()
	return s.sendArchive(w, r, dir, format, rel.ID, http.StatusOK)
}

// sendArchive streams the files of dir as a tar or zip. Once the first
// byte is sent an error can only be logged, and the client sees a
// truncated archive.
func (s *Server) sendArchive(w http.ResponseWriter, r *http.Request, dir, format, name string, status int) error {
	ext := ".tar"
	if format == zipType {
		ext = ".zip"
	}
	w.Header().Set("Content-Type", format)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s%s"`, name, ext))
	w.WriteHeader(status)
	var err error
	if format == zipType {
		err = writeZip(w, dir)
	} else {
		err = writeTar(w, dir)
	}
	if err != nil {
		requestLogger(r.Context(), s.log).Error("sending archive failed", "archive", name, "error", err)
	}
	return nil
}

func writeTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return tw.Close()
}

func writeZip(w io.Writer, dir string) error {
	zw := zip.NewWriter(w)
	if err := zw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return zw.Close()
}

func (s *Server) releaseNotices(w http.ResponseWriter, r *http.Request, p principal) error {
	rel, err := s.release(r, p)
	if err != nil {
		return err
	}
	_, notices, err := s.reg.ReleaseStatus(r.Context(), rel.ID)
	if err != nil {
		return err
	}
	out := []noticeJSON{}
	for _, n := range notices {
		out = append(out, toNoticeJSON(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"release": toReleaseJSON(rel), "notices": out})
	return nil
}

// feedItem is one revocation notice as a JSON Feed 1.1 item; the notice
// itself is in the _steward extension.
type feedItem struct {
	ID            string     `json:"id"`
	Title         string     `json:"title"`
	ContentText   string     `json:"content_text"`
	DatePublished time.Time  `json:"date_published"`
	Steward       noticeJSON `json:"_steward"`
}

// noticeFeed serves the revocation notices of every release the caller may
// see, newest first, as a JSON Feed 1.1 (https://jsonfeed.org/version/1.1).
func (s *Server) noticeFeed(w http.ResponseWriter, r *http.Request, p principal) error {
	releases, err := s.visibleReleases(r, p)
	if err != nil {
		return err
	}
	items := []feedItem{}
	for _, rel := range releases {
		_, notices, err := s.reg.ReleaseStatus(r.Context(), rel.ID)
		if err != nil {
			return err
		}
		for _, n := range notices {
			items = append(items, feedItem{
				ID:    n.ID,
				Title: fmt.Sprintf("Release %s: %s, %d samples to %s", n.Release, n.Reason, len(n.Samples), n.Action),
				ContentText: fmt.Sprintf("Consent behind %d samples of release %s was %s on %s. Action: %s. Acknowledge with POST /api/v1/notices/%s/acknowledgements.",
					len(n.Samples), n.Release, n.Reason, n.IssuedAt.Format(time.RFC3339), n.Action, n.ID),
				DatePublished: n.IssuedAt,
				Steward:       toNoticeJSON(n),
			})
		}
	}
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	w.Header().Set("Content-Type", "application/feed+json")
	w.Header().Set("Cache-Control", "no-store")
	feed := map[string]any{
		"version": "https://jsonfeed.org/version/1.1",
		"title":   "Revocation notices of " + s.reg.Origin(),
		"items":   items,
	}
	return json.NewEncoder(w).Encode(feed)
}

// AcknowledgeRequest is the body of POST /api/v1/notices/{id}/acknowledgements.
type AcknowledgeRequest struct {
	// Licensee is needed only with an admin token; a licensee token
	// acknowledges for its own licensee.
	Licensee string `json:"licensee,omitempty"`
}

func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request, p principal) error {
	var req AcknowledgeRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	licensee := req.Licensee
	if p.is(registry.RoleLicensee) {
		if req.Licensee != "" && req.Licensee != p.token.Licensee {
			return newError(http.StatusForbidden, "a licensee token acknowledges only for its own licensee %q", p.token.Licensee)
		}
		licensee = p.token.Licensee
	}

	// A notice of a release the caller may not see is refused like one
	// that does not exist.
	id := r.PathValue("id")
	errNotice := newError(http.StatusNotFound, "notice %q not found", id)
	var n storage.Notice
	var rel storage.Release
	err := s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		var err error
		if n, err = tx.Notice(r.Context(), id); err != nil {
			return err
		}
		rel, err = tx.Release(r.Context(), n.Release)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !canSeeRelease(p, rel)) {
		return errNotice
	}
	if err != nil {
		return err
	}

	ack, err := s.reg.Acknowledge(r.Context(), id, licensee)
	if err != nil {
		if strings.Contains(err.Error(), "already acknowledged") {
			return newError(http.StatusConflict, "%s", err.Error())
		}
		return inputError(err)
	}
	writeJSON(w, http.StatusCreated, acknowledgement{Licensee: ack.Licensee, At: ack.At, EventIndex: ack.EventIndex})
	return nil
}

func (s *Server) scanNotices(w http.ResponseWriter, r *http.Request, _ principal) error {
	notices, err := s.reg.ScanNotices(r.Context())
	if err != nil {
		return err
	}
	out := []noticeJSON{}
	for _, n := range notices {
		out = append(out, toNoticeJSON(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"notices": out})
	return nil
}
