package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

// LogReport is the outcome of a full log verification.
type LogReport struct {
	Size        uint64
	Checkpoints int
	Projections int
	Problems    []string
}

func (r *LogReport) fail(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "further problems not listed")
	}
}

const maxProblems = 100

// LogVerificationError is returned when the log fails verification.
type LogVerificationError struct{ Report *LogReport }

func (e *LogVerificationError) Error() string {
	return fmt.Sprintf("log verification failed with %d problem(s):\n  %s", len(e.Report.Problems), strings.Join(e.Report.Problems, "\n  "))
}

// VerifyLog re-derives the whole tree from the stored entries and checks it
// against every stored node and every checkpoint ever signed, then checks
// that each projected row matches the event that created it.
func (r *Registry) VerifyLog(ctx context.Context) (*LogReport, error) {
	rep := &LogReport{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		size, err := tx.LogSize(ctx)
		if err != nil {
			return err
		}
		rep.Size = size
		roots, err := r.checkCheckpoints(ctx, tx, size, rep)
		if err != nil {
			return err
		}
		events, err := r.rederiveTree(ctx, tx, size, roots, rep)
		if err != nil {
			return err
		}
		err = checkProjections(ctx, tx, events, rep)
		if errors.Is(err, storage.ErrCorrupt) {
			rep.fail("%v: the table was edited outside Steward; restore the registry from a backup", err)
			return nil
		}
		return err
	})
	if err != nil {
		return rep, err
	}
	if len(rep.Problems) > 0 {
		return rep, &LogVerificationError{rep}
	}
	return rep, nil
}

// checkCheckpoints verifies every stored checkpoint's signature and returns
// the signed roots by size. Two roots for one size are reported as a fork.
func (r *Registry) checkCheckpoints(ctx context.Context, tx storage.ReadTx, size uint64, rep *LogReport) (map[uint64][]byte, error) {
	roots := map[uint64][]byte{}
	err := tx.Checkpoints(ctx, func(cp storage.Checkpoint) error {
		rep.Checkpoints++
		parsed, err := r.verifier.Open(cp.Note)
		if err != nil {
			rep.fail("checkpoint of size %d: %v", cp.Size, err)
			return nil
		}
		if parsed.Size != cp.Size || !bytes.Equal(parsed.Root, cp.Root) {
			rep.fail("checkpoint of size %d: the signed note says size %d root %x, the table says root %x", cp.Size, parsed.Size, parsed.Root, cp.Root)
		}
		if parsed.Size > size {
			rep.fail("checkpoint of size %d is beyond the log's %d entries: entries were lost", parsed.Size, size)
		}
		if prev, ok := roots[parsed.Size]; ok && !bytes.Equal(prev, parsed.Root) {
			rep.fail("%v", &tlog.ForkError{Size: parsed.Size, Root1: prev, Root2: parsed.Root})
		}
		roots[parsed.Size] = parsed.Root
		return nil
	})
	return roots, err
}

// eventRef is what projection checks need to know about an event.
type eventRef struct {
	typ string
	key string // the id the event is about
	sum string // a digest the projection must carry, if any
	// fields is the digest of the row fields the event fixes, for the
	// types that eventFields handles.
	fields    fieldsDigest
	hasFields bool
}

