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
	// Participant names the participant (source id or pseudonym). Empty
	// means the Steward pseudonym in the Consents' subject.
	Participant string
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
	Records  []consent.Record
}

// ImportConsent reads FHIR Consent resources (one, or a Bundle) and records
// grant records that decide as the Consents do (see fhirconsent.Convert).
// Everything is checked before anything is written, and all records are
// logged in one transaction, so a bad file changes nothing.
//
// The records join the participant's existing history, where consent.Decide
// combines them with it: an existing deny or a later withdrawal still
// applies to them.
func (r *Registry) ImportConsent(ctx context.Context, raw []byte, opts ImportOptions) (*ImportResult, error) {
	parsed, err := fhirconsent.Parse(raw, opts.Version)
	if err != nil {
		return nil, err
	}
	ref, err := importParticipant(parsed.Consents, opts.Participant)
	if err != nil {
		return nil, err
	}

	res := &ImportResult{Consents: len(parsed.Consents), Skipped: parsed.Skipped}
	err = r.update(ctx, func(ctx context.Context, w *writer) error {
		res.Records = nil
		p, err := r.resolve(ctx, w.tx, ref)
		if err != nil {
			return err
		}
		res.Participant = p.Pseudonym
		lib, _, err := library(ctx, w.tx)
		if err != nil {
			return err
		}
		docs, err := w.tx.ConsentDocuments(ctx)
		if err != nil {
			return err
		}
		versions := make([]string, len(docs))
		for i, d := range docs {
			versions[i] = d.Document.Version
		}
		if opts.Document != "" && !slices.Contains(versions, opts.Document) {
			return fmt.Errorf("unknown consent document %q given with --document: register it with `steward consent document add FILE`, or use one listed by `steward consent document list`", opts.Document)
		}
		records, err := fhirconsent.Convert(parsed.Consents, fhirconsent.ConvertOptions{
			Library: lib, Documents: versions, Fallback: opts.Document, Now: r.now().UTC(),
		})
		if err != nil {
			return err
		}
		if len(records) == 0 {
			return fmt.Errorf("nothing to import: no Consent in the file is active or inactive, so none decides anything")
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
			idx, err := w.append(event.TypeConsentGranted, event.ConsentRecorded{Record: records[i]})
			if err != nil {
				return err
			}
			records[i].Seq = idx
			if err := w.tx.InsertConsentRecord(ctx, records[i], idx); err != nil {
				return err
			}
		}
		if _, err := r.issueNotices(ctx, w, p.Pseudonym); err != nil {
			return err
		}
		res.Records = records
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("consent imported from FHIR", "participant", res.Participant, "consents", res.Consents, "records", len(res.Records))
	return res, nil
}

// importParticipant returns the participant to import for: the one named
// by the caller, else the single Steward pseudonym the Consents name.
func importParticipant(consents []*fhirconsent.Consent, named string) (string, error) {
	if named != "" {
		return named, nil
	}
	var found, first string
	var missing []string
	for _, c := range consents {
		switch {
		case c.Participant == "":
			missing = append(missing, c.ID)
		case found == "":
			found, first = c.Participant, c.ID
		case c.Participant != found:
			return "", fmt.Errorf("the file names two participants, %s (%s) and %s (%s): import one participant at a time, or pass --participant", found, first, c.Participant, c.ID)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%s: no Steward pseudonym in the subject (identifier system %s): pass --participant with the participant's source id or pseudonym", strings.Join(missing, ", "), fhirconsent.IdentifierPseudonym)
	}
	if found == "" {
		return "", errors.New("no participant named: pass --participant")
	}
	return found, nil
}
