package registry

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// ErasureReport is the outcome of an erasure: what it destroyed and which
// releases it notified.
type ErasureReport struct {
	Participant string
	Samples     int
	// Notices are the revocation notices sent to releases that held the
	// participant's samples.
	Notices []storage.Notice
	// EventIndex is the log index of the erasure event.
	EventIndex uint64
	// PacksRewritten counts packs rewritten without the erased recordings.
	PacksRewritten int
	// TokensRevoked counts the participant's API tokens, sign-in links and
	// sessions that the erasure revoked.
	TokensRevoked int
	// PaymentsVoided counts the pending per-sample payments the erasure
	// voided.
	PaymentsVoided int
	// Unclaimed are the transfers that moved the participant's balance to
	// the unclaimed account, one per currency.
	Unclaimed []ledger.Transfer
}

// Erase carries out a participant's request to be forgotten. In one
// transaction it logs the erasure and sends a revocation notice to every
// release holding their samples. The same transaction destroys their data
// key, which makes every copy of their recordings unreadable, and clears
// their source id, attributes and the sources of their samples. It also
// revokes every token of the participant, voids their pending payments and
// moves their balance to the unclaimed account (see unclaimed.go), because
// the registry can no longer pay them. Then Erase deletes the recordings
// from the blob store, rewriting shared packs without them.
//
// The log is not touched: it never held the participant's identity, so
// every earlier checkpoint and proof stays valid. A crash after the
// transaction leaves unreadable objects that `steward gc` removes.
func (r *Registry) Erase(ctx context.Context, ref string) (*ErasureReport, error) {
	rep := &ErasureReport{}
	var locations []content.Location
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		*rep, locations = ErasureReport{}, nil
		p, err := r.resolve(ctx, w.tx, ref)
		if err != nil {
			return err
		}
		if !p.ErasedAt.IsZero() {
			return fmt.Errorf("participant %s was erased at %s", p.Pseudonym, p.ErasedAt.Format("2006-01-02T15:04:05Z"))
		}
		rep.Participant = p.Pseudonym
		err = w.tx.Samples(ctx, storage.SampleFilter{Participant: p.Pseudonym}, func(s storage.Sample) error {
			locations = append(locations, location(s))
			return nil
		})
		if err != nil {
			return err
		}
		rep.Samples = len(locations)
		if rep.Notices, err = r.erasureNotices(ctx, w, p.Pseudonym); err != nil {
			return err
		}
		rep.EventIndex, err = w.append(event.TypeParticipantErased, event.ParticipantErased{Participant: p.Pseudonym, Samples: rep.Samples})
		if err != nil {
			return err
		}
		if rep.PaymentsVoided, err = r.voidPending(ctx, w, p.Pseudonym); err != nil {
			return err
		}
		if rep.Unclaimed, err = r.moveBalanceToUnclaimed(ctx, w, p.Pseudonym, "erasure:"+p.Pseudonym); err != nil {
			return err
		}
		if rep.TokensRevoked, err = r.revokeParticipantTokens(ctx, w, p.Pseudonym); err != nil {
			return err
		}
		key, err := r.erasureKey(true)
		if err != nil {
			return err
		}
		return w.tx.EraseParticipant(ctx, p.Pseudonym, tombstone(key, p.Namespace, p.SourceID), r.now().UTC())
	})
	if err != nil {
		return nil, err
	}
	r.keyCache.Delete(rep.Participant)
	r.log.Info("participant erased", "participant", rep.Participant, "samples", rep.Samples, "notices", len(rep.Notices),
		"tokens_revoked", rep.TokensRevoked, "payments_voided", rep.PaymentsVoided, "unclaimed_transfers", len(rep.Unclaimed))

	rep.PacksRewritten, err = r.destroyRecordings(ctx, locations)
	if err != nil {
		return rep, fmt.Errorf("participant %s is erased and their data key destroyed, but removing their recordings failed (run steward gc to finish): %w", rep.Participant, err)
	}
	return rep, nil
}

// erasureNotices sends every release holding the participant's samples a
// notice to delete them.
func (r *Registry) erasureNotices(ctx context.Context, w *writer, pseudonym string) ([]storage.Notice, error) {
	released, err := w.tx.ReleasedSamplesOf(ctx, pseudonym)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(released))
	for id := range released {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []storage.Notice
	for _, id := range ids {
		n := storage.Notice{
			ID: ident.New(noticePrefix), Release: id, Participant: pseudonym, Reason: NoticeErased,
			Action: ActionDelete, Samples: released[id], IssuedAt: r.now().UTC(),
		}
		n.EventIndex, err = w.append(event.TypeRevocationNotice, event.RevocationNotice{
			Notice: n.ID, Release: n.Release, Participant: n.Participant, Samples: n.Samples,
			Reason: n.Reason, Action: n.Action, IssuedAt: n.IssuedAt,
		})
		if err != nil {
			return nil, err
		}
		if err := w.tx.InsertNotice(ctx, n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// destroyRecordings deletes whole-object recordings and rewrites every
// pack that held one without it.
func (r *Registry) destroyRecordings(ctx context.Context, locations []content.Location) (int, error) {
	packs := map[string]bool{}
	for _, loc := range locations {
		switch {
		case loc.Key == "":
		case loc.Length > 0:
			packs[loc.Key] = true
		default:
			if err := r.blobs.Delete(ctx, loc.Key); err != nil {
				return 0, err
			}
		}
	}
	keys := make([]string, 0, len(packs))
	for k := range packs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := r.rewritePack(ctx, k); err != nil {
			return 0, err
		}
	}
	return len(keys), r.blobs.Sync(ctx)
}

// rewritePack copies the recordings that samples still reference from a
// pack into a new pack, points those samples at it, and deletes the old
// pack. Each step is safe to interrupt: the new pack is durable before the
// samples move to it, and the old one goes only after they have.
func (r *Registry) rewritePack(ctx context.Context, key string) error {
	var kept []storage.Sample
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		kept, err = tx.SamplesInBlob(ctx, key)
		return err
	})
	if err != nil {
		return err
	}
	if len(kept) > 0 {
		if err := r.repack(ctx, key, kept); err != nil {
			return err
		}
	}
	return r.blobs.Delete(ctx, key)
}

func (r *Registry) repack(ctx context.Context, key string, kept []storage.Sample) error {
	var pack content.Pack
	locs := make([]*content.Location, len(kept))
	for i, s := range kept {
		rc, err := r.blobs.OpenRange(ctx, key, s.BlobOffset, s.BlobLength)
		if err != nil {
			return err
		}
		ciphertext, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("read sample %s from pack %s: %w", s.ID, key, err)
		}
		locs[i] = pack.Add(ciphertext)
	}
	sealed := pack.Seal()
	if err := sealed.Write(ctx, r.blobs); err != nil {
		return err
	}
	if err := r.blobs.Sync(ctx); err != nil {
		return err
	}
	return r.store.Update(ctx, func(tx storage.Tx) error {
		for i, s := range kept {
			if err := tx.RelocateSample(ctx, s.ID, locs[i].Key, locs[i].Offset, locs[i].Length); err != nil {
				return err
			}
		}
		return nil
	})
}
