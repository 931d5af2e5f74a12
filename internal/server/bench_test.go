package server

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/synth"
)

// benchClients is how many clients register at once in the benchmarks.
const benchClients = 64

// benchRecording returns a distinct 2 s IMU recording (6 channels at
// 100 Hz, about 4 KB) from internal/synth, and its manifest row.
func benchRecording(b *testing.B, i int) ([]byte, []byte) {
	var buf bytes.Buffer
	if err := synth.IMU(&buf, 100, 2, 1_000_000+i); err != nil {
		b.Fatal(err)
	}
	row, _ := json.Marshal(map[string]any{
		"path": "imu.tsv", "participant": fmt.Sprintf("B%06d", i), "modality": "sensor", "format": "tsv",
		"samplingRate": 100, "channels": 6, "timeUnit": "s", "collectorId": "bench/1",
		"device": map[string]string{"model": "synth", "firmware": "1"}, "capturedAt": "2025-03-02T10:00:00Z",
		"protocol": "usual-walk", "labelSchemaVersion": "1", "consentVersion": "v1",
	})
	return buf.Bytes(), row
}

// benchTar is the upload of one registration: a manifest and its file.
func benchTar(b *testing.B, i int) []byte {
	rec, row := benchRecording(b, i)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{{"manifest.jsonl", append(row, '\n')}, {"imu.tsv", rec}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o600, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	return buf.Bytes()
}

// runConcurrently calls do(i) for i in [0, n) from benchClients goroutines
// and reports throughput and latency percentiles.
func runConcurrently(b *testing.B, n int, do func(i int) error) {
	var next atomic.Int64
	latencies := make([]time.Duration, n)
	var wg sync.WaitGroup
	var failed atomic.Value

	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := do(i); err != nil {
					failed.Store(err)
					return
				}
				latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "samples/s")
	b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRegisterAPI registers one recording per request through POST
// /api/v1/samples from 64 concurrent clients on loopback.
func BenchmarkRegisterAPI(b *testing.B) {
	h := newBareHarness(b)
	uploads := make([][]byte, b.N)
	for i := range uploads {
		uploads[i] = benchTar(b, i)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: benchClients}
	httpClient := &http.Client{Transport: transport}
	url := h.ts.URL + "/api/v1/samples?manifest=manifest.jsonl&namespace=bench"
	auth := "Bearer " + h.tokens[registry.RoleAdmin]
	runConcurrently(b, b.N, func(i int) error {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(uploads[i]))
		req.Header.Set("Content-Type", tarType)
		req.Header.Set("Authorization", auth)
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("registration %d: %d %s", i, resp.StatusCode, body)
		}
		return nil
	})
}

// BenchmarkRegisterInProcess registers the same batches by calling the
// registry directly from 64 goroutines: the rate without HTTP.
func BenchmarkRegisterInProcess(b *testing.B) {
	h := newBareHarness(b)
	batches := make([]*registry.Batch, b.N)
	for i := range batches {
		rec, row := benchRecording(b, i)
		decl, err := provenance.ValidateJSON(row)
		if err != nil {
			b.Fatal(err)
		}
		batches[i] = &registry.Batch{Samples: []registry.SampleInput{{
			Declaration: decl, Namespace: "bench", Where: "imu.tsv",
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(rec)), nil },
		}}}
	}
	ctx := context.Background()
	runConcurrently(b, b.N, func(i int) error {
		_, err := h.reg.Register(ctx, batches[i])
		return err
	})
}
