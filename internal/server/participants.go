package server

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// sampleJSON is a sample as its participant and their steward see it.
type sampleJSON struct {
	ID              string            `json:"id"`
	Digest          string            `json:"digest"`
	Size            int64             `json:"size"`
	DurationSeconds float64           `json:"durationSeconds,omitempty"`
	Provenance      provenance.Record `json:"provenance"`
	Source          map[string]string `json:"source,omitempty"`
	RegisteredAt    time.Time         `json:"registeredAt"`
	EventIndex      uint64            `json:"eventIndex"`
	Erased          bool              `json:"erased,omitempty"`
}

type releaseUseJSON struct {
	Release releaseJSON  `json:"release"`
	Samples []string     `json:"samples"`
	Notices []noticeJSON `json:"notices,omitempty"`
}

// participantJSON is everything the registry holds about one participant.
type participantJSON struct {
	Pseudonym    string                 `json:"pseudonym"`
	Namespace    string                 `json:"namespace,omitempty"`
	SourceID     string                 `json:"sourceId,omitempty"`
	Attributes   participant.Attributes `json:"attributes"`
	RegisteredAt time.Time              `json:"registeredAt"`
	ErasedAt     *time.Time             `json:"erasedAt,omitempty"`
	Samples      []sampleJSON           `json:"samples"`
	Releases     []releaseUseJSON       `json:"releases"`
	Consent      []recordJSON           `json:"consent"`
	Documents    []documentJSON         `json:"documents"`
}

func toParticipantJSON(v *registry.ParticipantView) participantJSON {
	p := v.Participant
	out := participantJSON{
		Pseudonym: p.Pseudonym, Namespace: p.Namespace, SourceID: p.SourceID, Attributes: p.Attributes, RegisteredAt: p.RegisteredAt,
		Samples: []sampleJSON{}, Releases: []releaseUseJSON{}, Consent: toRecordsJSON(v.Consent), Documents: []documentJSON{},
	}
	if !p.ErasedAt.IsZero() {
		erased := p.ErasedAt
		out.ErasedAt = &erased
	}
	for _, smp := range v.Samples {
		out.Samples = append(out.Samples, sampleJSON{
			ID: smp.ID, Digest: smp.Digest, Size: smp.Size, DurationSeconds: smp.DurationSeconds, Provenance: smp.Provenance,
			Source: smp.Source, RegisteredAt: smp.RegisteredAt, EventIndex: smp.EventIndex, Erased: smp.BlobKey == "",
		})
	}
	for _, use := range v.Releases {
		u := releaseUseJSON{Release: toReleaseJSON(use.Release), Samples: use.Samples}
		for _, n := range use.Notices {
			u.Notices = append(u.Notices, toNoticeJSON(n))
		}
		out.Releases = append(out.Releases, u)
	}
	for _, d := range v.Documents {
		out.Documents = append(out.Documents, documentJSON{Document: d.Document, Digest: d.Document.Digest(), EventIndex: d.EventIndex})
	}
	return out
}

func (s *Server) participant(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	v, err := s.reg.ParticipantView(r.Context(), subject.Pseudonym)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toParticipantJSON(v))
	return nil
}

// decisionJSON is the decision for one purpose and modality.
type decisionJSON struct {
	Purpose  string `json:"purpose"`
	Modality string `json:"modality"`
	Decision string `json:"decision"`
}

func (s *Server) consentHistory(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	at := time.Now().UTC()
	if v := r.URL.Query().Get("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return newError(http.StatusBadRequest, "invalid at %q: use RFC 3339, such as 2026-05-01T10:00:00Z", v)
		}
	}
	_, records, lib, err := s.reg.ConsentHistory(r.Context(), subject.Pseudonym)
	if err != nil {
		return err
	}
	var decisions []decisionJSON
	for _, purpose := range consent.Purposes() {
		for _, m := range provenance.Modalities {
			d := consent.Decide(records, lib, purpose.Code, m, at)
			decisions = append(decisions, decisionJSON{Purpose: purpose.Code, Modality: m, Decision: d.Decision})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"participant": subject.Pseudonym, "at": at, "records": toRecordsJSON(records), "decisions": decisions})
	return nil
}

// GrantRequest is the body of POST .../consent/grants.
type GrantRequest struct {
	Document      string     `json:"document"`
	Tiers         []string   `json:"tiers"`
	Modalities    []string   `json:"modalities"`
	Deny          bool       `json:"deny,omitempty"`
	From          *time.Time `json:"from,omitempty"`
	Until         *time.Time `json:"until,omitempty"`
	SignedAt      *time.Time `json:"signedAt,omitempty"`
	Method        string     `json:"method,omitempty"`
	Witness       string     `json:"witness,omitempty"`
	Guardian      bool       `json:"guardian,omitempty"`
	Assent        string     `json:"assent,omitempty"`
	MajorityMonth string     `json:"majorityMonth,omitempty"`
}

// withdrawBody is WithdrawRequest as the handler reads it, telling a list
// left out from one given as null.
type withdrawBody struct {
	Tiers      optionalList `json:"tiers"`
	Modalities optionalList `json:"modalities"`
	Method     string       `json:"method"`
	Witness    string       `json:"witness"`
}

