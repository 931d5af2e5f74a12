package registry

import (
	"context"
	"errors"
	"fmt"
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
	if rec.SignedAt.After(now) {
		return rec, fmt.Errorf("signing time %s is in the future: a consent can only be recorded after it was given", rec.SignedAt.Format(time.RFC3339))
	}
	return r.recordConsent(ctx, ref, rec, event.TypeConsentGranted)
}

// Withdraw records a withdrawal for the participant ref.
func (r *Registry) Withdraw(ctx context.Context, ref string, in WithdrawInput) (consent.Record, error) {
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

func (r *Registry) recordConsent(ctx context.Context, ref string, rec consent.Record, typ string) (consent.Record, error) {
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		p, err := r.resolve(ctx, w.tx, ref)
		if err != nil {
			return err
		}
		rec.Participant = p.Pseudonym
		if err := rec.Validate(provenance.Modalities); err != nil {
			return err
		}
		idx, err := w.append(typ, event.ConsentRecorded{Record: rec})
		if err != nil {
			return err
		}
		rec.Seq = idx
		return w.tx.InsertConsentRecord(ctx, rec, idx)
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
		return storage.Participant{}, fmt.Errorf("unknown participant %q: register their samples first (steward import or steward ingest), or use their pseudonym: %w", ref, storage.ErrNotFound)
	}
	return *p, nil
}

// ConsentHistory returns a participant's pseudonym and consent history.
func (r *Registry) ConsentHistory(ctx context.Context, ref string) (storage.Participant, []consent.Record, error) {
	var p storage.Participant
	var records []consent.Record
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if p, err = r.resolve(ctx, tx, ref); err != nil {
			return err
		}
		records, err = tx.ConsentRecords(ctx, p.Pseudonym)
		return err
	})
	return p, records, err
}

// IsNotFound reports whether err means a looked-up object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
