package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/keyring"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/probe"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// Batch is what one import or manifest registers, all or nothing.
type Batch struct {
	Participants []ParticipantInput
	Samples      []SampleInput
}

// ParticipantInput declares a participant and their audit attributes.
type ParticipantInput struct {
	Namespace  string
	SourceID   string
	Attributes participant.Attributes
	Where      string // where it was read, for messages: file and line
}

// SampleInput declares one sample.
type SampleInput struct {
	Declaration provenance.Declaration
	// Namespace of Declaration.Participant. Empty means: look the id up in
	// every namespace, and create it in the default one if it is new.
	Namespace string
	// Open returns the content. It is called once.
	Open func() (io.ReadCloser, error)
	// Source describes where the file came from; it stays out of the log.
	Source map[string]string
	Where  string
}

// Problem is one thing wrong with a batch.
type Problem struct {
	Where string
	Err   error
}

func (p Problem) Error() string {
	if p.Where == "" {
		return p.Err.Error()
	}
	return p.Where + ": " + p.Err.Error()
}

// BatchError lists every problem found in a batch. Nothing of the batch was
// registered.
type BatchError struct {
	Problems []Problem
}

func (e *BatchError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return fmt.Sprintf("%d problem(s), nothing was registered:\n  %s", len(e.Problems), strings.Join(lines, "\n  "))
}

// Registered is the outcome for one sample.
type Registered struct {
	Where       string
	Sample      string
	Participant string
	Digest      string
	EventIndex  uint64
	// Duplicate is true when the same content was registered before; the
	// original sample is returned and nothing new is logged.
	Duplicate bool
}

// RegisterReport is the outcome of a batch.
type RegisterReport struct {
	Samples             []Registered
	ParticipantsCreated int
	ParticipantsUpdated int
}

// DefaultNamespace holds participants first seen in a manifest.
const DefaultNamespace = "manifest"

// plannedParticipant is a participant the batch creates or updates.
type plannedParticipant struct {
	p       storage.Participant
	key     *keyring.DataKey
	wrapped []byte
	create  bool
	update  bool
}

// plannedSample is a sample staged for registration.
type plannedSample struct {
	in        *SampleInput
	who       *plannedParticipant
	staged    *content.Staged
	duplicate *storage.Sample
	loc       *content.Location
}

// Register registers a batch. Every declaration is validated and every file
// is read, hashed, checked and stored before anything is logged; any problem
// rejects the whole batch and leaves the registry unchanged.
func (r *Registry) Register(ctx context.Context, b *Batch) (*RegisterReport, error) {
	rep, err := r.register(ctx, b)
	if errors.Is(err, storage.ErrConflict) {
		// Another writer created one of the batch's participants meanwhile.
		// Running again picks the participant and its key up.
		r.log.Info("registration raced with another writer, retrying", "error", err)
		rep, err = r.register(ctx, b)
	}
	return rep, err
}