// rederiveTree hashes every entry, rebuilds every tree node and compares
// them with the stored nodes and the signed roots.
func (r *Registry) rederiveTree(ctx context.Context, tx storage.ReadTx, size uint64, roots map[uint64][]byte, rep *LogReport) (map[uint64]eventRef, error) {
	events := make(map[uint64]eventRef, size)
	cr := (&compact.RangeFactory{Hash: tlog.Hasher.HashChildren}).NewEmptyRange(0)
	var pending []tlog.Node
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		ids := make([]compact.NodeID, len(pending))
		for i, n := range pending {
			ids[i] = n.ID
		}
		stored, err := tx.ReadNodes(ctx, ids)
		if err != nil {
			rep.fail("stored tree nodes: %v", err)
			pending = pending[:0]
			return nil
		}
		for i, n := range pending {
			if !bytes.Equal(stored[i], n.Hash) {
				rep.fail("tree node (level %d, index %d) is %x but re-derives to %x", n.ID.Level, n.ID.Index, stored[i], n.Hash)
			}
		}
		pending = pending[:0]
		return nil
	}
	visit := func(id compact.NodeID, hash []byte) { pending = append(pending, tlog.Node{ID: id, Hash: hash}) }

	if root, ok := roots[0]; ok && !bytes.Equal(root, tlog.EmptyRoot()) {
		rep.fail("checkpoint of size 0 has root %x, want the empty root %x", root, tlog.EmptyRoot())
	}
	err := tx.Entries(ctx, 0, size, func(idx uint64, entry []byte) error {
		events[idx] = r.checkEntry(idx, entry, rep)
		if err := cr.Append(tlog.LeafHash(entry), visit); err != nil {
			return err
		}
		if len(pending) >= 2000 {
			if err := flush(); err != nil {
				return err
			}
		}
		if want, ok := roots[idx+1]; ok {
			got, err := cr.GetRootHash(nil)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				rep.fail("checkpoint of size %d signs root %x but the entries give %x", idx+1, want, got)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, flush()
}

// checkEntry checks one entry's form and returns what it is about.
func (r *Registry) checkEntry(idx uint64, entry []byte, rep *LogReport) eventRef {
	if err := event.CheckCanonical(entry); err != nil {
		rep.fail("event %d: %v", idx, err)
	}
	ev, err := event.Decode(entry)
	if err != nil {
		rep.fail("event %d: %v", idx, err)
		return eventRef{}
	}
	ref := eventRef{typ: ev.Type}
	ref.fields, ref.hasFields = eventFields(ev)
	switch ev.Type {
	case event.TypeLogCreated:
		var d event.LogCreated
		if err := ev.DecodeData(&d); err != nil || d.Origin != r.Origin() {
			rep.fail("event %d: log.created names origin %q, this log is %q", idx, d.Origin, r.Origin())
		}
		if idx != 0 {
			rep.fail("event %d: log.created may only be the first event", idx)
		}
	case event.TypeParticipantRegistered, event.TypeParticipantUpdated, event.TypeParticipantErased:
		var d event.ParticipantRegistered
		if err := ev.DecodeData(&d); err == nil {
			ref.key, ref.sum = d.Participant, d.AttributesDigest
		}
	case event.TypeSampleRegistered:
		var d event.SampleRegistered
		if err := ev.DecodeData(&d); err == nil {
			ref.key, ref.sum = d.Sample, d.Digest
		}
	case event.TypeConsentGranted, event.TypeConsentWithdrawn, event.TypeConsentInvalidated:
		var d event.ConsentRecorded
		if err := ev.DecodeData(&d); err == nil {
			ref.key = d.Record.ID
		}
	case event.TypeConsentDocumentAdded:
		var d event.ConsentDocumentAdded
		if err := ev.DecodeData(&d); err == nil {
			ref.key, ref.sum = d.Terms.Version, d.Terms.Digest
		}
	case event.TypeRevocationNotice:
		var d event.RevocationNotice
		if err := ev.DecodeData(&d); err == nil {
			ref.key = d.Notice
		}
	case event.TypeNoticeAcknowledged:
		var d event.NoticeAcknowledged
		if err := ev.DecodeData(&d); err == nil {
			ref.key = d.Notice + "/" + d.Licensee
		}
	case event.TypeReleasePublished:
		var d event.ReleasePublished
		if err := ev.DecodeData(&d); err == nil {
			ref.key, ref.sum = d.Release, d.ManifestDigest
		}
	case event.TypeAccessGranted, event.TypeAccessRevoked:
		ref.key = accessEventRef(ev)
	default:
		ref.key, ref.sum = compensationEventRef(ev)
	}
	if idx == 0 && ev.Type != event.TypeLogCreated {
		rep.fail("event 0 is %s, want log.created", ev.Type)
	}
	return ref
}

// checkProjections checks that every row points at the event that made it,
// that rows of samples and consent records match their event's data, and
// that no event has lost its row.
func checkProjections(ctx context.Context, tx storage.ReadTx, events map[uint64]eventRef, rep *LogReport) error {
	pointed := make(map[uint64]bool, len(events))
	expect := func(what, key string, idx uint64, typ, sum string) {
		rep.Projections++
		pointed[idx] = true
		e, ok := events[idx]
		switch {
		case !ok:
			rep.fail("%s %s points at event %d, which is not in the log", what, key, idx)
		case e.typ != typ || e.key != key:
			rep.fail("%s %s points at event %d, which is a %s about %q", what, key, idx, e.typ, e.key)
		case sum != "" && e.sum != sum:
			rep.fail("%s %s carries digest %s but its event says %s", what, key, sum, e.sum)
		}
	}
	// sameFields compares a row's fields with its event's, once the row is
	// known to point at the right event.
	sameFields := func(what, key string, idx uint64, row fieldsDigest) {
		if e, ok := events[idx]; ok && e.key == key && e.hasFields && e.fields != row {
			rep.fail("%s %s differs from event %d that recorded it: the table was edited outside Steward; restore the registry from a backup", what, key, idx)
		}
	}
	states := participantStates(events)
	if err := tx.Participants(ctx, func(p storage.Participant) error {
		expect("participant", p.Pseudonym, p.EventIndex, event.TypeParticipantRegistered, "")
		checkParticipantRow(p, states, rep)
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Samples(ctx, storage.SampleFilter{}, func(s storage.Sample) error {
		expect("sample", s.ID, s.EventIndex, event.TypeSampleRegistered, s.Digest)
		sameFields("sample", s.ID, s.EventIndex, sampleRow(s))
		return nil
	}); err != nil {
		return err
	}
	if err := tx.AllConsentRecords(ctx, func(_ string, recs []consent.Record) error {
		for _, rec := range recs {
			typ := map[string]string{
				consent.ActionGrant: event.TypeConsentGranted, consent.ActionWithdraw: event.TypeConsentWithdrawn,
				consent.ActionInvalidate: event.TypeConsentInvalidated,
			}[rec.Action]
			expect("consent record", rec.ID, rec.Seq, typ, "")
			sameFields("consent record", rec.ID, rec.Seq, consentFields(rec))
		}
		return nil
	}); err != nil {
		return err
	}
	docs, err := tx.ConsentDocuments(ctx)
	if err != nil {
		return err
	}
	for _, d := range docs {
		expect("consent document", d.Document.Version, d.EventIndex, event.TypeConsentDocumentAdded, d.Document.Digest())
	}
	var releases []storage.Release
	if err := tx.Releases(ctx, func(rel storage.Release) error {
		expect("release", rel.ID, rel.EventIndex, event.TypeReleasePublished, rel.ManifestDigest)
		sameFields("release", rel.ID, rel.EventIndex, releaseFields(rel))
		releases = append(releases, rel)
		return nil
	}); err != nil {
		return err
	}
	for _, rel := range releases {
		members := 0
		if err := tx.ReleaseSamples(ctx, rel.ID, func(string) error { members++; return nil }); err != nil {
			return err
		}
		if members != rel.SampleCount {
			rep.fail("release %s lists %d samples but its event says %d: the table was edited outside Steward; restore the registry from a backup", rel.ID, members, rel.SampleCount)
		}
		notices, err := tx.Notices(ctx, rel.ID)
		if err != nil {
			return err
		}
		for _, n := range notices {
			expect("revocation notice", n.ID, n.EventIndex, event.TypeRevocationNotice, "")
			sameFields("revocation notice", n.ID, n.EventIndex, noticeFields(n))
			for _, a := range n.Acks {
				expect("acknowledgement", a.Notice+"/"+a.Licensee, a.EventIndex, event.TypeNoticeAcknowledged, "")
			}
		}
	}
	if err := checkAccessProjections(ctx, tx, expect, sameFields); err != nil {
		return err
	}
	if err := checkCompensationProjections(ctx, tx, expect); err != nil {
		return err
	}
	checkMissingRows(events, pointed, rep)
	return nil
}
