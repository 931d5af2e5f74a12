package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/release"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestRegistry(t *testing.T) (*Registry, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)}
	r, err := Init(context.Background(), filepath.Join(t.TempDir(), "reg"), InitOptions{Options: Options{Now: c.now}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, c
}

// wavBytes returns a mono 16-bit PCM WAV of the given length, with a tone
// that depends on seed so that each file has its own digest.
func wavBytes(rate uint32, frames int, seed byte) []byte {
	var b bytes.Buffer
	dataLen := uint32(frames * 2)
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, 36+dataLen)
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), rate, rate * 2, uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, dataLen)
	for i := 0; i < frames; i++ {
		binary.Write(&b, binary.LittleEndian, int16((i*int(seed+1))%2000-1000))
	}
	return b.Bytes()
}

func voiceSample(participant string, content []byte, rate float64) SampleInput {
	at := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	return SampleInput{
		Declaration: provenance.Declaration{
			Path:        "v.wav",
			Participant: participant,
			Record: provenance.Record{
				Modality: "voice", Format: "wav", SamplingRate: rate, Channels: 1,
				CollectorID: "site-a/slp-2", Device: provenance.Device{Model: "H5", Firmware: "2.1"},
				CapturedAt: &at, Protocol: "sustained-vowel", LabelSchemaVersion: "1", ConsentVersion: "v1",
			},
		},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
		Where: participant + ".wav",
	}
}

func TestRegisterGrantReleaseVerify(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)

	batch := &Batch{Samples: []SampleInput{
		voiceSample("P017", wavBytes(16000, 16000, 1), 16000),
		voiceSample("P018", wavBytes(16000, 8000, 2), 16000),
	}}
	rep, err := r.Register(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 2 || rep.ParticipantsCreated != 2 {
		t.Fatalf("report %+v", rep)
	}

	// Registering the same content again returns the original samples.
	again, err := r.Register(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range again.Samples {
		if !s.Duplicate || s.Sample != rep.Samples[i].Sample || s.EventIndex != rep.Samples[i].EventIndex {
			t.Fatalf("second registration %+v, want duplicate of %+v", s, rep.Samples[i])
		}
	}

	clk.advance(time.Hour)
	if _, err := r.Grant(ctx, "P017", GrantInput{Document: "v1", Tiers: []string{"research", "commercial"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Grant(ctx, "P018", GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)

	out := filepath.Join(t.TempDir(), "bundle")
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Modalities: []string{"voice"}, Out: out, WithData: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.SampleCount != 1 {
		t.Fatalf("release of %d samples, want 1", res.Release.SampleCount)
	}
	if res.Trailer.Selection.Excluded["use not granted"] != 1 {
		t.Fatalf("selection %+v", res.Trailer.Selection)
	}

	vrep, err := release.Verify(out, r.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if vrep.FilesChecked != 1 || !vrep.DataPresent {
		t.Fatalf("verify report %+v", vrep)
	}

	if _, err := r.VerifyLog(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterRejectsWholeBatch(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	before, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	good := voiceSample("P1", wavBytes(16000, 1000, 1), 16000)
	wrongRate := voiceSample("P2", wavBytes(16000, 1000, 2), 44100)
	nearRate := voiceSample("P2", wavBytes(16000, 1000, 4), 16001)
	truncated := voiceSample("P3", wavBytes(16000, 1000, 3)[:500], 16000)
	empty := voiceSample("P3", nil, 16000)
	_, err = r.Register(ctx, &Batch{Samples: []SampleInput{good, wrongRate, nearRate, truncated, empty}})
	var be *BatchError
	if !errors.As(err, &be) || len(be.Problems) != 4 {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"samplingRate: declared 44100 Hz but the file has 16000 Hz", "declared 16001 Hz", "truncated", "is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error does not say %q: %v", want, err)
		}
	}

	// A consent document that was never registered is checked before any
	// file is read.
	unknown := voiceSample("P1", wavBytes(16000, 1000, 1), 16000)
	unknown.Declaration.ConsentVersion = "v9"
	_, err = r.Register(ctx, &Batch{Samples: []SampleInput{good, unknown}})
	if err == nil || !strings.Contains(err.Error(), `consentVersion: "v9" is not a registered consent document`) {
		t.Fatalf("unknown consent document: %v", err)
	}
	// A capture time in the future is a mistake in the manifest; an hour
	// ahead is a fast device clock.
	future := voiceSample("P1", wavBytes(16000, 1000, 5), 16000)
	later := time.Date(2099, 5, 1, 10, 0, 0, 0, time.UTC)
	future.Declaration.CapturedAt = &later
	_, err = r.Register(ctx, &Batch{Samples: []SampleInput{good, future}})
	if err == nil || !strings.Contains(err.Error(), "capturedAt: 2099-05-01T10:00:00Z is in the future") {
		t.Fatalf("capture in 2099: %v", err)
	}
	zero := time.Time{}
	future.Declaration.CapturedAt = &zero
	_, err = r.Register(ctx, &Batch{Samples: []SampleInput{good, future}})
	if err == nil || !strings.Contains(err.Error(), "capturedAt: 0001-01-01T00:00:00Z is before 1900") {
		t.Fatalf("capture in year 1: %v", err)
	}
	rep, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Size != before.Size {
		t.Fatalf("log size %d after a rejected batch, want %d", rep.Size, before.Size)
	}
	var objects []string
	r.Blobs().List(ctx, "", func(o blobstore.Object) error { objects = append(objects, o.Key); return nil })
	if len(objects) != 0 {
		t.Fatalf("blobs left behind: %v", objects)
	}
}

func TestGarbageCollectionKeepsReleaseDocuments(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("A", wavBytes(16000, 2000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Grant(ctx, "A", GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: filepath.Join(t.TempDir(), "b1")})
	if err != nil {
		t.Fatal(err)
	}
	// An orphan document set, as a release transaction that failed leaves.
	w, err := r.Blobs().NewWriter(ctx, ReleasePrefix+"r-orphan/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("{}"))
	w.Close()

	rep, err := r.CollectGarbage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Orphans != 1 {
		t.Fatalf("gc removed %d orphans, want the 1 orphan document: %+v", rep.Orphans, rep)
	}
	if err := r.ExportRelease(ctx, res.Release.ID, filepath.Join(t.TempDir(), "b2"), true); err != nil {
		t.Fatalf("export after gc: %v", err)
	}
	if _, err := r.VerifyLog(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterReportsDifferingMetadata(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	wav := wavBytes(16000, 1000, 1)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("P1", wav, 16000)}}); err != nil {
		t.Fatal(err)
	}
	again := voiceSample("P1", wav, 16000)
	again.Declaration.Protocol = "reading-passage"
	again.Declaration.Device.Firmware = "3.0"
	same := voiceSample("P1", wav, 16000)
	rep, err := r.Register(ctx, &Batch{Samples: []SampleInput{again, same}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Samples[0].Differs, ","); !rep.Samples[0].Duplicate || got != "device.firmware,protocol" {
		t.Fatalf("changed metadata: duplicate %v, differs %q", rep.Samples[0].Duplicate, got)
	}
	if len(rep.Samples[1].Differs) != 0 {
		t.Fatalf("unchanged metadata reported as different: %v", rep.Samples[1].Differs)
	}
}
