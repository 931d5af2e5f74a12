package registry

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/storage"
)

// ParticipantView is everything the registry holds about one participant,
// as they may see it: their recordings, the releases that used them, their
// consent history and the documents they signed.
type ParticipantView struct {
	Participant storage.Participant
	Samples     []storage.Sample
	// Releases lists each release that contains any of the participant's
	// samples, oldest first, with the ids of those samples.
	Releases []ReleaseUse
	Consent  []consent.Record
	// Documents are the registered consent documents the participant's
	// records name, in registration order.
	Documents []storage.ConsentDocument
	Library   consent.Library
}

// ReleaseUse is one release that used a participant's samples.
type ReleaseUse struct {
	Release storage.Release
	Samples []string
	Notices []storage.Notice
}

// ParticipantView reads what the registry holds about the participant ref
// (a source id or pseudonym) in one snapshot.
func (r *Registry) ParticipantView(ctx context.Context, ref string) (*ParticipantView, error) {
	v := &ParticipantView{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if v.Participant, err = r.resolve(ctx, tx, ref); err != nil {
			return err
		}
		pseudonym := v.Participant.Pseudonym
		err = tx.Samples(ctx, storage.SampleFilter{Participant: pseudonym}, func(s storage.Sample) error {
			v.Samples = append(v.Samples, s)
			return nil
		})
		if err != nil {
			return err
		}
		if err := r.readReleaseUses(ctx, tx, v); err != nil {
			return err
		}
		if v.Consent, err = tx.ConsentRecords(ctx, pseudonym); err != nil {
			return err
		}
		if v.Library, _, err = library(ctx, tx); err != nil {
			return err
		}
		return readSignedDocuments(ctx, tx, v)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (r *Registry) readReleaseUses(ctx context.Context, tx storage.ReadTx, v *ParticipantView) error {
	released, err := tx.ReleasedSamplesOf(ctx, v.Participant.Pseudonym)
	if err != nil {
		return err
	}
	for id, samples := range released {
		rel, err := tx.Release(ctx, id)
		if err != nil {
			return err
		}
		notices, err := tx.Notices(ctx, id)
		if err != nil {
			return err
		}
		var mine []storage.Notice
		for _, n := range notices {
			if n.Participant == v.Participant.Pseudonym {
				mine = append(mine, n)
			}
		}
		v.Releases = append(v.Releases, ReleaseUse{Release: rel, Samples: samples, Notices: mine})
	}
	sort.Slice(v.Releases, func(i, j int) bool { return v.Releases[i].Release.EventIndex < v.Releases[j].Release.EventIndex })
	return nil
}

func readSignedDocuments(ctx context.Context, tx storage.ReadTx, v *ParticipantView) error {
	signed := map[string]bool{}
	for _, rec := range v.Consent {
		if rec.Document != "" {
			signed[rec.Document] = true
		}
	}
	docs, err := tx.ConsentDocuments(ctx)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if signed[d.Document.Version] {
			v.Documents = append(v.Documents, d)
		}
	}
	return nil
}

// OpenRecording decrypts the recording of a sample. It fails for a sample
// whose participant was erased.
func (r *Registry) OpenRecording(ctx context.Context, sampleID string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		s, err := tx.Sample(ctx, sampleID)
		if err != nil {
			return err
		}
		if s.BlobKey == "" {
			return fmt.Errorf("the recording of sample %s was erased at its participant's request", sampleID)
		}
		key, err := r.dataKey(ctx, tx, s.Participant)
		if err != nil {
			return err
		}
		rc, err = content.Open(ctx, r.blobs, key, location(s))
		return err
	})
	return rc, err
}
