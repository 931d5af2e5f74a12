package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
)

// largeVideo is a recording above the pack threshold, stored on its own.
func largeVideo(participant string) SampleInput {
	data := make([]byte, 3<<20)
	rand.Read(data)
	at := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	return SampleInput{
		Declaration: provenance.Declaration{Path: "walk.mp4", Participant: participant, Record: provenance.Record{
			Modality: "video", Format: "mp4", SamplingRate: 30, CollectorID: "site-a", Device: provenance.Device{Model: "cam", Firmware: "1"},
			CapturedAt: &at, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
		}},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		Where: participant + " video",
	}
}

func TestEraseParticipant(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	// A and B share a pack of voice recordings; A also has a large video.
	batch := &Batch{Samples: []SampleInput{
		voiceSample("A", wavBytes(16000, 4000, 1), 16000),
		voiceSample("B", wavBytes(16000, 4000, 2), 16000),
		largeVideo("A"),
	}}
	reg, err := r.Register(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"A", "B"} {
		if _, err := r.Grant(ctx, p, GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice", "video"}}); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Hour)
	bundle := filepath.Join(t.TempDir(), "before")
	rel, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: bundle, WithData: true})
	if err != nil {
		t.Fatal(err)
	}
	before, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Remember where A's recordings were.
	var aLocations []storage.Sample
	r.Store().View(ctx, func(tx storage.ReadTx) error {
		return tx.Samples(ctx, storage.SampleFilter{Participant: reg.Samples[0].Participant}, func(s storage.Sample) error {
			aLocations = append(aLocations, s)
			return nil
		})
	})

	clk.advance(time.Hour)
	rep, err := r.Erase(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Samples != 2 || len(rep.Notices) != 1 || rep.Notices[0].Reason != NoticeErased || len(rep.Notices[0].Samples) != 2 || rep.PacksRewritten != 1 {
		t.Fatalf("erasure report %+v", rep)
	}

	// Nothing of A can be read back: the objects are gone and so is the key.
	for _, s := range aLocations {
		if _, err := r.Blobs().Open(ctx, s.BlobKey); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("recording of erased sample %s still at %s: %v", s.ID, s.BlobKey, err)
		}
	}
	err = r.Store().View(ctx, func(tx storage.ReadTx) error {
		if _, err := tx.DataKey(ctx, rep.Participant); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("data key after erasure: %v", err)
		}
		p, err := tx.Participant(ctx, rep.Participant)
		if err != nil {
			return err
		}
		if p.ErasedAt.IsZero() || !strings.HasPrefix(p.SourceID, "erased:") || p.Attributes.AgeYears != nil {
			t.Errorf("participant after erasure: %+v", p)
		}
		found, err := tx.ParticipantsBySource(ctx, "", "A")
		if err != nil || len(found) != 0 {
			t.Errorf("source id A still resolves: %v %v", found, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// B's recording moved to a new pack and still reads back.
	after, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyContent(ctx, after); err != nil || len(after.Problems) > 0 {
		t.Fatalf("content after erasure: %v %v", err, after.Problems)
	}
	// Every checkpoint signed before the erasure still verifies, and so does
	// the bundle built before it.
	if after.Checkpoints <= before.Checkpoints {
		t.Fatalf("checkpoints %d after, %d before", after.Checkpoints, before.Checkpoints)
	}
	if _, err := release.Verify(bundle, r.VerifierKey()); err != nil {
		t.Fatalf("bundle built before the erasure: %v", err)
	}
	_, notices, err := r.ReleaseStatus(ctx, rel.Release.ID)
	if err != nil || len(notices) != 1 {
		t.Fatalf("notices of the release: %v %v", notices, err)
	}

	// A second erasure and an export with data are refused clearly.
	if _, err := r.Erase(ctx, rep.Participant); err == nil || !strings.Contains(err.Error(), "was erased") {
		t.Errorf("second erasure: %v", err)
	}
	if err := r.ExportRelease(ctx, rel.Release.ID, filepath.Join(t.TempDir(), "again"), true); err == nil || !strings.Contains(err.Error(), "erased") {
		t.Errorf("export with data after erasure: %v", err)
	}
}

// TestEraseSticks imports the same recordings again after an erasure, as
// re-running an import of a public dataset does: the erased participant's
// samples and attributes are left out, and nothing else changes.
func TestEraseSticks(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	age := 71.0
	batch := func() *Batch {
		return &Batch{
			Participants: []ParticipantInput{
				{Namespace: "study", SourceID: "A", Attributes: participant.Attributes{AgeYears: &age, Sex: "female"}},
				{Namespace: "study", SourceID: "B"},
			},
			Samples: []SampleInput{
				withNamespace(voiceSample("A", wavBytes(16000, 4000, 1), 16000), "study"),
				withNamespace(voiceSample("B", wavBytes(16000, 4000, 2), 16000), "study"),
			},
		}
	}
	if _, err := r.Register(ctx, batch()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Erase(ctx, "study:A"); err != nil {
		t.Fatal(err)
	}
	var erased []string
	r.Store().View(ctx, func(tx storage.ReadTx) error {
		return tx.Participants(ctx, func(p storage.Participant) error {
			if !p.ErasedAt.IsZero() {
				erased = append(erased, p.Pseudonym)
			}
			return nil
		})
	})
	if len(erased) != 1 {
		t.Fatalf("erased participants %v, want one", erased)
	}
	if _, err := r.Grant(ctx, erased[0], GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}}); err == nil || !strings.Contains(err.Error(), "no consent can be granted") {
		t.Errorf("grant for the erased participant: %v", err)
	}
	for _, ref := range []string{"study:A", "A"} {
		if _, _, _, err := r.ConsentHistory(ctx, ref); err == nil || !strings.Contains(err.Error(), "was erased at their request") {
			t.Errorf("%s after the erasure: %v", ref, err)
		}
	}
	before, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Register(ctx, batch())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Erased) != 1 || len(rep.Samples) != 1 || !rep.Samples[0].Duplicate || rep.ParticipantsCreated != 0 {
		t.Fatalf("import after erasure: %+v", rep)
	}
	after, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size != before.Size {
		t.Fatalf("the import after the erasure logged %d events", after.Size-before.Size)
	}
	// A restored backup keeps the erasure key, so the erasure still holds.
	backup := filepath.Join(t.TempDir(), "backup")
	if _, err := r.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	restored, _ := restoreAndOpen(t, backup)
	if rep, err := restored.Register(ctx, batch()); err != nil || len(rep.Erased) != 1 {
		t.Fatalf("import into the restored registry: %+v, %v", rep, err)
	}
	// The erased recording sent again under another namespace is left out,
	// and the row creates no participant either.
	again := &Batch{Samples: []SampleInput{withNamespace(voiceSample("A", wavBytes(16000, 4000, 1), 16000), "other")}}
	if rep, err := r.Register(ctx, again); err != nil || len(rep.Erased) != 1 || rep.ParticipantsCreated != 0 || len(rep.Samples) != 0 {
		t.Fatalf("erased content under another namespace: %+v, %v", rep, err)
	}
	if end, err := r.VerifyLog(ctx); err != nil || end.Size != after.Size {
		t.Fatalf("the erased recording sent again changed the log: %+v, %v", end, err)
	}
	// A pseudonym that does not exist is an error, not a new participant.
	typo := voiceSample("p-zzzzzzzzzzzzz", wavBytes(16000, 4000, 9), 16000)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{typo}}); err == nil || !strings.Contains(err.Error(), "unknown participant pseudonym") {
		t.Fatalf("unknown pseudonym: %v", err)
	}
}

func withNamespace(s SampleInput, ns string) SampleInput {
	s.Namespace = ns
	return s
}
