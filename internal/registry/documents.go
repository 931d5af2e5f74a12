package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/storage"
)

// AddDocument registers a consent document version and logs its digest and
// terms.
func (r *Registry) AddDocument(ctx context.Context, d consent.Document) (uint64, error) {
	if err := d.Validate(); err != nil {
		return 0, err
	}
	var idx uint64
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		if _, err := w.tx.ConsentDocument(ctx, d.Version); err == nil {
			return fmt.Errorf("consent document %s is already registered: give the new one another version", d.Version)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if d.Supersedes != "" {
			previous, err := w.tx.ConsentDocument(ctx, d.Supersedes)
			if err != nil {
				return fmt.Errorf("document %s supersedes %s, which is not registered: add %s first: %w", d.Version, d.Supersedes, d.Supersedes, err)
			}
			if field := consent.SameChoices(d, previous.Document); d.Revision == consent.RevisionMinor && field != "" {
				return fmt.Errorf("document %s is a minor revision of %s but changes %s: a minor revision changes wording only; make it a major revision that names the purposes it changes",
					d.Version, d.Supersedes, field)
			}
			if err := latestRevision(ctx, w.tx, d); err != nil {
				return err
			}
			// A major revision restricts the old form's grants from the
			// moment it is registered, so participants must be able to sign
			// it from then on.
			if from := d.EffectiveFrom(); d.Revision == consent.RevisionMajor && from.After(r.now()) {
				return fmt.Errorf("invalid effective date %s of major revision %s: it would stop use of %s now, before anyone can sign it; register it on or after %s",
					d.Effective, d.Version, strings.Join(d.ChangedPurposes, ", "), d.Effective)
			}
		}
		var err error
		if idx, err = w.append(event.TypeConsentDocumentAdded, event.ConsentDocumentAdded{Terms: d.Terms()}); err != nil {
			return err
		}
		if err := w.tx.InsertConsentDocument(ctx, d, idx); err != nil {
			return err
		}
		// A major revision ends the old form's grants for the purposes it
		// changed, so released samples can lose their basis now.
		// NOTE: this reads every released sample inside the write
		// transaction, as release scan does. With millions of released
		// samples it holds the writer for as long as a scan takes.
		if d.Revision == consent.RevisionMajor {
			_, err = r.scanNotices(ctx, w)
		}
		return err
	})
	return idx, err
}

// latestRevision rejects a revision of a document that another one already
// revises. Each form then has one line of versions, and a grant under it
// is revised the same way for every participant.
func latestRevision(ctx context.Context, tx storage.ReadTx, d consent.Document) error {
	docs, err := tx.ConsentDocuments(ctx)
	if err != nil {
		return err
	}
	for _, other := range docs {
		if other.Document.Supersedes == d.Supersedes {
			return fmt.Errorf("document %s supersedes %s, which %s already supersedes: revise the newest version, %s, instead",
				d.Version, d.Supersedes, other.Document.Version, NewestRevision(docs, other.Document.Version))
		}
	}
	return nil
}

// NewestRevision follows the line of revisions from version to its end.
func NewestRevision(docs []storage.ConsentDocument, version string) string {
	for {
		next := ""
		for _, d := range docs {
			if d.Document.Supersedes == version {
				next = d.Document.Version
			}
		}
		if next == "" {
			return version
		}
		version = next
	}
}

// RevisedSince returns the purposes of tiers that major revisions of
// document changed, which a grant under it does not cover, and the newest
// revision. Both are empty when nothing revised the document.
func (r *Registry) RevisedSince(ctx context.Context, document string, tiers []string) ([]string, string, error) {
	var lib consent.Library
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		lib, _, err = library(ctx, tx)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	changed, newest := lib.Revised(document, tiers)
	return changed, newest, nil
}

// Documents returns every registered consent document.
func (r *Registry) Documents(ctx context.Context) ([]storage.ConsentDocument, error) {
	var docs []storage.ConsentDocument
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		docs, err = tx.ConsentDocuments(ctx)
		return err
	})
	return docs, err
}

// libraryBefore returns the terms of the documents registered before log
// index before.
func libraryBefore(docs []storage.ConsentDocument, before uint64) consent.Library {
	lib := consent.Library{}
	for _, d := range docs {
		if d.EventIndex < before {
			lib[d.Document.Version] = d.Document.Terms()
		}
	}
	return lib
}

// library returns the terms of every registered document, and the log
// indexes of the events that registered them.
func library(ctx context.Context, tx storage.ReadTx) (consent.Library, []uint64, error) {
	docs, err := tx.ConsentDocuments(ctx)
	if err != nil {
		return nil, nil, err
	}
	lib := consent.Library{}
	var indexes []uint64
	for _, d := range docs {
		lib[d.Document.Version] = d.Document.Terms()
		indexes = append(indexes, d.EventIndex)
	}
	return lib, indexes, nil
}
