package registry

import (
	"context"
	"errors"
	"fmt"

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
		}
		var err error
		if idx, err = w.append(event.TypeConsentDocumentAdded, event.ConsentDocumentAdded{Terms: d.Terms()}); err != nil {
			return err
		}
		return w.tx.InsertConsentDocument(ctx, d, idx)
	})
	return idx, err
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
