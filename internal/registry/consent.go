package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// GrantInput is a consent form's choices.
type GrantInput struct {
	Document   string
	Tiers      []string
	Modalities []string
	// Deny records a refusal for the scope instead of a permission.
	Deny bool
	// From and Until bound the period; a zero From means the signing time,
	// a nil Until an open end.
	From  time.Time
	Until *time.Time
	// SignedAt is when the participant signed; zero means now. It may not
	// be in the future.
	SignedAt time.Time
	Method   string
	Witness  string
	// Guardian marks a grant made by a minor's guardian. Assent is the
	// child's (given, refused, not-applicable) and MajorityMonth (YYYY-MM)
	// when the child comes of age.
	Guardian      bool
	Assent        string
	MajorityMonth string
}

// WithdrawInput narrows or ends consent. Empty tiers or modalities mean all.
type WithdrawInput struct {
	Tiers      []string
	Modalities []string
	// At is when the withdrawal takes effect; zero means now.
	At      time.Time
	Method  string
	Witness string
}

// Grant records a consent grant for the participant ref (source id or
// pseudonym).
func (r *Registry) Grant(ctx context.Context, ref string, in GrantInput) (consent.Record, error) {
	now := r.now().UTC()
	rec := consent.Record{
		ID:         ident.New(ident.Consent),
		Action:     consent.ActionGrant,
		Decision:   consent.Permit,
		Document:   in.Document,
		Tiers:      in.Tiers,
		Modalities: in.Modalities,
		From:       in.From.UTC(),
		Until:      in.Until,
		SignedAt:   in.SignedAt.UTC(),
		Method:     in.Method,
		Witness:    in.Witness,
	}
	if in.Deny {
		rec.Decision = consent.Deny
	}
	if in.SignedAt.IsZero() {
		rec.SignedAt = now
	}
	if in.From.IsZero() {
		rec.From = rec.SignedAt
	}
	if rec.Until != nil {
		u := rec.Until.UTC()
		rec.Until = &u
	}
	if rec.Method == "" {
		rec.Method = "written"
	}
	if in.Guardian {
		rec.Grantor, rec.Assent, rec.MajorityMonth = consent.GrantorGuardian, in.Assent, in.MajorityMonth
	} else if in.Assent != "" || in.MajorityMonth != "" {
		return rec, fmt.Errorf("assent and majority month apply to a guardian's grant only: pass --guardian")
	}
	if rec.SignedAt.After(now) {
		return rec, fmt.Errorf("signing time %s is in the future: a consent can only be recorded after it was given", rec.SignedAt.Format(time.RFC3339))
	}
	return r.recordConsent(ctx, ref, rec, event.TypeConsentGranted)
}

// Withdraw records a withdrawal for the participant ref. Nil tiers or
// modalities mean all of them. An empty list is an error, because it was
// meant to name some and must not withdraw everything.
func (r *Registry) Withdraw(ctx context.Context, ref string, in WithdrawInput) (consent.Record, error) {
	if in.Tiers != nil && len(in.Tiers) == 0 {
		return consent.Record{}, fmt.Errorf("the list of tiers to withdraw is empty: name the tiers, or leave the list out to withdraw all of them")
	}
	if in.Modalities != nil && len(in.Modalities) == 0 {
		return consent.Record{}, fmt.Errorf("the list of modalities to withdraw is empty: name the modalities, or leave the list out to withdraw all of them")
	}
	now := r.now().UTC()
	rec := consent.Record{
		ID:         ident.New(ident.Consent),
		Action:     consent.ActionWithdraw,
		Tiers:      in.Tiers,
		Modalities: in.Modalities,
		From:       in.At.UTC(),
		SignedAt:   now,
		Method:     in.Method,
		Witness:    in.Witness,
	}
	if len(rec.Tiers) == 0 {
		rec.Tiers = consent.Tiers
	}
	if len(rec.Modalities) == 0 {
		rec.Modalities = provenance.Modalities
	}
	if in.At.IsZero() {
		rec.From = now
	}
	if rec.Method == "" {
		rec.Method = "written"
	}
	return r.recordConsent(ctx, ref, rec, event.TypeConsentWithdrawn)
}

