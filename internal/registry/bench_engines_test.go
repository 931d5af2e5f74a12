package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage/pgtest"
	"github.com/steward-rehab/steward/internal/synth"
)

// benchBatchSize is how many files one client registers per batch.
const benchBatchSize = 200

// BenchmarkRegisterClients registers small IMU files (5 s at 100 Hz, about
// 25 KB each) from 1, 4 and 16 concurrent clients sharing one registry, on
// SQLite and, when STEWARD_TEST_POSTGRES is set, on PostgreSQL. One
// operation is one sample; each client registers batches of
// benchBatchSize files for participants of its own, as separate sites
// would.
func BenchmarkRegisterClients(b *testing.B) {
	bodies := make([][]byte, 100)
	for i := range bodies {
		var buf bytes.Buffer
		synth.IMU(&buf, 100, 5, i)
		// Drop the header: each sample gets a header of its own, which
		// makes its content new.
		bodies[i] = buf.Bytes()[bytes.IndexByte(buf.Bytes(), '\n')+1:]
	}
	engines := []struct {
		name     string
		database func(b *testing.B) string
	}{
		{"sqlite", func(*testing.B) string { return "" }},
		{"postgres", func(b *testing.B) string { return pgtest.URL(b) }},
	}
	for _, e := range engines {
		for _, clients := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/clients=%d", e.name, clients), func(b *testing.B) {
				r := benchRegistryOn(b, e.database(b))
				benchClients(b, r, clients, bodies)
			})
		}
	}
}

// benchRegistryOn creates a registry on the database URL ("" for SQLite).
func benchRegistryOn(b *testing.B, database string) *Registry {
	b.Helper()
	r, err := Init(context.Background(), b.TempDir(), InitOptions{Options: Options{Database: database}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// benchClients registers b.N samples from the given number of goroutines,
// each taking batches of up to benchBatchSize samples until none are left.
func benchClients(b *testing.B, r *Registry, clients int, bodies [][]byte) {
	ctx := context.Background()
	var remaining atomic.Int64
	var serial atomic.Int64
	remaining.Store(int64(b.N))
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := min(remaining.Add(-benchBatchSize)+benchBatchSize, benchBatchSize)
				if n <= 0 {
					return
				}
				batch := &Batch{Samples: make([]SampleInput, n)}
				for i := range batch.Samples {
					batch.Samples[i] = sensorSample(fmt.Sprintf("C%02d-P%02d", c, i%50), serial.Add(1), bodies[i%len(bodies)])
				}
				if _, err := r.Register(ctx, batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// sensorSample declares an IMU recording whose content is unique to
// serial: the serial number is part of the last header column's name.
func sensorSample(participant string, serial int64, body []byte) SampleInput {
	header := fmt.Sprintf("time_s\tacc_x_g\tacc_y_g\tacc_z_g\tgyro_x_dps\tgyro_y_dps\tgyro_z_dps_%d\n", serial)
	return SampleInput{
		Declaration: provenance.Declaration{
			Path: "imu.tsv", Participant: participant,
			Record: provenance.Record{
				Modality: "sensor", Format: "tsv", SamplingRate: 100, Channels: 6, TimeUnit: "s", CollectorID: "bench",
				Device: provenance.Device{Model: "imu", Firmware: "1"}, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
			},
		},
		Open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader([]byte(header)), bytes.NewReader(body))), nil
		},
		Where: fmt.Sprintf("sample %d", serial),
	}
}
