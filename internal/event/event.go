// Package event defines the entries of Steward's log. Every state change of
// the registry is one event, serialised with RFC 8785 (JSON Canonicalization
// Scheme). The canonical bytes are what the log stores and hashes; nothing
// re-serialises an event before hashing it.
//
// Events carry pseudonyms and digests only, never a name, a source id or a
// file path, so that erasing a participant never touches the log.
package event

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/provenance"
)

// Version is the envelope version written into every event.
const Version = 1

// Types of events.
const (
	TypeLogCreated            = "log.created"
	TypeParticipantRegistered = "participant.registered"
	TypeParticipantUpdated    = "participant.updated"
	TypeParticipantErased     = "participant.erased"
	TypeSampleRegistered      = "sample.registered"
	TypeConsentGranted        = "consent.granted"
	TypeConsentWithdrawn      = "consent.withdrawn"
	TypeConsentInvalidated    = "consent.invalidated"
	TypeConsentDocumentAdded  = "consent.document.added"
	TypeReleasePublished      = "release.published"
	TypeRevocationNotice      = "release.revocation"
	TypeNoticeAcknowledged    = "release.revocation.acknowledged"
)

// Event is the envelope of every log entry.
type Event struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// Encode returns the canonical bytes of an event of the given type and data.
func Encode(typ string, at time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", typ, err)
	}
	env, err := json.Marshal(Event{V: Version, Type: typ, Time: at.UTC(), Data: raw})
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", typ, err)
	}
	canonical, err := jcs.Transform(env)
	if err != nil {
		return nil, fmt.Errorf("canonicalise %s event: %w", typ, err)
	}
	return canonical, nil
}

// Decode parses an entry's envelope. It does not check that the bytes are
// canonical; CheckCanonical does.
func Decode(entry []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(entry, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if e.V != Version {
		return Event{}, fmt.Errorf("decode event: unsupported version %d", e.V)
	}
	if e.Type == "" {
		return Event{}, fmt.Errorf("decode event: missing type")
	}
	return e, nil
}

// CheckCanonical reports an error if entry is not in RFC 8785 canonical form.
func CheckCanonical(entry []byte) error {
	canonical, err := jcs.Transform(entry)
	if err != nil {
		return fmt.Errorf("entry is not valid JSON: %w", err)
	}
	if string(canonical) != string(entry) {
		return fmt.Errorf("entry is not in RFC 8785 canonical form")
	}
	return nil
}

// DecodeData decodes an event's data into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return nil
}

// LogCreated is the first entry of every log: it names the log and its key.
type LogCreated struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifierKey"`
}

// ParticipantRegistered introduces a pseudonym. AttributesDigest commits to
// the participant's audit attributes (salted, so it cannot be guessed from
// them); the attributes themselves stay outside the log.
type ParticipantRegistered struct {
	Participant      string `json:"participant"`
	AttributesDigest string `json:"attributesDigest"`
}

// ParticipantUpdated records a change of the audit attributes.
type ParticipantUpdated = ParticipantRegistered

// ParticipantErased records that a participant's recordings, data key and
// direct identifiers were destroyed. The log keeps only the pseudonym.
type ParticipantErased struct {
	Participant string `json:"participant"`
	// Samples counts the samples whose recordings were destroyed.
	Samples int `json:"samples"`
}

// SampleRegistered records a sample and its provenance.
type SampleRegistered struct {
	Sample          string  `json:"sample"`
	Participant     string  `json:"participant"`
	Digest          string  `json:"digest"`
	Size            int64   `json:"size"`
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	provenance.Record
}

// ConsentRecorded is the data of consent.granted, consent.withdrawn and
// consent.invalidated.
type ConsentRecorded struct {
	Record consent.Record `json:"record"`
}

// ConsentDocumentAdded registers a consent document: its digest and the
// terms decisions depend on. The text itself stays outside the log.
type ConsentDocumentAdded struct {
	Terms consent.Terms `json:"terms"`
}

// IsConsentRecord reports whether an event type carries a consent record.
func IsConsentRecord(typ string) bool {
	return typ == TypeConsentGranted || typ == TypeConsentWithdrawn || typ == TypeConsentInvalidated
}

// ReleasePublished records a release. ManifestDigest commits to the
// release's manifest, which lists every sample and the events that justify
// including it.
type ReleasePublished struct {
	Release        string    `json:"release"`
	Purpose        string    `json:"purpose"`
	Modalities     []string  `json:"modalities"`
	BuiltAt        time.Time `json:"builtAt"`
	ManifestDigest string    `json:"manifestDigest"`
	SampleCount    int       `json:"sampleCount"`
	Licensee       string    `json:"licensee,omitempty"`
	Version        string    `json:"version"`
	Replaces       string    `json:"replaces,omitempty"`
}

// RevocationNotice tells the licensees of a release that samples lost their
// consent, why, and what they must do.
type RevocationNotice struct {
	Notice      string    `json:"notice"`
	Release     string    `json:"release"`
	Participant string    `json:"participant"`
	Samples     []string  `json:"samples"`
	Reason      string    `json:"reason"`
	Action      string    `json:"action"`
	IssuedAt    time.Time `json:"issuedAt"`
}

// NoticeAcknowledged records that a licensee acted on a notice.
type NoticeAcknowledged struct {
	Notice   string `json:"notice"`
	Release  string `json:"release"`
	Licensee string `json:"licensee"`
}
