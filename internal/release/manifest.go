// Package release defines a release bundle, writes it, and verifies it
// offline with nothing but the bundle and the registry's public log key.
//
// A bundle folder holds:
//
//	manifest.json      what the release contains; the release event commits to its digest
//	licence.json       the terms, digest in the manifest
//	datasheet.md       the datasheet, digest in the manifest
//	checkpoint         a signed checkpoint (C2SP tlog-checkpoint) taken at build time
//	log/entries.jsonl  every event the manifest cites, with its inclusion proof
//	data/              the recordings, when built with data
package release

import (
	"encoding/json"
	"fmt"
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

// Manifest lists a release's samples and the evidence for each.
type Manifest struct {
	Release    string    `json:"release"`
	Origin     string    `json:"origin"`
	Purpose    string    `json:"purpose"`
	Tier       string    `json:"tier"`
	Modalities []string  `json:"modalities"`
	BuiltAt    time.Time `json:"builtAt"`
	// Documents maps the other bundle files to their sha256 digests.
	Documents map[string]string `json:"documents"`
	Selection Selection         `json:"selection"`
	// Attribution credits the sources of the included samples.
	Attribution []Attribution `json:"attribution"`
	Samples     []Sample      `json:"samples"`
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
	// File is the path of the recording in the bundle, present when the
	// bundle was built with data.
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
}

// DataFile returns the bundle path of a sample's recording.
func DataFile(id, format string) string {
	ext := format
	if ext == "wfdb" {
		ext = "tar"
	}
	return path.Join(DataDir, id+"."+ext)
}

// Encode returns the manifest's bytes: indented JSON, so people can read it.
// The bytes are hashed as written, never re-serialised.
func (m *Manifest) Encode() ([]byte, error) {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(raw, '\n'), nil
}

// EntryProof is one line of log/entries.jsonl.
type EntryProof struct {
	Index uint64   `json:"index"`
	Entry []byte   `json:"entry"` // base64 in JSON: the exact stored bytes
	Proof [][]byte `json:"proof"`
}
