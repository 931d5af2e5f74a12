package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/fhirconsent"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// ExportConsentFHIR returns the consent history of the participant ref
// (source id or pseudonym) as a FHIR Bundle of Consent and Provenance
// resources in release v. It reads one snapshot, so the history, the
// documents and the log entries agree.
func (r *Registry) ExportConsentFHIR(ctx context.Context, ref string, v fhirconsent.Version) ([]byte, error) {
	h := &fhirconsent.History{Origin: r.Origin(), Documents: map[string]consent.Document{}, Events: map[uint64]fhirconsent.Event{}}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		p, err := r.resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		h.Participant = p.Pseudonym
		if h.Records, err = tx.ConsentRecords(ctx, p.Pseudonym); err != nil {
			return err
		}
		if h.Library, _, err = library(ctx, tx); err != nil {
			return err
		}
		docs, err := tx.ConsentDocuments(ctx)
		if err != nil {
			return err
		}
		for _, d := range docs {
			h.Documents[d.Document.Version] = d.Document
		}

		indexes := make([]uint64, len(h.Records))
		for i, rec := range h.Records {
			indexes[i] = rec.Seq
		}
		slices.Sort(indexes)
		return tx.EntriesAt(ctx, indexes, func(index uint64, entry []byte) error {
			e, err := event.Decode(entry)
			if err != nil {
				return fmt.Errorf("log entry %d: %w", index, err)
			}
			h.Events[index] = fhirconsent.Event{Type: e.Type, Time: e.Time}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return fhirconsent.Export(h, v)
}

// ImportOptions adjust ImportConsent.
type ImportOptions struct {
	// Participant names the participant (source id or pseudonym) for a
	// file whose subject names no participant of this registry, such as an
	// export of another registry. Empty means the participant the
	// Consents' subject names.
	Participant string
	// Namespace, when set, limits the participants a subject may name to
	// one namespace, as a steward's token is limited. A subject outside it
	// counts as naming no participant of this registry.
	Namespace string
	// Document is the consent document version for Consents that name
	// none; empty means such Consents cannot permit anything.
	Document string
	// Version forces the FHIR release; empty detects it per resource.
	Version fhirconsent.Version
}

// ImportResult is the outcome of ImportConsent.
type ImportResult struct {
	Participant string
	// Consents is the number of Consent resources read, Skipped the
	// Provenance resources passed over.
	Consents int
	Skipped  []string
	// Unchanged names the Consents imported for the participant before,
	// with the same content, which this import left alone.
	Unchanged []string
	// Records are the records logged, withdrawals first.
	Records []consent.Record
	// Notes describe the subjects the import could not use, such as one
	// that is no participant of this registry.
	Notes []string
}

// ImportConsent reads FHIR Consent resources (one, or a Bundle) and records
// consent records that decide as the Consents do (see fhirconsent.Convert).
// Everything is checked before anything is written, and all records are
// logged in one transaction, so a bad file changes nothing.
//
// Importing is idempotent. The registry keeps each imported resource's key
// (its id) and digest per participant, so resources imported before with
// the same content are left alone, and a resource whose content changed
// under the same id fails the whole import, naming it. Only the resources
// new to the participant are converted.
//
// The records join the participant's existing history, where consent.Decide
// combines them with it: an existing deny or a later withdrawal still
// applies to them, and an imported withdrawal ends earlier records.
func (r *Registry) ImportConsent(ctx context.Context, raw []byte, opts ImportOptions) (*ImportResult, error) {
	parsed, err := fhirconsent.Parse(raw, opts.Version)
	if err != nil {
		return nil, err
	}

	res := &ImportResult{Consents: len(parsed.Consents), Skipped: parsed.Skipped}
	err = r.update(ctx, func(ctx context.Context, w *writer) error {
		res.Records, res.Unchanged, res.Notes = nil, nil, nil
		p, notes, err := r.importParticipant(ctx, w.tx, parsed.Consents, opts)
		if err != nil {
			return err
		}
		res.Participant, res.Notes = p.Pseudonym, notes
		if !p.ErasedAt.IsZero() {
			return fmt.Errorf("participant %s was erased: no consent can be recorded for them", p.Pseudonym)
		}
		fresh, err := newResources(ctx, w.tx, p.Pseudonym, parsed.Consents, res)
		if err != nil || len(fresh) == 0 {
			return err
		}
		records, err := r.convertImport(ctx, w.tx, fresh, opts)
		if err != nil {
			return err
		}

		// Check every record before logging the first, so that an error
		// leaves nothing half-written even before the rollback.
		for i := range records {
			records[i].ID = ident.New(ident.Consent)
			records[i].Participant = p.Pseudonym
			if err := records[i].Validate(provenance.Modalities); err != nil {
				return fmt.Errorf("imported record %d of %d: %w", i+1, len(records), err)
			}
			if err := checkAgainstHistory(ctx, w.tx, records[i]); err != nil {
				return fmt.Errorf("imported record %d of %d: %w", i+1, len(records), err)
			}
		}
		for i := range records {
			typ := event.TypeConsentGranted
			if records[i].Action == consent.ActionWithdraw {
				typ = event.TypeConsentWithdrawn
			}
			idx, err := w.append(typ, event.ConsentRecorded{Record: records[i]})
			if err != nil {
				return err
			}
			records[i].Seq = idx
			if err := w.tx.InsertConsentRecord(ctx, records[i], idx); err != nil {
				return err
			}
		}
		digests := map[string]string{}
		for _, c := range fresh {
			digests[c.Key] = c.Digest
		}
		if err := w.tx.InsertConsentImports(ctx, p.Pseudonym, digests, records[0].Seq); err != nil {
			return err
		}
		if _, err := r.issueNotices(ctx, w, p.Pseudonym); err != nil {
			return err
		}
		res.Records = records
		return r.settleParticipant(ctx, w, p.Pseudonym)
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("consent imported from FHIR", "participant", res.Participant, "consents", res.Consents,
		"unchanged", len(res.Unchanged), "records", len(res.Records))
	return res, nil
}

// newResources returns the Consents not imported for the participant
// before, and lists those imported before with the same content in
// res.Unchanged. A Consent imported before with other content is an error
// naming every such Consent.
//
// A Consent whose id is the id of one of the participant's own records is
// that record, as a Steward export names it, so it is unchanged too. Its
// content may differ from what the record would export now, because an
// export describes a record's effect at that time.
func newResources(ctx context.Context, tx storage.ReadTx, pseudonym string, consents []*fhirconsent.Consent, res *ImportResult) ([]*fhirconsent.Consent, error) {
	known, err := tx.ConsentImports(ctx, pseudonym)
	if err != nil {
		return nil, err
	}
	history, err := tx.ConsentRecords(ctx, pseudonym)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, rec := range history {
		own["Consent/"+rec.ID] = true
	}
	var fresh []*fhirconsent.Consent
	var changed []string
	for _, c := range consents {
		switch digest, seen := known[c.Key]; {
		case own[c.Key]:
			res.Unchanged = append(res.Unchanged, c.ID)
		case !seen:
			fresh = append(fresh, c)
		case digest == c.Digest:
			res.Unchanged = append(res.Unchanged, c.ID)
		default:
			changed = append(changed, c.ID)
		}
	}
	if len(changed) > 0 {
		return nil, fmt.Errorf("%s: imported for participant %s before with other content, and an import never changes a record it made: give a changed Consent a new id, or record the change with steward consent grant or withdraw",
			strings.Join(changed, ", "), pseudonym)
	}
	return fresh, nil
}

// convertImport converts the new Consents of an import into records.
func (r *Registry) convertImport(ctx context.Context, tx storage.ReadTx, fresh []*fhirconsent.Consent, opts ImportOptions) ([]consent.Record, error) {
	lib, _, err := library(ctx, tx)
	if err != nil {
		return nil, err
	}
	docs, err := tx.ConsentDocuments(ctx)
	if err != nil {
		return nil, err
	}
	versions := make([]string, len(docs))
	for i, d := range docs {
		versions[i] = d.Document.Version
	}
	if opts.Document != "" && !slices.Contains(versions, opts.Document) {
		return nil, fmt.Errorf("unknown consent document %q given with --document: register it with `steward consent document add FILE`, or use one listed by `steward consent document list`", opts.Document)
	}
	records, err := fhirconsent.Convert(fresh, fhirconsent.ConvertOptions{
		Library: lib, Documents: versions, Fallback: opts.Document, Now: r.now().UTC(),
	})
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		ids := make([]string, len(fresh))
		for i, c := range fresh {
			ids[i] = c.ID
		}
		return nil, fmt.Errorf("nothing to import: no new Consent in the file (%s) is active or inactive, so none decides anything", strings.Join(ids, ", "))
	}
	return records, nil
}

// importParticipant returns the participant an import is for, and notes
// on subjects it could not use.
//
// A subject names a participant of this registry by a Steward pseudonym
// identifier, or by an identifier or Patient/<id> reference whose value is
// a participant's source id. When opts.Participant is given, every
// participant the subjects name must be that one: a file that names
// another participant is rejected, naming both, because recording one
// participant's consent for another is worse than recording nothing.
// opts.Participant is for files whose subject names no participant here,
// such as an export of another registry, whose pseudonyms this registry
// does not know. Without it, the subjects must name exactly one participant.
func (r *Registry) importParticipant(ctx context.Context, tx storage.ReadTx, consents []*fhirconsent.Consent, opts ImportOptions) (storage.Participant, []string, error) {
	var named *storage.Participant
	if opts.Participant != "" {
		p, err := r.resolve(ctx, tx, opts.Participant)
		if err != nil {
			return p, nil, err
		}
		named = &p
	}

	// Which participants of this registry the subjects name.
	type mention struct {
		consent, id string
		p           storage.Participant
	}
	var mentions []mention
	var notes, unnamed []string
	for _, c := range consents {
		before := len(mentions)
		if c.Participant != "" {
			p, err := tx.Participant(ctx, c.Participant)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				notes = append(notes, fmt.Sprintf("%s: subject %s is not a participant of this registry", c.ID, c.Participant))
			case err != nil:
				return storage.Participant{}, nil, err
			case opts.Namespace != "" && p.Namespace != opts.Namespace:
				// A participant of another organisation: never import for
				// them, and never for anyone else either, because the file
				// is their consent. The error does not say where they are.
				if named == nil {
					return storage.Participant{}, nil, fmt.Errorf("%s: the subject names no participant your organisation manages: import the file with a token of the participant's organisation", c.ID)
				}
				return storage.Participant{}, nil, fmt.Errorf("%s names participant %s in its subject, not %s for whom it is imported: import the file for its subject (without --participant), or check that it is the right file",
					c.ID, c.Participant, opts.Participant)
			default:
				mentions = append(mentions, mention{c.ID, c.Participant, p})
			}
		}
		for _, id := range c.SubjectIDs {
			found, err := tx.ParticipantsBySource(ctx, opts.Namespace, id)
			if err != nil {
				return storage.Participant{}, nil, err
			}
			if named != nil && slices.ContainsFunc(found, func(p storage.Participant) bool { return p.Pseudonym == named.Pseudonym }) {
				found = []storage.Participant{*named}
			}
			switch len(found) {
			case 0:
				notes = append(notes, fmt.Sprintf("%s: subject %s is no participant's source id here", c.ID, id))
			case 1:
				mentions = append(mentions, mention{c.ID, id, found[0]})
			default:
				return storage.Participant{}, nil, fmt.Errorf("%s: subject %s is the source id of participants in %d namespaces: pass --participant with the pseudonym of the one it means", c.ID, id, len(found))
			}
		}
		if len(mentions) == before {
			unnamed = append(unnamed, c.ID)
		}
	}

	if named != nil {
		who := named.Pseudonym
		if opts.Participant != who {
			who = opts.Participant + " (" + who + ")"
		}
		for _, m := range mentions {
			if m.p.Pseudonym != named.Pseudonym {
				return storage.Participant{}, nil, fmt.Errorf("%s names participant %s in its subject, not %s for whom it is imported: import the file for its subject (without --participant), or check that it is the right file",
					m.consent, m.id, who)
			}
		}
		return *named, notes, nil
	}
	var found *storage.Participant
	for _, m := range mentions {
		switch {
		case found == nil:
			found = &m.p
		case found.Pseudonym != m.p.Pseudonym:
			return storage.Participant{}, nil, fmt.Errorf("the file names two participants, %s and %s: import one participant at a time", mentions[0].id, m.id)
		}
	}
	if found == nil || len(unnamed) > 0 {
		if len(unnamed) == 0 {
			unnamed = []string{"every Consent"}
		}
		return storage.Participant{}, nil, fmt.Errorf("%s: the subject names no participant of this registry (by Steward pseudonym, identifier system %s, or source id): pass --participant with the participant's source id or pseudonym",
			strings.Join(unnamed, ", "), fhirconsent.IdentifierPseudonym)
	}
	return *found, notes, nil
}
