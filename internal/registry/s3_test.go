package registry

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage/storagetest"
)

// TestRegistryOnS3 runs the registry end to end on SQLite and the S3 bucket
// in STEWARD_TEST_S3: register, consent, a release with data, and full
// verification, then the same checks after reopening from steward.json.
func TestRegistryOnS3(t *testing.T) {
	ctx := context.Background()
	blobs := storagetest.S3URL(t)
	clk := &clock{t: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)}
	dir := filepath.Join(t.TempDir(), "reg")
	r, err := Init(ctx, dir, InitOptions{Options: Options{Blobs: blobs, Now: clk.now}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Close() }()

	people := participantNames("S", 4)
	rep, err := r.Register(ctx, generatedBatch(t, 1, true, people...))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 16 || rep.ParticipantsCreated != 4 {
		t.Fatalf("registered %d samples of %d new participants, want 16 of 4", len(rep.Samples), rep.ParticipantsCreated)
	}

	// Small recordings went into a pack and each long one into an object of
	// its own; no upload is left under staging/.
	keys := map[string]int{}
	err = r.Blobs().List(ctx, "", func(o blobstore.Object) error {
		keys[strings.SplitN(o.Key, "/", 2)[0]]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if keys["packs"] != 1 || keys["participants"] != 4 || keys["staging"] != 0 {
		t.Errorf("objects by first key segment: %v, want 1 pack, 4 participants' objects and nothing staged", keys)
	}

	clk.advance(time.Hour)
	for _, p := range people[:2] {
		if _, err := r.Grant(ctx, p, GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice", "sensor", "pressure"}}); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Hour)
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: out, WithData: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.SampleCount != 8 {
		t.Errorf("release of %d samples, want the 8 of the 2 consenting participants", res.Release.SampleCount)
	}
	vrep, err := release.Verify(out, r.VerifierKey())
	if err != nil {
		t.Fatalf("verify release: %v", err)
	}
	if vrep.FilesChecked != 8 || !vrep.DataPresent {
		t.Errorf("release verification checked %d data files (data present: %v), want 8", vrep.FilesChecked, vrep.DataPresent)
	}
	size := verifyRegistry(t, r)

	// steward.json now names the bucket; reopening reads it from there.
	r.Close()
	if r, err = Open(ctx, dir, Options{Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Blobs().String(), "s3://") {
		t.Errorf("reopened registry stores blobs in %s, want the S3 bucket", r.Blobs())
	}
	if got := verifyRegistry(t, r); got != size {
		t.Errorf("reopened log has %d entries, want %d", got, size)
	}
}

// faultReader reads body and calls at once when the reader reaches offset
// (or its end, for an offset past it), before returning more bytes.
type faultReader struct {
	body   []byte
	pos    int
	offset int
	at     func()
	fired  bool
}

func (f *faultReader) Read(p []byte) (int, error) {
	if !f.fired && f.pos >= min(f.offset, len(f.body)) {
		f.fired = true
		f.at()
	}
	if f.pos >= len(f.body) {
		return 0, io.EOF
	}
	end := len(f.body)
	if !f.fired {
		end = min(end, f.offset)
	}
	n := copy(p, f.body[f.pos:end])
	f.pos += n
	return n, nil
}

func (f *faultReader) Close() error { return nil }

// withFault makes a sample's content call at when its reader reaches offset.
func withFault(s SampleInput, offset int, at func()) SampleInput {
	open := s.Open
	s.Open = func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		body, err := io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
		return &faultReader{body: body, offset: offset, at: at}, nil
	}
	return s
}

// TestImportSurvivesS3Outage stops the S3 server at three points of an
// import: while a large recording uploads, after every file was read and
// before the pack of small ones is written, and before a staged recording
// is moved into place. Each import must fail naming the store and the
// object, leave the log and every recording consistent, and succeed when
// run again with the server back.
func TestImportSurvivesS3Outage(t *testing.T) {
	ctx := context.Background()
	gw := storagetest.StartVersityGW(t)
	gw.CreateBucket(t, "steward-fault")
	r, err := Init(ctx, filepath.Join(t.TempDir(), "reg"), InitOptions{Options: Options{Blobs: gw.URL("steward-fault")}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Register(ctx, generatedBatch(t, 1, true, "F000")); err != nil {
		t.Fatal(err)
	}
	before := verifyRegistry(t, r)

	// expectOutage checks the failed import, brings the server back and
	// checks that nothing was logged and every recording still reads back.
	expectOutage := func(t *testing.T, err error, object string) {
		t.Helper()
		if err == nil {
			t.Fatal("the import succeeded with the S3 server stopped")
		}
		msg := err.Error()
		if !strings.Contains(msg, "in s3://steward-fault") || !strings.Contains(msg, "blob "+object) {
			t.Errorf("error does not name the store s3://steward-fault and an object under %s:\n%s", object, msg)
		}
		if strings.Contains(msg, "endpoint=") {
			t.Errorf("error shows the blob store URL's query:\n%s", msg)
		}
		gw.Start(t)
		if got := verifyRegistry(t, r); got != before {
			t.Errorf("log has %d entries after the failed import, want %d", got, before)
		}
	}
	// importAgain runs the import with the server up and checks the result.
	importAgain := func(t *testing.T, b *Batch, want int) {
		t.Helper()
		rep, err := r.Register(ctx, b)
		if err != nil {
			t.Fatalf("import with the server back: %v", err)
		}
		if len(rep.Samples) != want {
			t.Errorf("import with the server back registered %d samples, want %d", len(rep.Samples), want)
		}
		before = verifyRegistry(t, r)
	}

	t.Run("during upload", func(t *testing.T) {
		b := generatedBatch(t, 2, true, "F001")
		long := len(b.Samples) - 1 // the 1.28 MB vowel, staged as it streams
		faulty := *b
		faulty.Samples = append([]SampleInput(nil), b.Samples...)
		faulty.Samples[long] = withFault(b.Samples[long], 1_100_000, func() { gw.Stop(t) })
		_, err := r.Register(ctx, &faulty)
		expectOutage(t, err, content.StagingPrefix)
		importAgain(t, b, 4)
	})

	t.Run("before pack write", func(t *testing.T) {
		// Only small recordings: staging keeps them in memory, so the first
		// request after the last file is read writes the pack.
		b := generatedBatch(t, 3, false, "F002", "F003")
		faulty := *b
		faulty.Samples = append([]SampleInput(nil), b.Samples...)
		var unread atomic.Int32
		unread.Store(int32(len(b.Samples)))
		for i := range faulty.Samples {
			faulty.Samples[i] = withFault(b.Samples[i], 1<<30, func() {
				if unread.Add(-1) == 0 {
					gw.Stop(t)
				}
			})
		}
		_, err := r.Register(ctx, &faulty)
		expectOutage(t, err, content.PackPrefix)
		importAgain(t, b, 6)
	})

	t.Run("before move", func(t *testing.T) {
		// A new long recording, and a small one registered before that
		// waits for the long one's upload to finish and then stops the
		// server. The batch writes no pack, so the move fails first.
		b := generatedBatch(t, 4, true, "F004")
		long := b.Samples[len(b.Samples)-1]
		dup := generatedBatch(t, 1, true, "F000").Samples[0]
		dup = withFault(dup, 1<<30, func() {
			waitForStaged(t, r.Blobs())
			// The upload is visible; give its response time to reach the
			// client before the server goes.
			time.Sleep(200 * time.Millisecond)
			gw.Stop(t)
		})
		_, err := r.Register(ctx, &Batch{Samples: []SampleInput{long, dup}})
		expectOutage(t, err, content.StagingPrefix)
		if err != nil && !strings.Contains(err.Error(), "move blob staging/") {
			t.Errorf("error is not about moving the staged upload into place:\n%s", err)
		}

		// The staged upload outlived the failed import; garbage collection
		// removes it once the server is back.
		gc, err := r.CollectGarbage(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if gc.Staging != 1 {
			t.Errorf("garbage collection removed %d staged uploads, want the 1 the failed import left", gc.Staging)
		}
		importAgain(t, b, 4)
	})
}

// waitForStaged waits until an upload has finished under staging/.
func waitForStaged(t *testing.T, blobs *blobstore.Store) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		found := false
		err := blobs.List(context.Background(), content.StagingPrefix, func(blobstore.Object) error {
			found = true
			return errors.New("stop listing")
		})
		if found {
			return
		}
		if err != nil {
			t.Errorf("list staged uploads: %v", err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("no upload appeared under staging/ within 30 s")
}
