// Package release defines a release bundle, writes it, and verifies it
// offline with nothing but the bundle and the registry's public log key.
//
// A bundle folder holds:
//
//	manifest.json          what the release contains; the release event commits to its digest
//	licence.json           the terms, digest in the manifest
//	licence.jsonld         the terms as ODRL 2.2 policies, digest in the manifest
//	datasheet.md           the datasheet, digest in the manifest
//	datasheet.html         the datasheet as a web page, digest in the manifest
//	metadata.json          Croissant 1.1 metadata with RAI properties, digest in the manifest
//	checkpoint             a signed checkpoint (C2SP tlog-checkpoint) taken at build time
//	log/entries.jsonl      every event the manifest cites, with its inclusion proof
//	data/                  the recordings, when built with data
//	attestation.dsse.json  the registry's signed in-toto statement of every other file
//
// Manifests are written and read as streams, one sample per line, so a
// release of a million samples never has to fit in memory.
package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"time"
)

// Bundle file names.
const (
	ManifestFile   = "manifest.json"
	LicenceFile    = "licence.json"
	DatasheetFile  = "datasheet.md"
	CheckpointFile = "checkpoint"
	EntriesFile    = "log/entries.jsonl"
	DataDir        = "data"
)

// Header is what a manifest says about the whole release. It precedes the
// samples in manifest.json.
type Header struct {
	Release    string    `json:"release"`
	Origin     string    `json:"origin"`
	Purpose    string    `json:"purpose"`
	Tier       string    `json:"tier"`
	Modalities []string  `json:"modalities"`
	BuiltAt    time.Time `json:"builtAt"`
	// ConsentDocuments are the log indexes of the events that registered
	// every consent document, whose terms the consent replay needs.
	ConsentDocuments []uint64 `json:"consentDocuments"`
	Licensee         string   `json:"licensee"`
	// Replaces is the previous release of the same selection, if any.
	Replaces string `json:"replaces"`
	// Compensation is the compensation terms, nil for a release built
	// while the registry had no compensation policy.
	Compensation *Compensation `json:"compensation,omitempty"`
}

// Trailer follows the samples in manifest.json: facts known only once every
// sample has been seen.
type Trailer struct {
	// Version is the release's semantic version within its series; a major
	// version leaves out samples of the release it replaces.
	Version   string    `json:"version"`
	Selection Selection `json:"selection"`
	// Attribution credits the sources of the included samples.
	Attribution []Attribution `json:"attribution"`
	// ExcludedPurposes are the purposes narrower than the release's purpose
	// that the consent behind at least one included sample does not
	// permit. The licence prohibits them.
	ExcludedPurposes []string `json:"excludedPurposes,omitempty"`
	// Documents maps the other bundle files to their sha256 digests.
	Documents map[string]string `json:"documents"`
}

// Manifest is a whole manifest in memory, for small releases and tests.
type Manifest struct {
	Header
	Samples []Sample `json:"samples"`
	Trailer
}

// Selection summarises which samples were considered and why some were left
// out, so the datasheet can report it from the bundle alone.
type Selection struct {
	Considered int `json:"considered"`
	// Excluded counts left-out samples by reason.
	Excluded map[string]int `json:"excluded"`
}

// Attribution credits one source dataset.
type Attribution struct {
	Dataset  string `json:"dataset"`
	Citation string `json:"citation,omitempty"`
	Licence  string `json:"licence,omitempty"`
	Samples  int    `json:"samples"`
}

// Sample is one manifest entry.
type Sample struct {
	ID              string       `json:"id"`
	Digest          string       `json:"digest"`
	Size            int64        `json:"size"`
	Modality        string       `json:"modality"`
	Format          string       `json:"format"`
	SamplingRate    float64      `json:"samplingRate"`
	Channels        int          `json:"channels,omitempty"`
	DurationSeconds float64      `json:"durationSeconds,omitempty"`
	Protocol        string       `json:"protocol"`
	CollectorID     string       `json:"collectorId"`
	DeviceModel     string       `json:"deviceModel"`
	CapturedAt      *time.Time   `json:"capturedAt"`
	Participant     string       `json:"participant"`
	Demographics    Demographics `json:"demographics"`
	// File is where the recording is in a bundle built with data.
	File     string   `json:"file"`
	Evidence Evidence `json:"evidence"`
}

// Demographics are the coarse attributes used for subgroup audits.
type Demographics struct {
	AgeBand         string `json:"ageBand"`
	Sex             string `json:"sex"`
	Condition       string `json:"condition"`
	AssistiveDevice string `json:"assistiveDevice"`
}

// Evidence names the log entries that justify including a sample: its
// registration, and the participant's whole consent history up to the
// build, which the verifier replays.
type Evidence struct {
	Registration uint64   `json:"registration"`
	Consent      []uint64 `json:"consent"`
	// Compensation are the ledger transfers that paid for the sample: its
	// per-sample payment reserved and posted, and the licensee's per-use
	// payment for this release. Empty without compensation terms.
	Compensation []uint64 `json:"compensation,omitempty"`
}

// DataFile returns the bundle path of a sample's recording.
func DataFile(id, format string) string {
	ext := format
	if ext == "wfdb" {
		ext = "tar"
	}
	return path.Join(DataDir, id+"."+ext)
}

// ManifestWriter writes manifest.json as a stream: the header fields, one
// sample per line, then the trailer. It hashes what it writes.
type ManifestWriter struct {
	w       *bufio.Writer
	h       hash.Hash
	samples int
	err     error
}

