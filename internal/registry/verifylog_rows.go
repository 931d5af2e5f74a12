package registry

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// A row that still points at its event can have had its fields edited, and
// an event can have lost its row. The checks here compare the fields that
// decisions read (a sample's provenance, a consent record's scope and
// period) with the event that fixed them, and list the events whose row is
// missing.

// fieldsDigest is a digest of the fields of a row that its event fixes.
type fieldsDigest [sha256.Size]byte

// sampleFields returns the digest of what sample.registered fixes about a
// sample. Times are compared to the microsecond, the precision both
// engines keep.
func sampleFields(participant, digest string, size int64, duration float64, prov provenance.Record) fieldsDigest {
	if prov.CapturedAt != nil {
		t := microseconds(*prov.CapturedAt)
		prov.CapturedAt = &t
	}
	return digestOf(struct {
		Participant string
		Digest      string
		Size        int64
		Duration    float64
		Provenance  provenance.Record
	}{participant, digest, size, duration, prov})
}

// consentFields returns the digest of a consent record without its log
// index.
func consentFields(rec consent.Record) fieldsDigest {
	rec.Seq = 0
	rec.From, rec.SignedAt = microseconds(rec.From), microseconds(rec.SignedAt)
	if rec.Until != nil {
		t := microseconds(*rec.Until)
		rec.Until = &t
	}
	if len(rec.Tiers) == 0 {
		rec.Tiers = nil
	}
	if len(rec.Modalities) == 0 {
		rec.Modalities = nil
	}
	return digestOf(rec)
}

