package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/probe"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// stageWorkers is how many files are read at once. Each file already uses
// two goroutines for large content; small files gain from overlap.
const stageWorkers = 4

// stageSamples reads every file once, stages it, and checks it against its
// declaration and against the registry.
func (r *Registry) stageSamples(ctx context.Context, b *Batch, bySample []*plannedParticipant) ([]*plannedSample, []Problem) {
	plans := make([]*plannedSample, len(b.Samples))
	errs := make([]error, len(b.Samples))
	forEach(len(b.Samples), stageWorkers, func(i int) error {
		plans[i], errs[i] = r.stageOne(ctx, &b.Samples[i], bySample[i])
		return nil
	})

	var problems []Problem
	for i, err := range errs {
		if err != nil {
			problems = append(problems, Problem{b.Samples[i].Where, err})
		}
	}
	problems = append(problems, r.checkAgainstRegistry(ctx, plans)...)
	return plans, problems
}

func (r *Registry) stageOne(ctx context.Context, in *SampleInput, who *plannedParticipant) (*plannedSample, error) {
	plan := &plannedSample{in: in, who: who}
	rc, err := in.Open()
	if err != nil {
		return plan, err
	}
	defer rc.Close()
	d := in.Declaration
	prober := probe.For(d.Format, probe.Options{TimeUnit: d.TimeUnit})
	plan.staged, err = content.Stage(ctx, r.blobs, who.key, rc, prober)
	if err != nil {
		return plan, err
	}
	if plan.staged.Size == 0 {
		return plan, fmt.Errorf("the file %s is empty: a recording has content; check that it was copied completely", d.Path)
	}
	if plan.staged.ProbeErr != nil {
		return plan, fmt.Errorf("%s content: %w", d.Format, plan.staged.ProbeErr)
	}
	if mm := probe.Compare(d.SamplingRate, d.Channels, plan.staged.Measured); len(mm) > 0 {
		msgs := make([]string, len(mm))
		for i, m := range mm {
			msgs[i] = m.Error()
		}
		return plan, errors.New(strings.Join(msgs, "; "))
	}
	return plan, nil
}