func (r *Registry) register(ctx context.Context, b *Batch) (*RegisterReport, error) {
	var problems []Problem
	problems = append(problems, validateBatch(b)...)
	if len(problems) > 0 {
		return nil, &BatchError{Problems: problems}
	}

	// Resolve who every sample belongs to, planning new participants.
	people, bySample, problems := r.planParticipants(ctx, b)
	if len(problems) > 0 {
		return nil, &BatchError{Problems: problems}
	}

	// Read, check and stage every file.
	started := time.Now()
	plans, problems := r.stageSamples(ctx, b, bySample)
	staged := time.Now()
	if len(problems) > 0 {
		r.dropStaged(ctx, plans)
		return nil, &BatchError{Problems: problems}
	}

	// Store the recordings under their final keys while the events are
	// prepared, and make them durable before the events that reference them
	// commit. A crash in between leaves at most unreferenced blobs, which
	// garbage collection removes.
	packs, err := r.placeRecordings(plans)
	if err != nil {
		r.dropStaged(ctx, plans)
		return nil, err
	}
	stored := make(chan error, 1)
	go func() { stored <- r.storeRecordings(ctx, packs, plans) }()
	var storeErr error
	var waited sync.Once
	waitStored := func() error {
		waited.Do(func() { storeErr = <-stored })
		return storeErr
	}
	placed := time.Now()

	rep := &RegisterReport{}
	err = r.update(ctx, func(ctx context.Context, w *writer) error {
		*rep = RegisterReport{}
		if err := r.commitBatch(ctx, w, people, plans, rep); err != nil {
			return err
		}
		return waitStored()
	})
	if err := waitStored(); err != nil {
		r.dropStaged(ctx, plans)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	r.log.Info("registered batch", "samples", len(rep.Samples), "participants_created", rep.ParticipantsCreated,
		"stage", staged.Sub(started), "pack", placed.Sub(staged), "store_and_log", time.Since(placed))
	return rep, nil
}

func validateBatch(b *Batch) []Problem {
	var problems []Problem
	invalid := make([]error, len(b.Samples))
	forEach(len(b.Samples), stageWorkers, func(i int) error {
		invalid[i] = provenance.Validate(b.Samples[i].Declaration)
		return nil
	})
	seenIDs := map[string]string{}
	for i := range b.Samples {
		s := &b.Samples[i]
		if invalid[i] != nil {
			problems = append(problems, Problem{s.Where, invalid[i]})
		}
		if id := s.Declaration.ID; id != "" {
			if first, dup := seenIDs[id]; dup {
				problems = append(problems, Problem{s.Where, fmt.Errorf("duplicate sample id %q, first used at %s", id, first)})
			}
			seenIDs[id] = s.Where
		}
	}
	seenPeople := map[[2]string]string{}
	for _, p := range b.Participants {
		key := [2]string{p.Namespace, p.SourceID}
		if first, dup := seenPeople[key]; dup {
			problems = append(problems, Problem{p.Where, fmt.Errorf("participant %s declared twice, first at %s", p.SourceID, first)})
		}
		seenPeople[key] = p.Where
		if err := p.Attributes.Validate(); err != nil {
			problems = append(problems, Problem{p.Where, fmt.Errorf("participant %s: %w", p.SourceID, err)})
		}
	}
	return problems
}

// planParticipants resolves the batch's participants against the registry.
// It returns the planned participants by namespace and source id, and the
// participant of each sample.
func (r *Registry) planParticipants(ctx context.Context, b *Batch) (map[[2]string]*plannedParticipant, []*plannedParticipant, []Problem) {
	people := map[[2]string]*plannedParticipant{}
	bySample := make([]*plannedParticipant, len(b.Samples))
	var problems []Problem
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		for _, in := range b.Participants {
			pp, err := r.planDeclared(ctx, tx, in)
			if err != nil {
				return err
			}
			people[[2]string{in.Namespace, in.SourceID}] = pp
		}
		for i := range b.Samples {
			s := &b.Samples[i]
			pp, err := r.resolveForSample(ctx, tx, people, s)
			if err != nil {
				var p Problem
				if errors.As(err, &p) {
					problems = append(problems, p)
					continue
				}
				return err
			}
			bySample[i] = pp
		}
		return nil
	})
	if err != nil {
		problems = append(problems, Problem{"", err})
	}
	return people, bySample, problems
}

// planDeclared plans a participant that an importer declares with
// attributes: new ones are created, changed ones updated.
func (r *Registry) planDeclared(ctx context.Context, tx storage.ReadTx, in ParticipantInput) (*plannedParticipant, error) {
	found, err := tx.ParticipantsBySource(ctx, in.Namespace, in.SourceID)
	if err != nil {
		return nil, err
	}
	attrs := in.Attributes.Normalized()
	if len(found) == 0 {
		return r.newParticipant(ctx, in.Namespace, in.SourceID, attrs)
	}
	existing := found[0]
	pp := &plannedParticipant{p: existing}
	if pp.key, err = r.dataKey(ctx, tx, existing.Pseudonym); err != nil {
		return nil, err
	}
	if !reflect.DeepEqual(existing.Attributes.Normalized(), attrs) {
		pp.update = true
		pp.p.Attributes = attrs
		pp.p.Salt = participant.NewSalt()
	}
	return pp, nil
}

