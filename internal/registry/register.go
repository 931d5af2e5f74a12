package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/keyring"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// Batch is the set of participants and samples that one import or manifest
// registers, all or nothing.
type Batch struct {
	Participants []ParticipantInput
	Samples      []SampleInput
}

// ParticipantInput declares a participant and their audit attributes.
type ParticipantInput struct {
	Namespace  string
	SourceID   string
	Attributes participant.Attributes
	Where      string // file and line it was read from, for messages
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

// Unwrap returns the problems' errors, so errors.Is finds a conflict with
// another writer among them.
func (e *BatchError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p.Err
	}
	return errs
}

// Limits of a batch error's text: a manifest with a 30 MB cell or 200,000
// bad columns must not print that much back.
const (
	shownProblems = 100
	shownProblem  = 1000 // bytes of one problem's text
)

func (e *BatchError) Error() string {
	n := min(len(e.Problems), shownProblems)
	lines := make([]string, 0, n+1)
	for _, p := range e.Problems[:n] {
		lines = append(lines, clip(p.Error(), shownProblem))
	}
	if more := len(e.Problems) - n; more > 0 {
		lines = append(lines, fmt.Sprintf("and %d more problem(s) like these: fix the ones above and run again to see the rest", more))
	}
	return fmt.Sprintf("%d problem(s), nothing was registered:\n  %s", len(e.Problems), strings.Join(lines, "\n  "))
}

// clip shortens s to at most limit bytes, on a rune boundary, and appends
// the number of bytes left out.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d more bytes)", s[:cut], len(s)-cut)
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
	// Differs lists, for a duplicate, the declared fields whose values
	// differ from the original's and were not taken.
	Differs []string
}

// RegisterReport is the outcome of a batch.
type RegisterReport struct {
	Samples             []Registered
	ParticipantsCreated int
	ParticipantsUpdated int
	// Erased lists where the samples were declared that were left out
	// because their participant asked to be erased.
	Erased []string
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
	// erased marks a participant who was erased: nothing of theirs is
	// registered again.
	erased bool
}

// plannedSample is a sample staged for registration.
type plannedSample struct {
	in        *SampleInput
	who       *plannedParticipant
	staged    *content.Staged
	duplicate *storage.Sample
	loc       *content.Location
	// row and entry are the sample's projection, without its event index,
	// and its encoded event, prepared before the log lock is taken. They
	// are nil for a sample known to be a duplicate.
	row   *storage.Sample
	entry []byte
	// erasedContent marks content registered before to a participant who
	// was erased since: it is left out.
	erasedContent bool
	// differs lists the declared fields of a duplicate that differ from
	// the sample registered first, whose values are kept.
	differs []string
}

// Register registers a batch. Every declaration is validated and every file
// is read, hashed, checked and stored before anything is logged. Any problem
// rejects the whole batch and leaves the registry unchanged.
func (r *Registry) Register(ctx context.Context, b *Batch) (*RegisterReport, error) {
	for attempt := 1; ; attempt++ {
		rep, err := r.register(ctx, b)
		if !errors.Is(err, storage.ErrConflict) || attempt == maxRegisterAttempts {
			return rep, err
		}
		// Another writer registered one of the batch's participants or
		// recordings meanwhile. Running again picks the participant and its
		// key up, and reports the recording as a duplicate.
		r.log.Info("registration raced with another writer, retrying", "attempt", attempt, "error", err)
	}
}

// maxRegisterAttempts bounds how often Register runs a batch that collides
// with other writers' registrations.
const maxRegisterAttempts = 4