// optionalList is a list field that records whether it was present.
// encoding/json calls UnmarshalJSON for a present field even when it is
// null, and never for a missing one.
type optionalList struct {
	set    bool
	values []string
}

func (l *optionalList) UnmarshalJSON(raw []byte) error {
	l.set = true
	return json.Unmarshal(raw, &l.values)
}

// WithdrawRequest is the body of POST .../consent/withdrawals.
type WithdrawRequest struct {
	Tiers      []string `json:"tiers,omitempty"`
	Modalities []string `json:"modalities,omitempty"`
	Method     string   `json:"method,omitempty"`
	Witness    string   `json:"witness,omitempty"`
}

// InvalidateRequest is the body of POST .../consent/invalidations.
type InvalidateRequest struct {
	Record    string `json:"record"`
	Authority string `json:"authority"`
	Reason    string `json:"reason,omitempty"`
}

// recordJSON is a consent record with the log index of its event.
// consent.Record leaves the index out of its own encoding, because the
// event that carries the record cannot contain its own index.
type recordJSON struct {
	consent.Record
	EventIndex uint64 `json:"eventIndex"`
}

// toRecordsJSON returns records with their log indexes, and an empty list
// for none.
func toRecordsJSON(records []consent.Record) []recordJSON {
	out := make([]recordJSON, len(records))
	for i, rec := range records {
		out[i] = recordJSON{Record: rec, EventIndex: rec.Seq}
	}
	return out
}

// consentResult is the response to a recorded consent change.
type consentResult struct {
	Record  recordJSON   `json:"record"`
	Index   uint64       `json:"eventIndex"`
	Notices []noticeJSON `json:"notices"`
	// NotCovered and NewestForm tell the caller of a grant under a revised
	// form which purposes stay denied until the participant signs anew.
	NotCovered []string `json:"notCovered,omitempty"`
	NewestForm string   `json:"newestForm,omitempty"`
}

func (s *Server) grant(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	var req GrantRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	in := registry.GrantInput{
		Document: req.Document, Tiers: req.Tiers, Modalities: req.Modalities, Deny: req.Deny, Until: req.Until,
		Method: req.Method, Witness: req.Witness, Guardian: req.Guardian, Assent: req.Assent, MajorityMonth: req.MajorityMonth,
	}
	if req.From != nil {
		in.From = *req.From
	}
	if req.SignedAt != nil {
		in.SignedAt = *req.SignedAt
	}
	if in.Method == "" {
		in.Method = defaultMethod(p)
	}
	return s.recordConsent(w, r, subject, func(ctx context.Context) (consent.Record, error) { return s.reg.Grant(ctx, subject.Pseudonym, in) })
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	var req withdrawBody
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	// Leaving a list out withdraws everything. Encoders write an empty
	// list as null, so null is rejected like [].
	for _, l := range []struct {
		name string
		list optionalList
	}{{"tiers", req.Tiers}, {"modalities", req.Modalities}} {
		if l.list.set && len(l.list.values) == 0 {
			return newError(http.StatusBadRequest, "%s is empty or null: name the %s to withdraw, or leave the field out to withdraw all of them", l.name, l.name)
		}
	}
	in := registry.WithdrawInput{Tiers: req.Tiers.values, Modalities: req.Modalities.values, Method: req.Method, Witness: req.Witness}
	if in.Method == "" {
		in.Method = defaultMethod(p)
	}
	return s.recordConsent(w, r, subject, func(ctx context.Context) (consent.Record, error) { return s.reg.Withdraw(ctx, subject.Pseudonym, in) })
}

func (s *Server) invalidate(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	var req InvalidateRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	return s.recordConsent(w, r, subject, func(ctx context.Context) (consent.Record, error) {
		return s.reg.Invalidate(ctx, subject.Pseudonym, req.Record, req.Authority, req.Reason)
	})
}

// defaultMethod returns how consent given through the server was given:
// electronic by the participant's own hand, else written and recorded by
// staff.
func defaultMethod(p principal) string {
	if p.is(registry.RoleParticipant) {
		return "electronic"
	}
	return "written"
}