func (r *Registry) newParticipant(ctx context.Context, ns, sourceID string, attrs participant.Attributes) (*plannedParticipant, error) {
	key, wrapped, err := r.keys.NewDataKey(ctx)
	if err != nil {
		return nil, err
	}
	return &plannedParticipant{
		p: storage.Participant{
			Pseudonym:  participant.NewPseudonym(),
			Namespace:  ns,
			SourceID:   sourceID,
			Attributes: attrs,
			Salt:       participant.NewSalt(),
		},
		key:     key,
		wrapped: wrapped,
		create:  true,
	}, nil
}

// resolveForSample finds the participant a sample names: one declared in
// the batch, an existing pseudonym, or an existing source id. An unknown id
// creates a participant without attributes.
func (r *Registry) resolveForSample(ctx context.Context, tx storage.ReadTx, people map[[2]string]*plannedParticipant, s *SampleInput) (*plannedParticipant, error) {
	ref := s.Declaration.Participant
	if pp, ok := people[[2]string{s.Namespace, ref}]; ok {
		return pp, nil
	}
	if s.Namespace == "" {
		for key, pp := range people {
			if key[1] == ref || pp.p.Pseudonym == ref {
				return pp, nil
			}
		}
	}
	found, err := r.lookup(ctx, tx, s.Namespace, ref)
	if err != nil {
		return nil, Problem{s.Where, err}
	}
	if found != nil {
		pp := &plannedParticipant{p: *found}
		if pp.key, err = r.dataKey(ctx, tx, found.Pseudonym); err != nil {
			return nil, err
		}
		people[[2]string{found.Namespace, found.SourceID}] = pp
		return pp, nil
	}
	ns := s.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	pp, err := r.newParticipant(ctx, ns, ref, participant.Attributes{})
	if err != nil {
		return nil, err
	}
	people[[2]string{ns, ref}] = pp
	return pp, nil
}

// lookup finds a participant by pseudonym or source id. It returns nil
// without error when there is none, and an error when the id is ambiguous.
func (r *Registry) lookup(ctx context.Context, tx storage.ReadTx, ns, ref string) (*storage.Participant, error) {
	if ns == "" {
		if p, err := tx.Participant(ctx, ref); err == nil {
			return &p, nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		if qualifiedNS, id, ok := strings.Cut(ref, ":"); ok {
			ns, ref = qualifiedNS, id
		}
	}
	found, err := tx.ParticipantsBySource(ctx, ns, ref)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.Namespace + ":" + p.SourceID
	}
	return nil, fmt.Errorf("participant id %q is ambiguous: write one of %s", ref, strings.Join(names, ", "))
}