func (r *Registry) register(ctx context.Context, b *Batch) (*RegisterReport, error) {
	var problems []Problem
	problems = append(problems, validateBatch(b)...)
	problems = append(problems, r.checkCaptureTimes(b)...)
	if len(problems) > 0 {
		return nil, &BatchError{Problems: problems}
	}
	if problems, err := r.checkConsentVersions(ctx, b); err != nil || len(problems) > 0 {
		if err != nil {
			return nil, err
		}
		return nil, &BatchError{Problems: problems}
	}

	// Resolve who every sample belongs to, planning new participants, and
	// leave out the samples of erased participants.
	people, bySample, problems := r.planParticipants(ctx, b)
	if len(problems) > 0 {
		return nil, &BatchError{Problems: problems}
	}
	b, bySample, erased := withoutErased(b, bySample)

	// Read, check and stage every file.
	started := time.Now()
	plans, problems := r.stageSamples(ctx, b, bySample)
	staged := time.Now()
	if len(problems) > 0 {
		r.dropStaged(ctx, plans)
		return nil, &BatchError{Problems: problems}
	}
	plans, erasedContent := r.withoutErasedContent(ctx, plans)
	erased = append(erased, erasedContent...)
	withoutUnused(people, b, plans)

	// Store the recordings under their final keys and make them durable
	// before the events that reference them commit. A crash in between
	// leaves at most unreferenced blobs, which garbage collection removes.
	// This happens before the log lock is taken, so other writers append
	// while this one waits for the blob store.
	packs, err := r.placeRecordings(plans)
	if err != nil {
		r.dropStaged(ctx, plans)
		return nil, err
	}
	placed := time.Now()
	if err := r.storeRecordings(ctx, packs, plans); err != nil {
		r.dropStaged(ctx, plans)
		return nil, err
	}
	stored := time.Now()

	// Encode the events before taking the log lock: the lock is the one
	// serial section of concurrent writers, and encoding is most of the
	// CPU work of a commit.
	if err := r.prepareSamples(plans); err != nil {
		return nil, err
	}

	rep := &RegisterReport{}
	err = r.update(ctx, func(ctx context.Context, w *writer) error {
		*rep = RegisterReport{}
		return r.commitBatch(ctx, w, people, plans, rep)
	})
	if err != nil {
		return nil, err
	}
	rep.Erased = erased
	r.log.Info("registered batch", "samples", len(rep.Samples), "participants_created", rep.ParticipantsCreated,
		"stage", staged.Sub(started), "pack", placed.Sub(staged), "store", stored.Sub(placed), "log", time.Since(stored))
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
		if err := checkNamespace(s.Namespace); err != nil {
			problems = append(problems, Problem{s.Where, err})
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
		if err := checkNamespace(p.Namespace); err != nil {
			problems = append(problems, Problem{p.Where, err})
		}
		if err := p.Attributes.Validate(); err != nil {
			problems = append(problems, Problem{p.Where, fmt.Errorf("participant %s: %w", p.SourceID, err)})
		}
	}
	return problems
}

// namespacePattern is what a namespace may look like. A namespace is
// written before a colon in references such as gaitpdb:GaPt03 and serves
// as a steward token's organisation, so it holds no colon, slash or space.
var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// checkNamespace rejects a namespace that references could not name. An
// empty one is allowed where the caller lets the registry choose.
func checkNamespace(ns string) error {
	if ns == "" || namespacePattern.MatchString(ns) {
		return nil
	}
	return fmt.Errorf("invalid namespace %q: use up to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit, such as site-a", ns)
}

// captureSkew is how far ahead of the registry's clock a capture time may
// be, for devices whose clocks run fast.
const captureSkew = time.Hour

// earliestCapture is the earliest capture time taken as real. Earlier ones,
// such as 0001-01-01 from a zero value, are conversion mistakes.
var earliestCapture = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// checkCaptureTimes rejects capture times in the future: a recording cannot
// have been made after it arrives, and a wrong year in a manifest would
// otherwise date the sample, and the consent it was taken under, wrongly.
func (r *Registry) checkCaptureTimes(b *Batch) []Problem {
	now := r.now()
	var problems []Problem
	for i := range b.Samples {
		s := &b.Samples[i]
		at := s.Declaration.CapturedAt
		switch {
		case at == nil:
		case at.After(now.Add(captureSkew)):
			problems = append(problems, Problem{s.Where, fmt.Errorf("field capturedAt: %s is in the future (now %s): give the time the recording was made",
				at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))})
		case at.Before(earliestCapture):
			problems = append(problems, Problem{s.Where, fmt.Errorf("field capturedAt: %s is before %d, which no digital recording is: give the time the recording was made, or null when it is unknown",
				at.UTC().Format(time.RFC3339), earliestCapture.Year())})
		}
	}
	return problems
}

