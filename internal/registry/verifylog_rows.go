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
	}
	return fieldsDigest{}, false
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
