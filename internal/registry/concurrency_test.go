package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/synth"
	"github.com/steward-rehab/steward/internal/tlog"
)

// The tests in this file run several writers against one registry: OS
// processes that re-run this test binary as TestWriterProcess, and
// goroutines of the test itself. Each writer reports every batch it
// committed on its standard output, so the test can check that nothing
// committed was lost, even by a writer it killed.

// writerEnv names the environment variable that makes TestWriterProcess act
// as a writer. It holds a writerSpec in JSON.
const writerEnv = "STEWARD_TEST_WRITER"

// writerSpec says what one writer registers. The content of every sample
// follows from the spec, so running a spec again registers the same files.
type writerSpec struct {
	Dir       string // registry folder
	Name      string // makes the writer's content and participants its own
	Clients   int    // goroutines, each registering its own batches
	Batches   int    // batches per client
	BatchSize int    // samples per batch
}

// committedBatch is the line a writer prints after a batch commits.
type committedBatch struct {
	Batch   string            `json:"batch"`
	Samples []committedSample `json:"samples"`
}

type committedSample struct {
	ID        string `json:"id"`
	Index     uint64 `json:"index"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// TestWriterProcess is the writer process that the concurrency tests start.
// Run on its own, it skips.
func TestWriterProcess(t *testing.T) {
	raw := os.Getenv(writerEnv)
	if raw == "" {
		t.Skipf("runs only as a writer process that the concurrency tests start with %s set", writerEnv)
	}
	var spec writerSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatalf("invalid %s: %v", writerEnv, err)
	}
	ctx := context.Background()
	r, err := Open(ctx, spec.Dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := runWriter(ctx, r, spec, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// runWriter registers the spec's batches and writes one committedBatch line
// to out after each commit.
func runWriter(ctx context.Context, r *Registry, spec writerSpec, out io.Writer) error {
	var mu sync.Mutex
	errs := make(chan error, spec.Clients)
	var wg sync.WaitGroup
	for c := range spec.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range spec.Batches {
				batch := writerBatch(spec, c, b)
				rep, err := r.Register(ctx, batch)
				if err != nil {
					errs <- fmt.Errorf("writer %s client %d batch %d: %w", spec.Name, c, b, err)
					return
				}
				line := committedBatch{Batch: batchName(spec.Name, c, b)}
				for _, s := range rep.Samples {
					line.Samples = append(line.Samples, committedSample{ID: s.Sample, Index: s.EventIndex, Duplicate: s.Duplicate})
				}
				raw, _ := json.Marshal(line)
				mu.Lock()
				_, err = out.Write(append(raw, '\n'))
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func batchName(writer string, client, batch int) string {
	return fmt.Sprintf("%s/%d/%d", writer, client, batch)
}

// writerBatch returns batch b of client c: one-second IMU files whose
// header names the sample, for participants of the client's own and for
// three participants that every writer shares, whose creation races.
func writerBatch(spec writerSpec, c, b int) *Batch {
	name := batchName(spec.Name, c, b)
	batch := &Batch{}
	for i := range spec.BatchSize {
		var buf bytes.Buffer
		synth.IMU(&buf, 100, 1, i)
		content := bytes.Replace(buf.Bytes(), []byte("gyro_z_dps"), fmt.Appendf(nil, "gyro_z_dps_%s_%d_%d_%d", spec.Name, c, b, i), 1)
		who := fmt.Sprintf("%s-%d-P%d", spec.Name, c, i%4)
		if i%2 == 1 {
			who = fmt.Sprintf("shared-P%d", i%3)
		}
		batch.Samples = append(batch.Samples, SampleInput{
			Declaration: provenance.Declaration{
				Path: "imu.tsv", Participant: who,
				Record: provenance.Record{
					Modality: "sensor", Format: "tsv", SamplingRate: 100, Channels: 6, TimeUnit: "s", CollectorID: "test",
					Device: provenance.Device{Model: "imu", Firmware: "1"}, Protocol: "walk", LabelSchemaVersion: "1", ConsentVersion: "v1",
				},
			},
			Open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
			Source: map[string]string{"batch": name},
			Where:  fmt.Sprintf("%s sample %d", name, i),
		})
	}
	return batch
}

// writerProcess is a writer running as a child process.
type writerProcess struct {
	spec writerSpec
	cmd  *exec.Cmd
	// output is what the process wrote besides committed batches: the test
	// framework's messages on standard output, and standard error.
	output syncBuffer
	// batches receives every committed batch the process reports, and is
	// closed when its standard output ends.
	batches chan committedBatch
}

// startWriter starts the test binary as a writer process. Its PostgreSQL
// connections carry the writer's name as their application_name, which
// pgx takes from PGAPPNAME.
func startWriter(t *testing.T, spec writerSpec) *writerProcess {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	w := &writerProcess{spec: spec, batches: make(chan committedBatch, spec.Clients*spec.Batches)}

	w.cmd = exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
	w.cmd.Env = append(os.Environ(), writerEnv+"="+string(raw), "PGAPPNAME=steward-"+spec.Name)
	w.cmd.Stderr = &w.output
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Kill a writer that a failed test left running.
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
	})

	go func() {
		defer close(w.batches)
		lines := bufio.NewScanner(stdout)
		lines.Buffer(nil, 1<<20)
		for lines.Scan() {
			var b committedBatch
			if bytes.HasPrefix(lines.Bytes(), []byte("{")) && json.Unmarshal(lines.Bytes(), &b) == nil {
				w.batches <- b
				continue
			}
			w.output.Write(append(lines.Bytes(), '\n'))
		}
	}()
	return w
}

// syncBuffer is a bytes.Buffer that two goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wait collects the batches the process reported and waits for it to exit.
func (w *writerProcess) wait() ([]committedBatch, error) {
	var got []committedBatch
	for b := range w.batches {
		got = append(got, b)
	}
	err := w.cmd.Wait()
	if err != nil {
		err = fmt.Errorf("writer %s: %w\n%s", w.spec.Name, err, w.output.String())
	}
	return got, err
}

// TestConcurrentWriters appends from several processes and goroutines at
// once. Meanwhile it checks, over and over, that the latest checkpoint and
// a proof computed for exactly its size verify together. Afterwards every
// committed sample must be stored at the index its writer reported, the
// indexes must be unique and gapless, and every stored checkpoint must be
// consistent with the one before it.
func TestConcurrentWriters(t *testing.T) {
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			dir, r := initRegistry(t, e.database(t))
			ctx := context.Background()
			processes, clients := 3, 2
			if e.name == "sqlite" {
				processes, clients = 2, 3
			}

			var writers []*writerProcess
			for p := range processes {
				writers = append(writers, startWriter(t, writerSpec{Dir: dir, Name: fmt.Sprintf("proc%d", p), Clients: clients, Batches: 5, BatchSize: 20}))
			}
			local := writerSpec{Dir: dir, Name: "local", Clients: 2, Batches: 5, BatchSize: 20}
			var localOut bytes.Buffer
			localDone := make(chan error, 1)
			go func() { localDone <- runWriter(ctx, r, local, &localOut) }()

			stop := make(chan struct{})
			checked := make(chan proofRounds, 1)
			go func() { checked <- checkProofsWhileAppending(t, r, stop) }()
			// Stop the checker before the test ends, on failure too: the
			// registry closes when it ends.
			stopChecker := sync.OnceValue(func() proofRounds {
				close(stop)
				return <-checked
			})
			defer stopChecker()
			waitLocal := sync.OnceValue(func() error { return <-localDone })
			defer waitLocal()

			var committed []committedBatch
			for _, w := range writers {
				got, err := w.wait()
				if err != nil {
					t.Fatal(err)
				}
				committed = append(committed, got...)
			}
			if err := waitLocal(); err != nil {
				t.Fatal(err)
			}
			rounds := stopChecker()
			committed = append(committed, parseCommitted(t, &localOut)...)

			if rounds.proofs < 5 || rounds.sizes < 3 {
				t.Errorf("checked %d proofs against %d checkpoint sizes while writers appended, want at least 5 and 3", rounds.proofs, rounds.sizes)
			}
			want := (processes*clients + local.Clients) * 5
			if len(committed) != want {
				t.Fatalf("writers reported %d committed batches, want %d", len(committed), want)
			}
			stored := checkCommitted(t, r, committed)
			if len(stored) != want*20 {
				t.Errorf("%d samples stored, want %d", len(stored), want*20)
			}
			checkAllCheckpointsConsistent(t, r)
			verifyLogAndContent(t, r)
		})
	}
}

func parseCommitted(t *testing.T, out *bytes.Buffer) []committedBatch {
	t.Helper()
	var got []committedBatch
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		var b committedBatch
		if err := json.Unmarshal(lines.Bytes(), &b); err != nil {
			t.Fatalf("writer output %q: %v", lines.Text(), err)
		}
		got = append(got, b)
	}
	return got
}

// proofRounds counts what checkProofsWhileAppending checked.
type proofRounds struct {
	proofs int
	sizes  int // distinct checkpoint sizes seen
}

// checkProofsWhileAppending checks, until stop is closed, that an
// inclusion proof computed for a checkpoint's size verifies against that
// checkpoint's root. It takes proofs from the snapshot that holds the latest
// stored checkpoint, and from a later snapshot for a checkpoint that
// Registry.Checkpoint signed. Consecutive checkpoints must be consistent.
func checkProofsWhileAppending(t *testing.T, r *Registry, stop <-chan struct{}) proofRounds {
	ctx := context.Background()
	var rounds proofRounds
	var prev storage.Checkpoint
	sizes := map[uint64]bool{}
	check := func(tx storage.ReadTx, cp storage.Checkpoint) error {
		parsed, err := r.verifier.Open(cp.Note)
		if err != nil {
			return err
		}
		if parsed.Size != cp.Size || !bytes.Equal(parsed.Root, cp.Root) {
			return fmt.Errorf("checkpoint row of size %d does not match its signed note of size %d", cp.Size, parsed.Size)
		}
		if cp.Size == 0 {
			return fmt.Errorf("checkpoint of size 0 after the log was created")
		}
		for _, idx := range []uint64{rand.Uint64N(cp.Size), cp.Size - 1} {
			proof, err := tlog.InclusionProof(ctx, tx, idx, cp.Size)
			if err != nil {
				return err
			}
			var leaf []byte
			if err := tx.EntriesAt(ctx, []uint64{idx}, func(_ uint64, e []byte) error { leaf = tlog.LeafHash(e); return nil }); err != nil {
				return err
			}
			if err := tlog.VerifyInclusion(idx, cp.Size, leaf, proof, parsed.Root); err != nil {
				return fmt.Errorf("inclusion proof of entry %d for checkpoint size %d: %w", idx, cp.Size, err)
			}
			rounds.proofs++
		}
		if prev.Size > 0 && prev.Size <= cp.Size {
			proof, err := tlog.ConsistencyProof(ctx, tx, prev.Size, cp.Size)
			if err != nil {
				return err
			}
			if err := tlog.VerifyConsistency(prev.Size, cp.Size, proof, prev.Root, cp.Root); err != nil {
				return fmt.Errorf("checkpoint %d after %d: %w", cp.Size, prev.Size, err)
			}
		}
		prev = cp
		sizes[cp.Size] = true
		return nil
	}

	for done := false; !done; {
		select {
		case <-stop:
			done = true // one more round on the final log
		default:
		}
		// The latest stored checkpoint, with proofs from the same snapshot.
		err := r.store.View(ctx, func(tx storage.ReadTx) error {
			cp, err := tx.LatestCheckpoint(ctx)
			if err != nil {
				return err
			}
			return check(tx, cp)
		})
		if err != nil {
			t.Errorf("latest checkpoint: %v", err)
			break
		}

		// A checkpoint signed now, with proofs from a later snapshot in
		// which the log has grown past it.
		cp, err := r.Checkpoint(ctx)
		if err != nil {
			t.Errorf("sign checkpoint: %v", err)
			break
		}
		time.Sleep(time.Millisecond)
		if err := r.store.View(ctx, func(tx storage.ReadTx) error { return check(tx, cp) }); err != nil {
			t.Errorf("signed checkpoint: %v", err)
			break
		}
	}
	rounds.sizes = len(sizes)
	return rounds
}

// checkCommitted checks that every sample the writers reported is stored at
// the index they reported, that no two samples share an index, and that
// every index below the log size holds an entry. It returns the stored
// samples' indexes by sample id.
func checkCommitted(t *testing.T, r *Registry, committed []committedBatch) map[string]uint64 {
	t.Helper()
	ctx := context.Background()
	reported := map[string]uint64{}
	byIndex := map[uint64]string{}
	for _, b := range committed {
		for _, s := range b.Samples {
			if first, ok := reported[s.ID]; ok && first != s.Index {
				t.Errorf("sample %s reported at indexes %d and %d", s.ID, first, s.Index)
			}
			if other, ok := byIndex[s.Index]; ok && other != s.ID {
				t.Errorf("index %d reported for samples %s and %s", s.Index, other, s.ID)
			}
			reported[s.ID] = s.Index
			byIndex[s.Index] = s.ID
		}
	}

	stored := map[string]uint64{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		size, err := tx.LogSize(ctx)
		if err != nil {
			return err
		}
		n := uint64(0)
		if err := tx.Entries(ctx, 0, size, func(uint64, []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%d entries below log size %d", n, size)
		}
		storedAt := map[uint64]string{}
		return tx.Samples(ctx, storage.SampleFilter{}, func(s storage.Sample) error {
			if s.EventIndex >= size {
				return fmt.Errorf("sample %s at index %d, beyond the log size %d", s.ID, s.EventIndex, size)
			}
			if other, ok := storedAt[s.EventIndex]; ok {
				return fmt.Errorf("samples %s and %s are both stored at index %d", other, s.ID, s.EventIndex)
			}
			storedAt[s.EventIndex] = s.ID
			stored[s.ID] = s.EventIndex
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, idx := range reported {
		got, ok := stored[id]
		switch {
		case !ok:
			t.Errorf("committed sample %s is not stored", id)
		case got != idx:
			t.Errorf("sample %s is stored at index %d, its writer reported %d", id, got, idx)
		}
	}
	return stored
}

// checkAllCheckpointsConsistent checks every stored checkpoint's signature
// and a consistency proof between each pair of consecutive sizes.
func checkAllCheckpointsConsistent(t *testing.T, r *Registry) {
	t.Helper()
	ctx := context.Background()
	var cps []storage.Checkpoint
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		if err := tx.Checkpoints(ctx, func(cp storage.Checkpoint) error { cps = append(cps, cp); return nil }); err != nil {
			return err
		}
		for i, cp := range cps {
			parsed, err := r.verifier.Open(cp.Note)
			if err != nil {
				return fmt.Errorf("checkpoint of size %d: %w", cp.Size, err)
			}
			if parsed.Size != cp.Size || !bytes.Equal(parsed.Root, cp.Root) {
				return fmt.Errorf("checkpoint row of size %d does not match its note", cp.Size)
			}
			if i == 0 || cps[i-1].Size == 0 {
				continue
			}
			before := cps[i-1]
			proof, err := tlog.ConsistencyProof(ctx, tx, before.Size, cp.Size)
			if err != nil {
				return err
			}
			if err := tlog.VerifyConsistency(before.Size, cp.Size, proof, before.Root, cp.Root); err != nil {
				return fmt.Errorf("checkpoint %d after %d: %w", cp.Size, before.Size, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) < 2 {
		t.Fatalf("%d checkpoints stored, want one per committed batch", len(cps))
	}
}

// verifyLogAndContent runs the full log verification and reads back every
// stored recording.
func verifyLogAndContent(t *testing.T, r *Registry) {
	t.Helper()
	ctx := context.Background()
	rep, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyContent(ctx, rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("content verification: %v", rep.Problems)
	}
}

// TestConcurrentSameBatch registers one batch from several goroutines at
// once, as clients do that retry after a time-out. Every call must succeed
// and report the same sample at the same index, and each recording must be
// stored once.
func TestConcurrentSameBatch(t *testing.T) {
	for _, e := range testEngines() {
		t.Run(e.name, func(t *testing.T) {
			dir, r := initRegistry(t, e.database(t))
			ctx := context.Background()
			spec := writerSpec{Dir: dir, Name: "same", Clients: 1, Batches: 1, BatchSize: 30}
			const callers = 4
			reports := make([]*RegisterReport, callers)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					reports[i], errs[i] = r.Register(ctx, writerBatch(spec, 0, 0))
				}()
			}
			wg.Wait()

			fresh := 0
			for i, rep := range reports {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v", i, errs[i])
				}
				for j, s := range rep.Samples {
					first := reports[0].Samples[j]
					if s.Sample != first.Sample || s.EventIndex != first.EventIndex {
						t.Errorf("caller %d got sample %s at index %d, caller 0 got %s at %d", i, s.Sample, s.EventIndex, first.Sample, first.EventIndex)
					}
					if !s.Duplicate {
						fresh++
					}
				}
			}
			if fresh != spec.BatchSize {
				t.Errorf("%d samples reported as newly registered, want %d", fresh, spec.BatchSize)
			}
			if counts := samplesPerBatch(t, r); counts[batchName("same", 0, 0)] != spec.BatchSize {
				t.Errorf("%d samples stored, want %d", counts[batchName("same", 0, 0)], spec.BatchSize)
			}
			verifyLogAndContent(t, r)
		})
	}
}
