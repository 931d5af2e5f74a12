package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/synth"
)

// largeFileSize is the size of the file in the ingest benchmark. It is
// larger than the CPU caches and small enough for the page cache, so both
// steward and openssl read it from memory.
const largeFileSize = 512 << 20

func largeFile(b *testing.B) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("steward-bench-%d.mp4", largeFileSize))
	if st, err := os.Stat(path); err == nil && st.Size() == largeFileSize {
		// Read it once, so that both benchmarks find it in the page cache
		// and neither measures the disk's read speed.
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(io.Discard, f); err != nil {
			b.Fatal(err)
		}
		return path
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, largeFileSize); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchRegistry(b *testing.B) *Registry {
	b.Helper()
	var opts InitOptions
	if os.Getenv("STEWARD_BENCH_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, err := Init(context.Background(), filepath.Join(b.TempDir(), "reg"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func videoDeclaration(participant string) provenance.Declaration {
	return provenance.Declaration{
		Path: "walk.mp4", Participant: participant,
		Record: provenance.Record{
			Modality: "video", Format: "mp4", SamplingRate: 30, CollectorID: "bench",
			Device: provenance.Device{Model: "cam", Firmware: "1"}, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
		},
	}
}

// BenchmarkIngestLargeFile registers one large file end to end: read,
// hash, encrypt, store, fsync, log. Each iteration uses a fresh registry so
// that the content is new.
func BenchmarkIngestLargeFile(b *testing.B) {
	path := largeFile(b)
	b.SetBytes(largeFileSize)
	for b.Loop() {
		b.StopTimer()
		r := benchRegistry(b)
		b.StartTimer()
		_, err := r.Register(context.Background(), &Batch{Samples: []SampleInput{{
			Declaration: videoDeclaration("B1"),
			Open:        func() (io.ReadCloser, error) { return os.Open(path) },
			Where:       path,
		}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenSSLSHA256 hashes the same file with `openssl dgst -sha256`,
// the hashing limit of the machine, in the same run.
func BenchmarkOpenSSLSHA256(b *testing.B) {
	path := largeFile(b)
	if _, err := exec.LookPath("openssl"); err != nil {
		b.Skip("openssl not installed")
	}
	b.SetBytes(largeFileSize)
	for b.Loop() {
		if out, err := exec.Command("openssl", "dgst", "-sha256", path).CombinedOutput(); err != nil {
			b.Fatalf("openssl: %v: %s", err, out)
		}
	}
}

// BenchmarkRegisterSensorBatch registers batches of small IMU files (5 s at
// 100 Hz, about 25 KB each) and reports samples per second.
func BenchmarkRegisterSensorBatch(b *testing.B) {
	const batchSize = 1000
	files := make([][]byte, batchSize)
	for i := range files {
		var buf bytes.Buffer
		synth.IMU(&buf, 100, 5, i)
		files[i] = buf.Bytes()
	}
	r := benchRegistry(b)
	round := 0
	for b.Loop() {
		batch := &Batch{}
		for i, content := range files {
			// Each round renames the last header column so the content is new.
			data := bytes.Replace(content, []byte("gyro_z_dps"), []byte(fmt.Sprintf("gyro_z_dps_%d", round)), 1)
			d := provenance.Declaration{
				Path: "imu.tsv", Participant: fmt.Sprintf("P%04d", i%200),
				Record: provenance.Record{
					Modality: "sensor", Format: "tsv", SamplingRate: 100, Channels: 6, TimeUnit: "s", CollectorID: "bench",
					Device: provenance.Device{Model: "imu", Firmware: "1"}, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
				},
			}
			batch.Samples = append(batch.Samples, SampleInput{
				Declaration: d,
				Open:        func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
				Where:       fmt.Sprintf("row %d", i),
			})
		}
		round++
		if _, err := r.Register(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkVerifyRelease verifies a 10,000-sample release bundle with its
// data files offline.
func BenchmarkVerifyRelease(b *testing.B) {
	const samples = 10000
	r := benchRegistry(b)
	ctx := context.Background()
	batch := &Batch{}
	for i := 0; i < samples; i++ {
		// Half a second of insole data, about 6 KB, made unique by its
		// last bytes.
		var buf bytes.Buffer
		synth.Insole(&buf, 100, 0.5, i)
		content := buf.Bytes()
		copy(content[len(content)-12:], fmt.Sprintf("%08d", i))
		batch.Samples = append(batch.Samples, SampleInput{
			Declaration: provenance.Declaration{Path: "x.bin", Participant: fmt.Sprintf("P%04d", i%500), Record: provenance.Record{
				Modality: "pressure", Format: "bin", SamplingRate: 100, CollectorID: "bench",
				Device: provenance.Device{Model: "insole", Firmware: "1"}, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
			}},
			Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
			Where: fmt.Sprintf("sample %d", i),
		})
	}
	if _, err := r.Register(ctx, batch); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		if _, err := r.Grant(ctx, fmt.Sprintf("P%04d", i), GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"pressure"},
			SignedAt: time.Now().Add(-time.Hour), From: time.Now().Add(-time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "bundle")
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: out, WithData: true})
	if err != nil {
		b.Fatal(err)
	}
	if res.Release.SampleCount != samples {
		b.Fatalf("release has %d samples, want %d", res.Release.SampleCount, samples)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := release.Verify(out, r.VerifierKey()); err != nil {
			b.Fatal(err)
		}
	}
}