// recordConsent runs a consent change and responds with the record and the
// revocation notices it issued.
func (s *Server) recordConsent(w http.ResponseWriter, r *http.Request, subject storage.Participant, change func(context.Context) (consent.Record, error)) error {
	before := s.noticeIDs(r.Context(), subject.Pseudonym)
	rec, err := change(r.Context())
	if err != nil {
		return inputError(err)
	}
	notices, err := s.newNotices(r.Context(), subject.Pseudonym, before)
	if err != nil {
		return err
	}
	out := consentResult{Record: recordJSON{Record: rec, EventIndex: rec.Seq}, Index: rec.Seq, Notices: notices}
	if rec.Action == consent.ActionGrant && rec.Decision == consent.Permit {
		if out.NotCovered, out.NewestForm, err = s.reg.RevisedSince(r.Context(), rec.Document, rec.Tiers); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// noticeIDs returns the ids of the notices about a participant so far.
func (s *Server) noticeIDs(ctx context.Context, pseudonym string) map[string]bool {
	ids := map[string]bool{}
	v, err := s.reg.ParticipantView(ctx, pseudonym)
	if err != nil {
		return ids
	}
	for _, use := range v.Releases {
		for _, n := range use.Notices {
			ids[n.ID] = true
		}
	}
	return ids
}

func (s *Server) newNotices(ctx context.Context, pseudonym string, before map[string]bool) ([]noticeJSON, error) {
	v, err := s.reg.ParticipantView(ctx, pseudonym)
	if err != nil {
		return nil, err
	}
	out := []noticeJSON{}
	for _, use := range v.Releases {
		for _, n := range use.Notices {
			if !before[n.ID] {
				out = append(out, toNoticeJSON(n))
			}
		}
	}
	return out, nil
}

// SignInLinkRequest is the optional body of POST .../signin-links.
type SignInLinkRequest struct {
	// Expires is a Go duration such as 24h; empty means the server's default.
	Expires string `json:"expires,omitempty"`
}

func (s *Server) signInLink(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	ttl := s.cfg.SignInTTL
	if v := r.URL.Query().Get("expires"); v != "" {
		if ttl, err = time.ParseDuration(v); err != nil || ttl <= 0 {
			return newError(http.StatusBadRequest, "invalid expires %q: give a positive duration such as 24h", v)
		}
	}
	issued, err := s.reg.IssueSignInLink(r.Context(), subject.Pseudonym, p.token.ID, ttl)
	if err != nil {
		return inputError(err)
	}
	link := s.cfg.BaseURL + "/signin?token=" + url.QueryEscape(issued.Secret)
	requestLogger(r.Context(), s.log).Info("sign-in link issued", "token", issued.Token.ID, "participant", subject.Pseudonym, "issued_by", p.token.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"url": link, "token": issued.Token.ID, "expiresAt": issued.Token.ExpiresAt})
	return nil
}

func (s *Server) exportParticipant(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	return s.writeCopy(w, r, subject.Pseudonym)
}

// writeCopy sends a zip of everything the registry holds about a
// participant: metadata.json and every recording that was not erased.
func (s *Server) writeCopy(w http.ResponseWriter, r *http.Request, pseudonym string) error {
	v, err := s.reg.ParticipantView(r.Context(), pseudonym)
	if err != nil {
		return err
	}
	meta, err := json.MarshalIndent(toParticipantJSON(v), "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="steward-%s.zip"`, pseudonym))
	w.Header().Set("Cache-Control", "no-store")

	zw := zip.NewWriter(w)
	// Without a time the entry would show as made in 1980.
	f, err := zw.CreateHeader(&zip.FileHeader{Name: "metadata.json", Method: zip.Deflate, Modified: time.Now().UTC()})
	if err != nil {
		return err
	}
	if _, err := f.Write(meta); err != nil {
		return err
	}
	for _, smp := range v.Samples {
		if smp.BlobKey == "" {
			continue
		}
		if err := s.copyRecording(r.Context(), zw, smp); err != nil {
			// The response has started, so the error can only be logged;
			// the client sees a truncated zip.
			requestLogger(r.Context(), s.log).Error("copy of recording failed", "sample", smp.ID, "error", err)
			return nil
		}
	}
	if err := zw.Close(); err != nil {
		requestLogger(r.Context(), s.log).Error("finishing the copy failed", "participant", pseudonym, "error", err)
	}
	return nil
}

func (s *Server) copyRecording(ctx context.Context, zw *zip.Writer, smp storage.Sample) error {
	rc, err := s.reg.OpenRecording(ctx, smp.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := path.Join("recordings", smp.ID+"."+smp.Provenance.Format)
	f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: smp.RegisteredAt})
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rc)
	return err
}

// ErasureRequest is the body of POST .../erasure.
type ErasureRequest struct {
	// Confirm must be true: erasure cannot be undone.
	Confirm bool `json:"confirm"`
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	var req ErasureRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	if !req.Confirm {
		return newError(http.StatusBadRequest, `erasure cannot be undone: send {"confirm": true}`)
	}
	rep, err := s.eraseParticipant(r, p, subject.Pseudonym)
	if err != nil {
		return err
	}
	notices := []noticeJSON{}
	for _, n := range rep.Notices {
		notices = append(notices, toNoticeJSON(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"participant": rep.Participant, "samples": rep.Samples, "eventIndex": rep.EventIndex,
		"packsRewritten": rep.PacksRewritten, "notices": notices, "tokensRevoked": rep.TokensRevoked,
		"paymentsVoided": rep.PaymentsVoided, "unclaimed": toTransfersJSON(rep.Unclaimed),
	})
	return nil
}

func (s *Server) eraseParticipant(r *http.Request, p principal, pseudonym string) (*registry.ErasureReport, error) {
	rep, err := s.reg.Erase(r.Context(), pseudonym)
	if err != nil {
		return nil, inputError(err)
	}
	requestLogger(r.Context(), s.log).Info("participant erased", "participant", pseudonym, "by", p.token.ID, "event_index", rep.EventIndex)
	return rep, nil
}
