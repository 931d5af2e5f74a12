package registry

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/keyring"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/storage"
)

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
		if erased, err := r.erasedSource(ctx, tx, in.Namespace, in.SourceID); err != nil || erased {
			return &plannedParticipant{erased: erased}, err
		}
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
	if strings.HasPrefix(ref, ident.Participant) {
		return nil, Problem{s.Where, fmt.Errorf("unknown participant pseudonym %q: check it, or name a new participant by their own id, not a p- pseudonym", ref)}
	}
	if erased, err := r.erasedSource(ctx, tx, s.Namespace, ref); err != nil || erased {
		pp := &plannedParticipant{erased: erased}
		people[[2]string{s.Namespace, ref}] = pp
		return pp, err
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