// NewManifestWriter writes the header to w.
func NewManifestWriter(w io.Writer, h Header) *ManifestWriter {
	mw := &ManifestWriter{h: sha256.New()}
	mw.w = bufio.NewWriterSize(io.MultiWriter(w, mw.h), 1<<16)
	mw.write("{\n")
	mw.field("release", h.Release, true)
	mw.field("origin", h.Origin, true)
	mw.field("purpose", h.Purpose, true)
	mw.field("tier", h.Tier, true)
	mw.field("modalities", h.Modalities, true)
	mw.field("builtAt", h.BuiltAt, true)
	mw.field("consentDocuments", nonNilIndexes(h.ConsentDocuments), true)
	mw.field("licensee", h.Licensee, true)
	mw.field("replaces", h.Replaces, true)
	if h.Compensation != nil {
		mw.field("compensation", h.Compensation, true)
	}
	mw.write(`  "samples": [`)
	return mw
}

func (mw *ManifestWriter) write(s string) {
	if mw.err == nil {
		_, mw.err = mw.w.WriteString(s)
	}
}

func (mw *ManifestWriter) field(name string, v any, comma bool) {
	raw, err := json.Marshal(v)
	if err != nil && mw.err == nil {
		mw.err = err
	}
	mw.write(fmt.Sprintf("  %q: %s", name, raw))
	if comma {
		mw.write(",")
	}
	mw.write("\n")
}

// Add writes one sample.
func (mw *ManifestWriter) Add(s Sample) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if mw.samples > 0 {
		mw.write(",")
	}
	mw.write("\n    ")
	mw.write(string(raw))
	mw.samples++
	return mw.err
}

// Finish writes the trailer and returns the manifest's sha256 digest.
func (mw *ManifestWriter) Finish(t Trailer) (string, error) {
	if mw.samples > 0 {
		mw.write("\n  ")
	}
	mw.write("],\n")
	mw.field("version", t.Version, true)
	mw.field("selection", t.Selection, true)
	mw.field("attribution", nonNil(t.Attribution), true)
	if len(t.ExcludedPurposes) > 0 {
		mw.field("excludedPurposes", t.ExcludedPurposes, true)
	}
	mw.field("documents", t.Documents, false)
	mw.write("}\n")
	if mw.err == nil {
		mw.err = mw.w.Flush()
	}
	if mw.err != nil {
		return "", fmt.Errorf("write manifest: %w", mw.err)
	}
	return "sha256:" + hex.EncodeToString(mw.h.Sum(nil)), nil
}

func nonNilIndexes(a []uint64) []uint64 {
	if a == nil {
		return []uint64{}
	}
	return a
}

func nonNil(a []Attribution) []Attribution {
	if a == nil {
		return []Attribution{}
	}
	return a
}

// Encode returns the bytes of a whole in-memory manifest, laid out as a
// ManifestWriter lays it out.
func (m *Manifest) Encode() ([]byte, error) {
	var b bytes.Buffer
	mw := NewManifestWriter(&b, m.Header)
	for _, s := range m.Samples {
		if err := mw.Add(s); err != nil {
			return nil, err
		}
	}
	if _, err := mw.Finish(m.Trailer); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeManifest reads manifest.json as a stream and calls fn for each
// sample with the complete header. Steward writes the header first, so the
// samples stream through; a manifest with the header after its samples is
// still read, holding the samples in memory until the header is complete.
func DecodeManifest(r io.Reader, fn func(Header, Sample) error) (Header, Trailer, error) {
	var h Header
	var t Trailer
	var early []Sample
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return h, t, err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h, t, err
		}
		key, _ := tok.(string)
		if seen[key] {
			return h, t, fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		if key == "samples" {
			headerDone := seen["release"] && seen["origin"] && seen["purpose"] && seen["tier"] && seen["modalities"] && seen["builtAt"] && seen["consentDocuments"]
			collect := fn
			if !headerDone {
				collect = func(_ Header, s Sample) error { early = append(early, s); return nil }
			}
			if err := decodeSamples(dec, h, collect); err != nil {
				return h, t, err
			}
			continue
		}
		target := map[string]any{
			"release": &h.Release, "origin": &h.Origin, "purpose": &h.Purpose, "tier": &h.Tier,
			"modalities": &h.Modalities, "builtAt": &h.BuiltAt, "consentDocuments": &h.ConsentDocuments,
			"licensee": &h.Licensee, "replaces": &h.Replaces, "compensation": &h.Compensation, "version": &t.Version,
			"selection": &t.Selection, "attribution": &t.Attribution, "documents": &t.Documents,
			"excludedPurposes": &t.ExcludedPurposes,
		}[key]
		if target == nil {
			return h, t, fmt.Errorf("unknown field %q", key)
		}
		if err := dec.Decode(target); err != nil {
			return h, t, fmt.Errorf("field %q: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return h, t, err
	}
	if !seen["samples"] {
		return h, t, errors.New("no samples field")
	}
	for _, s := range early {
		if err := fn(h, s); err != nil {
			return h, t, err
		}
	}
	return h, t, nil
}

func decodeSamples(dec *json.Decoder, h Header, fn func(Header, Sample) error) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		var s Sample
		if err := dec.Decode(&s); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
		if err := fn(h, s); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// EntryProof is one line of log/entries.jsonl.
type EntryProof struct {
	Index uint64   `json:"index"`
	Entry []byte   `json:"entry"` // base64 in JSON: the exact stored bytes
	Proof [][]byte `json:"proof"`
}