// Invalidate records that an ethics board, a court or another authority
// voided a consent record: the record never counted, past uses included.
func (r *Registry) Invalidate(ctx context.Context, ref, recordID, authority, reason string) (consent.Record, error) {
	now := r.now().UTC()
	rec := consent.Record{
		ID: ident.New(ident.Consent), Action: consent.ActionInvalidate, Voids: recordID,
		Authority: authority, Reason: reason, SignedAt: now, From: now, Method: "written",
		Tiers: []string{}, Modalities: []string{},
	}
	return r.recordConsent(ctx, ref, rec, event.TypeConsentInvalidated)
}

func (r *Registry) recordConsent(ctx context.Context, ref string, rec consent.Record, typ string) (consent.Record, error) {
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		p, err := r.resolve(ctx, w.tx, ref)
		if err != nil {
			return err
		}
		// Withdrawals and invalidations of an erased participant's past
		// records stay possible; a new grant would permit nothing.
		if !p.ErasedAt.IsZero() && rec.Action == consent.ActionGrant {
			return fmt.Errorf("participant %s was erased at their request on %s: no consent can be granted for them", p.Pseudonym, p.ErasedAt.UTC().Format(time.DateOnly))
		}
		rec.Participant = p.Pseudonym
		if err := rec.Validate(provenance.Modalities); err != nil {
			return err
		}
		if err := checkAgainstHistory(ctx, w.tx, rec); err != nil {
			return err
		}
		idx, err := w.append(typ, event.ConsentRecorded{Record: rec})
		if err != nil {
			return err
		}
		rec.Seq = idx
		if err := w.tx.InsertConsentRecord(ctx, rec, idx); err != nil {
			return err
		}
		if _, err = r.issueNotices(ctx, w, p.Pseudonym); err != nil {
			return err
		}
		return r.settleParticipant(ctx, w, p.Pseudonym)
	})
	return rec, err
}

// resolve finds an existing participant by pseudonym or source id.
func (r *Registry) resolve(ctx context.Context, tx storage.ReadTx, ref string) (storage.Participant, error) {
	p, err := r.lookup(ctx, tx, "", ref)
	if err != nil {
		return storage.Participant{}, err
	}
	if p == nil {
		ns, id := "", ref
		if before, after, ok := strings.Cut(ref, ":"); ok {
			ns, id = before, after
		}
		if erased, err := r.erasedSource(ctx, tx, ns, id); err != nil {
			return storage.Participant{}, err
		} else if erased {
			return storage.Participant{}, fmt.Errorf("participant %q was erased at their request, so the id no longer names anyone; use their pseudonym to see what remains of the record: %w", ref, storage.ErrNotFound)
		}
		return storage.Participant{}, fmt.Errorf("unknown participant %q: register their samples first (steward import or steward ingest), or use their pseudonym: %w", ref, storage.ErrNotFound)
	}
	return *p, nil
}

// ConsentHistory returns a participant's consent history and the terms of
// the registered documents, which decisions need.
func (r *Registry) ConsentHistory(ctx context.Context, ref string) (storage.Participant, []consent.Record, consent.Library, error) {
	var p storage.Participant
	var records []consent.Record
	var lib consent.Library
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if p, err = r.resolve(ctx, tx, ref); err != nil {
			return err
		}
		if records, err = tx.ConsentRecords(ctx, p.Pseudonym); err != nil {
			return err
		}
		lib, _, err = library(ctx, tx)
		return err
	})
	return p, records, lib, err
}

