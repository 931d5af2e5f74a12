package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/synth"
)

// recording is one generated file and its declaration.
type recording struct {
	name, modality, format string
	rate, channels         int
	timeUnit               string
	write                  func(io.Writer) error
}

// generatedRecordings returns a participant's recordings from
// internal/synth: a 2 s vowel, a 10 s IMU walk and a 10 s insole walk, each
// small enough to be packed. With long, it adds a 40 s vowel (1.28 MB),
// which is staged and stored as an object of its own. seed makes the
// content, and so the digests, differ between calls.
func generatedRecordings(seed int, long bool) []recording {
	recs := []recording{
		{"voice.wav", "voice", "wav", 16000, 1, "", func(w io.Writer) error { return synth.Vowel(w, 16000, 2, seed) }},
		{"imu.tsv", "sensor", "tsv", 100, 6, "s", func(w io.Writer) error { return synth.IMU(w, 100, 10, seed) }},
		{"insole.tsv", "pressure", "tsv", 100, 18, "s", func(w io.Writer) error { return synth.Insole(w, 100, 10, seed) }},
	}
	if long {
		recs = append(recs, recording{"long-voice.wav", "voice", "wav", 16000, 1, "", func(w io.Writer) error { return synth.Vowel(w, 16000, 40, seed) }})
	}
	return recs
}

// generatedSample declares a generated recording of a participant.
func generatedSample(t testing.TB, participant string, rec recording) SampleInput {
	t.Helper()
	var buf bytes.Buffer
	if err := rec.write(&buf); err != nil {
		t.Fatal(err)
	}
	body := buf.Bytes()
	at := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
	return SampleInput{
		Declaration: provenance.Declaration{
			Path:        rec.name,
			Participant: participant,
			Record: provenance.Record{
				Modality: rec.modality, Format: rec.format, SamplingRate: float64(rec.rate), Channels: rec.channels,
				TimeUnit: rec.timeUnit, CollectorID: "site-a/physio-1", Device: provenance.Device{Model: "synth", Firmware: "1"},
				CapturedAt: &at, Protocol: "usual-walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
			},
		},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		Where: participant + "/" + rec.name,
	}
}

// generatedBatch registers the generated recordings of each participant,
// seeded by seed and the participant's position.
func generatedBatch(t testing.TB, seed int, long bool, participants ...string) *Batch {
	t.Helper()
	b := &Batch{}
	for i, p := range participants {
		for _, rec := range generatedRecordings(seed*1000+i, long) {
			b.Samples = append(b.Samples, generatedSample(t, p, rec))
		}
	}
	return b
}

// participantNames returns n participant ids with a prefix.
func participantNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return names
}

// verifyRegistry verifies the whole log and reads back every recording,
// and returns the log size.
func verifyRegistry(t *testing.T, r *Registry) uint64 {
	t.Helper()
	ctx := context.Background()
	rep, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatalf("verify log: %v", err)
	}
	if err := r.VerifyContent(ctx, rep); err != nil {
		t.Fatalf("verify content: %v", err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("content verification found %d problem(s): %v", len(rep.Problems), rep.Problems)
	}
	return rep.Size
}