// checkConsentVersions checks that every consent document version the
// samples name is registered. Each unknown version is one problem, at the
// first sample that names it.
func (r *Registry) checkConsentVersions(ctx context.Context, b *Batch) ([]Problem, error) {
	first := map[string]int{}
	var versions []string
	for i := range b.Samples {
		v := b.Samples[i].Declaration.ConsentVersion
		if _, seen := first[v]; !seen {
			first[v] = i
			versions = append(versions, v)
		}
	}
	var problems []Problem
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		for _, v := range versions {
			_, err := tx.ConsentDocument(ctx, v)
			if errors.Is(err, storage.ErrNotFound) {
				count := 0
				for i := range b.Samples {
					if b.Samples[i].Declaration.ConsentVersion == v {
						count++
					}
				}
				problems = append(problems, Problem{b.Samples[first[v]].Where, fmt.Errorf(
					"field consentVersion: %q is not a registered consent document (%d sample(s) name it): register it with steward consent document add, or see steward consent document list",
					v, count)})
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return problems, err
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

	// A recording that another writer registered since staging makes the
	// insert fail with ErrConflict, on its unique digest, and Register runs
	// the batch again. Checking for it here instead would cost a query
	// while holding the log lock, for a rare case.
	inBatch := map[string]Registered{}
	var fresh []storage.Sample
	for _, p := range plans {
		reg, s, err := r.commitSample(w, p, inBatch)
		if err != nil {
			return err
		}
		if s != nil {
			fresh = append(fresh, *s)
		}
		if _, ok := inBatch[reg.Digest]; !ok {
			inBatch[reg.Digest] = reg
		}
		rep.Samples = append(rep.Samples, reg)
	}
	if err := w.tx.InsertSamples(ctx, fresh); err != nil {
		return err
	}
	return r.reserveCompensation(ctx, w, fresh)
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

// prepareSamples builds the row and the event of every sample that is not
// known to be a duplicate. The event time is when the sample was prepared,
// so events of concurrent writers can be out of time order in the log by up
// to the time a writer waits for the log lock.
func (r *Registry) prepareSamples(plans []*plannedSample) error {
	return forEach(len(plans), stageWorkers, func(i int) error {
		p := plans[i]
		if p.duplicate != nil {
			return nil
		}
		d := p.in.Declaration
		s := &storage.Sample{
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
		entry, err := event.Encode(event.TypeSampleRegistered, s.RegisteredAt, event.SampleRegistered{
			Sample:          s.ID,
			Participant:     s.Participant,
			Digest:          s.Digest,
			Size:            s.Size,
			DurationSeconds: s.DurationSeconds,
			Record:          s.Provenance,
		})
		if err != nil {
			return err
		}
		p.row, p.entry = s, entry
		return nil
	})
}

// commitSample logs one sample's prepared event and returns its row to
// insert. It returns no row for a duplicate: of a recording registered
// before staging, or of one earlier in the batch (inBatch, by digest).
func (r *Registry) commitSample(w *writer, p *plannedSample, inBatch map[string]Registered) (Registered, *storage.Sample, error) {
	reg := Registered{Where: p.in.Where, Participant: p.who.p.Pseudonym, Digest: p.staged.Digest}
	if first, ok := inBatch[p.staged.Digest]; ok {
		reg.Sample, reg.EventIndex, reg.Duplicate, reg.Differs = first.Sample, first.EventIndex, true, p.differs
		return reg, nil, nil
	}
	if p.duplicate != nil {
		// NOTE: staging read the duplicate's index from an earlier snapshot,
		// which is right as long as samples are never deleted.
		reg.Sample, reg.EventIndex, reg.Duplicate, reg.Differs = p.duplicate.ID, p.duplicate.EventIndex, true, p.differs
		return reg, nil, nil
	}

	idx, err := w.appendEncoded(p.entry)
	if err != nil {
		return reg, nil, err
	}
	s := *p.row
	s.EventIndex = idx
	reg.Sample, reg.EventIndex = s.ID, idx
	return reg, &s, nil
}

// withoutErased leaves out the samples of erased participants, and returns
// where they were declared.
func withoutErased(b *Batch, bySample []*plannedParticipant) (*Batch, []*plannedParticipant, []string) {
	var erased []string
	kept := &Batch{Participants: b.Participants}
	var keptBy []*plannedParticipant
	for i, pp := range bySample {
		if pp.erased {
			erased = append(erased, b.Samples[i].Where)
			continue
		}
		kept.Samples = append(kept.Samples, b.Samples[i])
		keptBy = append(keptBy, pp)
	}
	return kept, keptBy, erased
}

// withoutUnused drops the new participants that only rows of erased
// content named. Such a row must leave no trace, least of all a
// participant record under the source id of someone who asked to be
// erased. Participants that an importer declares with their attributes
// are kept.
func withoutUnused(people map[[2]string]*plannedParticipant, b *Batch, plans []*plannedSample) {
	declared := map[[2]string]bool{}
	for _, in := range b.Participants {
		declared[[2]string{in.Namespace, in.SourceID}] = true
	}
	used := map[*plannedParticipant]bool{}
	for _, p := range plans {
		used[p.who] = true
	}
	for key, pp := range people {
		if pp.create && !declared[key] && !used[pp] {
			delete(people, key)
		}
	}
}

// withoutErasedContent drops staged recordings whose content belonged to a
// participant who was erased, as when a dataset is imported again after
// one of its participants asked to be forgotten.
func (r *Registry) withoutErasedContent(ctx context.Context, plans []*plannedSample) ([]*plannedSample, []string) {
	var kept []*plannedSample
	var erased []string
	for _, p := range plans {
		if !p.erasedContent {
			kept = append(kept, p)
			continue
		}
		erased = append(erased, p.in.Where)
		if err := p.staged.Discard(context.WithoutCancel(ctx), r.blobs); err != nil {
			r.log.Warn("could not delete staged upload; garbage collection will", "key", p.staged.Key, "error", err)
		}
	}
	return kept, erased
}