// IsNotFound reports whether err means a looked-up object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// checkAgainstHistory checks a record against the registered documents and
// the participant's history: a grant must use a registered document and
// choose only what it offers, and an invalidation must void an existing
// record of the same participant.
func checkAgainstHistory(ctx context.Context, tx storage.ReadTx, rec consent.Record) error {
	switch rec.Action {
	case consent.ActionGrant:
		if err := checkMajority(ctx, tx, rec); err != nil {
			return err
		}
		doc, err := tx.ConsentDocument(ctx, rec.Document)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("unknown consent document %q: register it with `steward consent document add FILE`, or use one listed by `steward consent document list`", rec.Document)
		} else if err != nil {
			return err
		}
		if from := doc.Document.EffectiveFrom(); !from.IsZero() && rec.SignedAt.Before(from) {
			return fmt.Errorf("signing time %s is before document %s came into use on %s: check --signed, or the document version",
				rec.SignedAt.Format(time.RFC3339), rec.Document, doc.Document.Effective)
		}
		for _, t := range rec.Tiers {
			if !slices.Contains(doc.Document.Tiers, t) {
				return fmt.Errorf("document %s offers no %s tier: it offers %s", rec.Document, t, strings.Join(doc.Document.Tiers, ", "))
			}
		}
		for _, m := range rec.Modalities {
			if !slices.Contains(doc.Document.Modalities, m) {
				return fmt.Errorf("document %s offers no box for %s recordings: it offers %s", rec.Document, m, strings.Join(doc.Document.Modalities, ", "))
			}
		}
	case consent.ActionInvalidate:
		history, err := tx.ConsentRecords(ctx, rec.Participant)
		if err != nil {
			return err
		}
		found := false
		for _, h := range history {
			if h.ID == rec.Voids && h.Action == consent.ActionGrant {
				found = true
			}
			if h.Action == consent.ActionInvalidate && h.Voids == rec.Voids {
				return fmt.Errorf("consent record %s is already invalidated by %s", rec.Voids, h.ID)
			}
		}
		if !found {
			return fmt.Errorf("participant %s has no grant %s to invalidate: see `steward consent show`", rec.Participant, rec.Voids)
		}
	}
	return nil
}

// checkMajority keeps a minor's consent with their guardian: it rejects a
// participant's own permit signed before the majority month an earlier
// guardian's grant states, a guardian's grant for a participant already of
// age, and a majority month that contradicts an earlier guardian's grant.
func checkMajority(ctx context.Context, tx storage.ReadTx, rec consent.Record) error {
	if rec.Grantor != consent.GrantorGuardian {
		return checkNotMinor(ctx, tx, rec)
	}
	month, err := time.Parse("2006-01", rec.MajorityMonth)
	if err != nil {
		return fmt.Errorf("invalid --majority %q: give the month the participant comes of age, such as 2031-04", rec.MajorityMonth)
	}
	if !rec.SignedAt.Before(month) {
		return fmt.Errorf("the participant came of age in %s, before this grant was signed: they grant consent themselves, without --guardian", rec.MajorityMonth)
	}
	history, err := tx.ConsentRecords(ctx, rec.Participant)
	if err != nil {
		return err
	}
	for _, h := range history {
		if h.Grantor == consent.GrantorGuardian && h.MajorityMonth != rec.MajorityMonth {
			return fmt.Errorf("majority month %s contradicts %s in the guardian's grant %s: correct the month, or invalidate that grant first", rec.MajorityMonth, h.MajorityMonth, h.ID)
		}
	}
	return nil
}

// checkNotMinor rejects a permit a participant signs themselves while a
// guardian's grant says they are a minor: a child can refuse, but cannot
// override their guardian or their own refused assent.
func checkNotMinor(ctx context.Context, tx storage.ReadTx, rec consent.Record) error {
	if rec.Decision != consent.Permit {
		return nil
	}
	history, err := tx.ConsentRecords(ctx, rec.Participant)
	if err != nil {
		return err
	}
	for _, h := range history {
		if h.Grantor != consent.GrantorGuardian {
			continue
		}
		month, err := time.Parse("2006-01", h.MajorityMonth)
		if err == nil && rec.SignedAt.Before(month) {
			return fmt.Errorf("participant %s is a minor until %s (guardian's grant %s): record their consent with --guardian, or from %s on as an adult",
				rec.Participant, h.MajorityMonth, h.ID, h.MajorityMonth)
		}
	}
	return nil
}
