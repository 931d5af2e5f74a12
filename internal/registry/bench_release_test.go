package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
)

// seedSynthetic fills a registry with samples samples of participants
// participants, each with a consent history of 1 to 20 records, logging
// every event as registration and consent do but in large transactions:
// registering a million files one batch at a time is the registration
// benchmark's job, not this one's. The samples' recordings are not stored,
// so releases built from it carry no data.
func seedSynthetic(b *testing.B, r *Registry, samples, participants int) {
	b.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(42, 7))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const chunk = 2000 // participants per transaction
	next := 0
	for first := 0; first < participants; first += chunk {
		last := min(first+chunk, participants)
		err := r.update(ctx, func(ctx context.Context, w *writer) error {
			var rows []storage.Sample
			for p := first; p < last; p++ {
				pseudonym := fmt.Sprintf("p-bench%07d", p)
				age := float64(20 + p%70)
				attrs := participant.Attributes{AgeYears: &age, Sex: []string{"female", "male", ""}[p%3], Condition: []string{"parkinsons", "control", "stroke"}[p%3]}
				pp := storage.Participant{Pseudonym: pseudonym, Namespace: "bench", SourceID: pseudonym, Attributes: attrs, Salt: []byte("s"), RegisteredAt: start}
				idx, err := w.append(event.TypeParticipantRegistered, event.ParticipantRegistered{Participant: pseudonym, AttributesDigest: attrs.Digest(pp.Salt)})
				if err != nil {
					return err
				}
				pp.EventIndex = idx
				if err := w.tx.InsertParticipant(ctx, pp, []byte("not a real key")); err != nil {
					return err
				}
				// This participant's share of the samples.
				n := samples/participants + btoi(p < samples%participants)
				for i := 0; i < n; i++ {
					row, err := syntheticSample(w, pseudonym, next, start)
					if err != nil {
						return err
					}
					rows = append(rows, row)
					next++
				}
				if err := syntheticHistory(ctx, w, rng, pseudonym, start); err != nil {
					return err
				}
			}
			return w.tx.InsertSamples(ctx, rows)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

func syntheticSample(w *writer, pseudonym string, n int, at time.Time) (storage.Sample, error) {
	digest := fmt.Sprintf("sha256:%020x%044x", n, n)
	prov := provenance.Record{
		Modality: []string{"pressure", "sensor", "voice", "video"}[n%4], Format: "tsv", SamplingRate: 100, CollectorID: "bench/site",
		Device: provenance.Device{Model: "insole", Firmware: "1"}, CapturedAt: &at, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
	}
	s := storage.Sample{ID: sampleID(digest), Participant: pseudonym, Digest: digest, Size: 1000, Provenance: prov,
		Source: map[string]string{}, BlobKey: "bench/none", RegisteredAt: at}
	idx, err := w.append(event.TypeSampleRegistered, event.SampleRegistered{Sample: s.ID, Participant: pseudonym, Digest: digest, Size: s.Size, Record: prov})
	s.EventIndex = idx
	return s, err
}

// syntheticHistory logs 1 to 20 consent records: mostly grants, some
// denies and withdrawals, over two years.
func syntheticHistory(ctx context.Context, w *writer, rng *rand.Rand, pseudonym string, start time.Time) error {
	n := 1 + rng.IntN(20)
	for i := 0; i < n; i++ {
		signed := start.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
		rec := consent.Record{ID: fmt.Sprintf("c-%s-%02d", pseudonym, i), Participant: pseudonym, SignedAt: signed, From: signed,
			Tiers: []string{"research", "commercial"}, Modalities: provenance.Modalities, Method: "written"}
		typ := event.TypeConsentGranted
		switch k := rng.IntN(10); {
		case k < 7:
			rec.Action, rec.Decision, rec.Document = consent.ActionGrant, consent.Permit, "v1"
		case k < 8:
			rec.Action, rec.Decision, rec.Document = consent.ActionGrant, consent.Deny, "v1"
			rec.Modalities = []string{"video"}
		default:
			rec.Action, typ = consent.ActionWithdraw, event.TypeConsentWithdrawn
			rec.Tiers = []string{"commercial"}
		}
		idx, err := w.append(typ, event.ConsentRecorded{Record: rec})
		if err != nil {
			return err
		}
		if err := w.tx.InsertConsentRecord(ctx, rec, idx); err != nil {
			return err
		}
	}
	return nil
}

// peakMemory samples the Go runtime's memory obtained from the system
// (less what it returned) while fn runs, and returns the largest value.
func peakMemory(fn func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if v := m.Sys - m.HeapReleased; v > peak.Load() {
			peak.Store(v)
		}
	}
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	fn()
	close(done)
	sample()
	return peak.Load()
}

// BenchmarkReleaseBuild builds a commercial release over synthetic samples
// with consent histories, on SQLite and, when STEWARD_TEST_POSTGRES is set,
// PostgreSQL. STEWARD_BENCH_RELEASE_SAMPLES sets the number of samples
// (default 100,000; 1,000,000 for the recorded run), with ten samples per
// participant. It reports the build time, which includes writing the
// bundle with every inclusion proof, and the peak memory of the process.
func BenchmarkReleaseBuild(b *testing.B) {
	samples := 100_000
	if v := os.Getenv("STEWARD_BENCH_RELEASE_SAMPLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("STEWARD_BENCH_RELEASE_SAMPLES=%q: %v", v, err)
		}
		samples = n
	}
	engines := []struct {
		name     string
		database func(b *testing.B) string
	}{
		{"sqlite", func(*testing.B) string { return "" }},
		{"postgres", func(b *testing.B) string { return pgtest.URL(b) }},
	}
	for _, e := range engines {
		b.Run(fmt.Sprintf("%s/samples=%d", e.name, samples), func(b *testing.B) {
			r := benchRegistryOn(b, e.database(b))
			seedSynthetic(b, r, samples, max(1, samples/10))
			runtime.GC()
			b.ResetTimer()
			var included int
			for b.Loop() {
				out := filepath.Join(b.TempDir(), "bundle")
				peak := peakMemory(func() {
					res, err := r.BuildRelease(context.Background(), ReleaseSpec{Purpose: "commercial", Out: out})
					if err != nil {
						b.Fatal(err)
					}
					included = res.Release.SampleCount
				})
				b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
			}
			b.ReportMetric(float64(included), "included")
		})
	}
}
