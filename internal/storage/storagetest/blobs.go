package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
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
		{"AbortLeavesNothing", testBlobAbort},
		{"Missing", testBlobMissing},
		{"MoveReplaces", testBlobMove},
		{"ListByPrefix", testBlobList},
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