func microseconds(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func digestOf(v any) fieldsDigest {
	raw, err := json.Marshal(v)
	if err != nil {
		// The values are plain structs of strings, numbers and times.
		panic(fmt.Sprintf("encode row fields: %v", err))
	}
	return sha256.Sum256(raw)
}

// eventFields returns the digest of the row fields an event fixes, for the
// events whose rows are compared field by field.
func eventFields(ev event.Event) (fieldsDigest, bool) {
	switch ev.Type {
	case event.TypeSampleRegistered:
		var d event.SampleRegistered
		if err := ev.DecodeData(&d); err != nil {
			return fieldsDigest{}, false
		}
		return sampleFields(d.Participant, d.Digest, d.Size, d.DurationSeconds, d.Record), true
	case event.TypeConsentGranted, event.TypeConsentWithdrawn, event.TypeConsentInvalidated:
		var d event.ConsentRecorded
		if err := ev.DecodeData(&d); err != nil {
			return fieldsDigest{}, false
		}
		return consentFields(d.Record), true
	case event.TypeReleasePublished:
		var d event.ReleasePublished
		if err := ev.DecodeData(&d); err != nil {
			return fieldsDigest{}, false
		}
		return releaseFields(storage.Release{ID: d.Release, Purpose: d.Purpose, Modalities: d.Modalities, BuiltAt: d.BuiltAt,
			ManifestDigest: d.ManifestDigest, SampleCount: d.SampleCount, Licensee: d.Licensee, Version: d.Version, Replaces: d.Replaces}), true
	case event.TypeRevocationNotice:
		var d event.RevocationNotice
		if err := ev.DecodeData(&d); err != nil {
			return fieldsDigest{}, false
		}
		return noticeFields(storage.Notice{ID: d.Notice, Release: d.Release, Participant: d.Participant, Samples: d.Samples,
			Reason: d.Reason, Action: d.Action, IssuedAt: d.IssuedAt}), true
	case event.TypeAccessGranted:
		var d event.AccessGranted
		if err := ev.DecodeData(&d); err != nil {
			return fieldsDigest{}, false
		}
		return tokenFields(d.Role, d.Participant, d.Licensee, d.Org), true
	}
	return fieldsDigest{}, false
}

// releaseFields returns the digest of what release.published fixes about a
// release.
func releaseFields(r storage.Release) fieldsDigest {
	if len(r.Modalities) == 0 {
		r.Modalities = nil
	}
	return digestOf(struct {
		ID, Purpose, ManifestDigest, Licensee, Version, Replaces string
		Modalities                                               []string
		BuiltAt                                                  time.Time
		SampleCount                                              int
	}{r.ID, r.Purpose, r.ManifestDigest, r.Licensee, r.Version, r.Replaces, r.Modalities, microseconds(r.BuiltAt), r.SampleCount})
}

// noticeFields returns the digest of what revocation.notice fixes about a
// notice, its samples in any order.
func noticeFields(n storage.Notice) fieldsDigest {
	samples := slices.Clone(n.Samples)
	slices.Sort(samples)
	return digestOf(struct {
		ID, Release, Participant, Reason, Action string
		Samples                                  []string
		IssuedAt                                 time.Time
	}{n.ID, n.Release, n.Participant, n.Reason, n.Action, samples, microseconds(n.IssuedAt)})
}

// tokenFields returns the digest of the scope access.granted gives a token.
func tokenFields(role, participant, licensee, org string) fieldsDigest {
	return digestOf([]string{role, participant, licensee, org})
}

// participantState is the state the participant events record for one
// participant: the digest of their latest attributes, and whether they
// were erased.
type participantState struct {
	attributes string
	erased     bool
}

// participantStates replays the participant events in log order.
func participantStates(events map[uint64]eventRef) map[string]participantState {
	states := map[string]participantState{}
	for idx := uint64(0); idx < uint64(len(events)); idx++ {
		e, ok := events[idx]
		if !ok {
			continue
		}
		st := states[e.key]
		switch e.typ {
		case event.TypeParticipantRegistered, event.TypeParticipantUpdated:
			st.attributes = e.sum
		case event.TypeParticipantErased:
			st.erased = true
		default:
			continue
		}
		states[e.key] = st
	}
	return states
}

// checkParticipantRow compares a participant row with the participant's
// events: an erased participant's row must be marked erased, and the
// attributes of anyone else must have the digest their latest event
// logged.
func checkParticipantRow(p storage.Participant, states map[string]participantState, rep *LogReport) {
	st := states[p.Pseudonym]
	switch {
	case st.erased && p.ErasedAt.IsZero():
		rep.fail("participant %s was erased (its participant.erased event is in the log) but its row is not marked erased: the table was edited outside Steward; restore the registry from a backup", p.Pseudonym)
	case !st.erased && !p.ErasedAt.IsZero():
		rep.fail("participant %s is marked erased but the log holds no participant.erased event for it: the table was edited outside Steward; restore the registry from a backup", p.Pseudonym)
	case !st.erased && st.attributes != "" && p.Attributes.Digest(p.Salt) != st.attributes:
		rep.fail("participant %s has attributes whose digest differs from the one its latest event logged: the table was edited outside Steward; restore the registry from a backup", p.Pseudonym)
	}
}

// rowsFor are the event types that each project exactly one row, which
// must exist.
var rowsFor = map[string]string{
	event.TypeParticipantRegistered: "participant",
	event.TypeSampleRegistered:      "sample",
	event.TypeConsentGranted:        "consent record",
	event.TypeConsentWithdrawn:      "consent record",
	event.TypeConsentInvalidated:    "consent record",
	event.TypeConsentDocumentAdded:  "consent document",
	event.TypeReleasePublished:      "release",
	event.TypeRevocationNotice:      "revocation notice",
	event.TypeNoticeAcknowledged:    "acknowledgement",
}

// checkMissingRows reports every event of rowsFor that no row points at.
func checkMissingRows(events map[uint64]eventRef, pointed map[uint64]bool, rep *LogReport) {
	var missing []uint64
	for idx, e := range events {
		if _, ok := rowsFor[e.typ]; ok && !pointed[idx] {
			missing = append(missing, idx)
		}
	}
	slices.Sort(missing)
	for _, idx := range missing {
		e := events[idx]
		rep.fail("event %d (%s about %q) has no %s row: the row was deleted; restore the registry from a backup", idx, e.typ, e.key, rowsFor[e.typ])
	}
}

// sampleRow returns the digest of a stored sample row's fields.
func sampleRow(s storage.Sample) fieldsDigest {
	return sampleFields(s.Participant, s.Digest, s.Size, s.DurationSeconds, s.Provenance)
}