func (r *Registry) dataKey(ctx context.Context, tx storage.ReadTx, pseudonym string) (*keyring.DataKey, error) {
	if k, ok := r.keyCache.Load(pseudonym); ok {
		return k.(*keyring.DataKey), nil
	}
	wrapped, err := tx.DataKey(ctx, pseudonym)
	if err != nil {
		return nil, err
	}
	k, err := r.keys.Unwrap(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("participant %s: %w", pseudonym, err)
	}
	r.keyCache.Store(pseudonym, k)
	return k, nil
}

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
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
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
				continue
			}
			byDigest[digest] = p
			existing, err := tx.SampleByDigest(ctx, digest)
			if err == nil {
				if existing.Participant != p.who.p.Pseudonym {
					problems = append(problems, Problem{p.in.Where, fmt.Errorf("content %s is already registered as sample %s of another participant", digest, existing.ID)})
					continue
				}
				p.duplicate = &existing
				continue
			} else if !errors.Is(err, storage.ErrNotFound) {
				return err
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

// blobKey is where a participant's recording with the given digest lives.
// Keys are grouped by participant so that erasure can remove one prefix.
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

// sampleID derives a sample's id from its digest, so that the same content
// always gets the same id.
func sampleID(digest string) string {
	return "s-" + strings.TrimPrefix(digest, "sha256:")[:20]
}

func (r *Registry) commitBatch(ctx context.Context, w *writer, people map[[2]string]*plannedParticipant, plans []*plannedSample, rep *RegisterReport) error {
	// Participants in a stable order, so the log does not depend on map order.
	var planned []*plannedParticipant
	for _, pp := range people {
		if pp.create || pp.update {
			planned = append(planned, pp)
		}
	}
	sort.Slice(planned, func(i, j int) bool { return planned[i].p.Pseudonym < planned[j].p.Pseudonym })
	for _, pp := range planned {
		if err := r.commitParticipant(ctx, w, pp, rep); err != nil {
			return err
		}
	}

	for _, p := range plans {
		reg, err := r.commitSample(ctx, w, p)
		if err != nil {
			return err
		}
		rep.Samples = append(rep.Samples, reg)
	}
	return nil
}

func (r *Registry) commitParticipant(ctx context.Context, w *writer, pp *plannedParticipant, rep *RegisterReport) error {
	data := event.ParticipantRegistered{Participant: pp.p.Pseudonym, AttributesDigest: pp.p.Attributes.Digest(pp.p.Salt)}
	if pp.update {
		if _, err := w.append(event.TypeParticipantUpdated, data); err != nil {
			return err
		}
		rep.ParticipantsUpdated++
		return w.tx.UpdateAttributes(ctx, pp.p.Pseudonym, pp.p.Attributes, pp.p.Salt)
	}
	idx, err := w.append(event.TypeParticipantRegistered, data)
	if err != nil {
		return err
	}
	p := pp.p
	p.EventIndex = idx
	p.RegisteredAt = r.now().UTC()
	if err := w.tx.InsertParticipant(ctx, p, pp.wrapped); err != nil {
		return err
	}
	rep.ParticipantsCreated++
	return nil
}

func (r *Registry) commitSample(ctx context.Context, w *writer, p *plannedSample) (Registered, error) {
	reg := Registered{Where: p.in.Where, Participant: p.who.p.Pseudonym, Digest: p.staged.Digest}
	existing, err := w.tx.SampleByDigest(ctx, p.staged.Digest)
	switch {
	case err == nil:
		// Registered before, or by a concurrent writer since staging.
		if existing.Participant != p.who.p.Pseudonym {
			return reg, fmt.Errorf("%s: content %s was registered meanwhile as sample %s of another participant", p.in.Where, existing.Digest, existing.ID)
		}
		reg.Sample, reg.EventIndex, reg.Duplicate = existing.ID, existing.EventIndex, true
		return reg, nil
	case !errors.Is(err, storage.ErrNotFound):
		return reg, err
	}

	d := p.in.Declaration
	s := storage.Sample{
		ID:              sampleID(p.staged.Digest),
		Participant:     p.who.p.Pseudonym,
		Digest:          p.staged.Digest,
		Size:            p.staged.Size,
		DurationSeconds: p.staged.Measured.Duration,
		Provenance:      d.Record,
		ExternalID:      d.ID,
		Source:          p.in.Source,
		BlobKey:         p.loc.Key,
		BlobOffset:      p.loc.Offset,
		BlobLength:      p.loc.Length,
		RegisteredAt:    r.now().UTC(),
	}
	if s.Source == nil {
		s.Source = map[string]string{}
	}
	idx, err := w.append(event.TypeSampleRegistered, event.SampleRegistered{
		Sample:          s.ID,
		Participant:     s.Participant,
		Digest:          s.Digest,
		Size:            s.Size,
		DurationSeconds: s.DurationSeconds,
		Record:          s.Provenance,
	})
	if err != nil {
		return reg, err
	}
	s.EventIndex = idx
	if err := w.tx.InsertSample(ctx, s); err != nil {
		return reg, fmt.Errorf("%s: %w", p.in.Where, err)
	}
	reg.Sample, reg.EventIndex = s.ID, idx
	return reg, nil
}
