package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"

	"github.com/steward-rehab/steward/internal/blobstore"
)

// BlobOpener returns a new, empty blob store for one test. The suite closes it.
type BlobOpener func(t *testing.T) *blobstore.Store

// RunBlobs runs the blob store conformance tests against an engine.
func RunBlobs(t *testing.T, open BlobOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *blobstore.Store)
	}{
		{"WriteThenRead", testBlobWriteRead},
		{"SizesAroundBlocks", testBlobSizes},
		{"AbortLeavesNothing", testBlobAbort},
		{"Missing", testBlobMissing},
		{"MoveReplaces", testBlobMove},
		{"ListByPrefix", testBlobList},
		{"ReadRange", testBlobRange},
		{"ConcurrentWriters", testBlobConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func put(t *testing.T, s *blobstore.Store, key string, data []byte) {
	t.Helper()
	w, err := s.NewWriter(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, s *blobstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func testBlobWriteRead(t *testing.T, s *blobstore.Store) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 300_000) // 4.8 MB, several upload parts
	put(t, s, "a/b/c", data)
	if got := read(t, s, "a/b/c"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, wrote %d", len(got), len(data))
	}
	ok, err := s.Exists(context.Background(), "a/b/c")
	if err != nil || !ok {
		t.Fatalf("Exists: %v %v", ok, err)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func testBlobAbort(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	w, err := s.NewWriter(ctx, "aborted")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half"))
	// Several megabytes, so that an engine writing in the background has
	// a write in flight when the write is aborted.
	w.Write(make([]byte, 3<<20+5))
	w.Abort()
	if ok, err := s.Exists(ctx, "aborted"); err != nil || ok {
		t.Fatalf("an aborted write is visible: %v %v", ok, err)
	}
	var keys []string
	s.List(ctx, "", func(o blobstore.Object) error { keys = append(keys, o.Key); return nil })
	if len(keys) != 0 {
		t.Fatalf("objects after an aborted write: %v", keys)
	}
}

func testBlobMissing(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	if _, err := s.Open(ctx, "nope"); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Open of a missing key: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "nope"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testBlobMove(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	put(t, s, "staging/1", []byte("new"))
	put(t, s, "final/x", []byte("old"))
	if err := s.Move(ctx, "final/x", "staging/1"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "final/x"); string(got) != "new" {
		t.Fatalf("after move: %q", got)
	}
	if ok, _ := s.Exists(ctx, "staging/1"); ok {
		t.Fatal("the moved source still exists")
	}
	put(t, s, "staging/2", []byte("fresh"))
	if err := s.Move(ctx, "deep/new/key", "staging/2"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "deep/new/key"); string(got) != "fresh" {
		t.Fatalf("after move to a new prefix: %q", got)
	}
}

func testBlobList(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		put(t, s, fmt.Sprintf("participants/p-a/%d", i), []byte{byte(i)})
	}
	put(t, s, "participants/p-b/0", []byte("x"))
	var keys []string
	if err := s.List(ctx, "participants/p-a/", func(o blobstore.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if fmt.Sprint(keys) != "[participants/p-a/0 participants/p-a/1 participants/p-a/2]" {
		t.Fatalf("listed %v", keys)
	}
}

// testBlobRange reads byte ranges of one object, as packs of small
// recordings are read: at the start, in the middle across 1 MiB boundaries,
// and up to the last byte.
func testBlobRange(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7 % 251)
	}
	put(t, s, "packs/p", data)
	ranges := []struct {
		name           string
		offset, length int64
	}{
		{"start", 0, 100},
		{"middle", 1<<20 - 5, 1<<20 + 10},
		{"end", int64(len(data)) - 300, 300},
		{"one byte", 12345, 1},
		{"whole", 0, int64(len(data))},
	}
	for _, r := range ranges {
		rc, err := s.OpenRange(ctx, "packs/p", r.offset, r.length)
		if err != nil {
			t.Fatalf("%s: OpenRange(%d, %d): %v", r.name, r.offset, r.length, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: read range: %v", r.name, err)
		}
		if want := data[r.offset : r.offset+r.length]; !bytes.Equal(got, want) {
			t.Errorf("%s: range (%d, %d) read %d bytes that differ from the %d written", r.name, r.offset, r.length, len(got), len(want))
		}
	}
	if _, err := s.OpenRange(ctx, "packs/missing", 0, 10); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("OpenRange of a missing key: %v, want ErrNotFound", err)
	}
}

// testBlobConcurrent writes and reads back objects from several goroutines
// at once, as an import moves large recordings into place.
func testBlobConcurrent(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = writeAndMove(ctx, s, i)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	for i := range writers {
		want := bytes.Repeat([]byte{byte(i)}, 1000+i)
		if got := read(t, s, fmt.Sprintf("final/%d", i)); !bytes.Equal(got, want) {
			t.Errorf("final/%d holds %d bytes, want %d bytes of %d", i, len(got), len(want), i)
		}
	}
}

func writeAndMove(ctx context.Context, s *blobstore.Store, i int) error {
	w, err := s.NewWriter(ctx, fmt.Sprintf("staging/%d", i))
	if err != nil {
		return err
	}
	if _, err := w.Write(bytes.Repeat([]byte{byte(i)}, 1000+i)); err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return s.Move(ctx, fmt.Sprintf("final/%d", i), fmt.Sprintf("staging/%d", i))
}

// testBlobSizes writes objects whose sizes fall on and around the block
// and buffer sizes engines use, in uneven pieces, and reads them back.
func testBlobSizes(t *testing.T, s *blobstore.Store) {
	ctx := context.Background()
	for _, size := range []int{0, 1, 4095, 4096, 4097, 1 << 20, 1<<20 + 1, 3<<20 + 777} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + size)
		}
		key := fmt.Sprintf("sizes/%d", size)
		w, err := s.NewWriter(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 100_003)
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got := read(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes that differ", size, len(got))
		}
	}
}