// checkAgainstRegistry finds samples registered before (duplicates) and
// content or ids that collide with other samples.
func (r *Registry) checkAgainstRegistry(ctx context.Context, plans []*plannedSample) []Problem {
	var problems []Problem
	byDigest := map[string]*plannedSample{}
	kept := map[string]provenance.Record{} // the record each digest keeps
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var digests []string
		for _, p := range plans {
			if p != nil && p.staged != nil {
				digests = append(digests, p.staged.Digest)
			}
		}
		stored, err := tx.SamplesByDigest(ctx, digests)
		if err != nil {
			return err
		}
		for _, p := range plans {
			if p == nil || p.staged == nil {
				continue
			}
			digest := p.staged.Digest
			if first, ok := byDigest[digest]; ok {
				if first.who != p.who {
					problems = append(problems, Problem{p.in.Where, fmt.Errorf("same content as %s, which belongs to another participant", first.in.Where)})
				}
				p.duplicate = &storage.Sample{ID: sampleID(digest)}
				p.differs = provenance.Differences(kept[digest], p.in.Declaration.Record)
				continue
			}
			byDigest[digest] = p
			kept[digest] = p.in.Declaration.Record
			if existing, ok := stored[digest]; ok {
				kept[digest] = existing.Provenance
				if existing.Participant != p.who.p.Pseudonym {
					err := r.otherOwner(ctx, tx, p, existing)
					if errors.Is(err, errErasedOwner) {
						p.erasedContent = true
					} else {
						problems = append(problems, Problem{p.in.Where, err})
					}
					continue
				}
				p.duplicate = &existing
				p.differs = provenance.Differences(existing.Provenance, p.in.Declaration.Record)
				if id := p.in.Declaration.ID; id != "" && id != existing.ExternalID {
					p.differs = append(p.differs, "id")
				}
				continue
			}
			if id := p.in.Declaration.ID; id != "" {
				other, err := tx.SampleByExternalID(ctx, id)
				if err == nil && other.Digest != digest {
					problems = append(problems, Problem{p.in.Where, fmt.Errorf("sample id %q already names sample %s, which has other content", id, other.ID)})
				} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		problems = append(problems, Problem{"", err})
	}
	return problems
}

// dropStaged deletes every staged upload of a rejected batch.
func (r *Registry) dropStaged(ctx context.Context, plans []*plannedSample) {
	for _, p := range plans {
		if p != nil && p.staged != nil {
			if err := p.staged.Discard(context.WithoutCancel(ctx), r.blobs); err != nil {
				r.log.Warn("could not delete staged upload; garbage collection will", "key", p.staged.Key, "error", err)
			}
		}
	}
}

// blobKey returns the key of a participant's large recording with the given
// digest. Keys are grouped by participant so that erasure can remove one
// prefix.
func blobKey(pseudonym, digest string) string {
	return "participants/" + pseudonym + "/" + strings.TrimPrefix(digest, "sha256:")
}

// placeRecordings decides where every new recording goes: small ones are
// encrypted into packs, large ones to their content address. It writes
// nothing.
func (r *Registry) placeRecordings(plans []*plannedSample) ([]*content.Sealed, error) {
	ciphertexts := make([][]byte, len(plans))
	err := forEach(len(plans), stageWorkers, func(i int) error {
		p := plans[i]
		if p.duplicate != nil || !p.staged.Small() {
			return nil
		}
		var err error
		ciphertexts[i], err = p.staged.Encrypt(p.who.key)
		return err
	})
	if err != nil {
		return nil, err
	}
	var pack content.Pack
	total := 0
	for _, c := range ciphertexts {
		total += len(c)
	}
	pack.Grow(min(total, content.MaxPackSize))
	var sealed []*content.Sealed
	for i, p := range plans {
		switch {
		case p.duplicate != nil:
		case p.staged.Small():
			p.loc = pack.Add(ciphertexts[i])
			if pack.Len() >= content.MaxPackSize {
				sealed = append(sealed, pack.Seal())
			}
		default:
			p.loc = &content.Location{Key: blobKey(p.who.p.Pseudonym, p.staged.Digest)}
		}
	}
	if s := pack.Seal(); s != nil {
		sealed = append(sealed, s)
	}
	return sealed, nil
}

// storeRecordings writes the packs, moves large recordings from staging to
// their content address, drops the staged copies of duplicates, and makes
// it all durable.
func (r *Registry) storeRecordings(ctx context.Context, packs []*content.Sealed, plans []*plannedSample) error {
	for _, s := range packs {
		if err := s.Write(ctx, r.blobs); err != nil {
			return err
		}
	}
	err := forEach(len(plans), ioWorkers, func(i int) error {
		p := plans[i]
		switch {
		case p.duplicate != nil:
			return p.staged.Discard(ctx, r.blobs)
		case p.staged.Small():
			return nil
		}
		_, err := p.staged.Commit(ctx, r.blobs, p.loc.Key)
		return err
	})
	if err != nil {
		return err
	}
	return r.blobs.Sync(ctx)
}

// ioWorkers is how many large recordings are moved into place at once.
// Renames and server-side copies wait on the device or the network, not the
// CPU, so several in flight hide their latency.
const ioWorkers = 8

// forEach calls fn for 0..n-1 on the given number of goroutines and returns
// every error joined.
func forEach(n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// otherOwner explains why content is already registered to another
// participant. When that participant is the one this batch planned to
// create, another writer registered them meanwhile: the error wraps
// storage.ErrConflict so that Register runs the batch again.
func (r *Registry) otherOwner(ctx context.Context, tx storage.ReadTx, p *plannedSample, existing storage.Sample) error {
	if owner, err := tx.Participant(ctx, existing.Participant); err == nil && !owner.ErasedAt.IsZero() {
		return errErasedOwner
	}
	if p.who.create {
		owner, err := tx.Participant(ctx, existing.Participant)
		if err == nil && owner.Namespace == p.who.p.Namespace && owner.SourceID == p.who.p.SourceID {
			return fmt.Errorf("participant %s was registered by another writer meanwhile: %w", owner.SourceID, storage.ErrConflict)
		}
	}
	return fmt.Errorf("content %s is already registered as sample %s of another participant", existing.Digest, existing.ID)
}

// errErasedOwner reports content that belonged to an erased participant.
var errErasedOwner = errors.New("the content belonged to an erased participant")
