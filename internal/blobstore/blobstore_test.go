package blobstore_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/storage/storagetest"
)

func TestFolderConformance(t *testing.T) {
	storagetest.RunBlobs(t, func(t *testing.T) *blobstore.Store {
		s, err := blobstore.Open(context.Background(), "file://"+t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestS3Conformance(t *testing.T) {
	storagetest.RunBlobs(t, func(t *testing.T) *blobstore.Store {
		s, err := blobstore.Open(context.Background(), storagetest.S3URL(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestS3MoveLargeObjectStreams moves an object over the server-side copy
// limit, lowered for the test, through the streaming path.
func TestS3MoveLargeObjectStreams(t *testing.T) {
	s3url := storagetest.S3URL(t)
	ctx := context.Background()
	s, err := blobstore.Open(ctx, s3url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer blobstore.SetMaxServerCopySize(1000)()

	data := bytes.Repeat([]byte("large recording "), 1000)
	w, err := s.NewWriter(ctx, "staging/big")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Move(ctx, "final/big", "staging/big"); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, "final/big")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("moved object has %d bytes, want %d", len(got), len(data))
	}
	if ok, err := s.Exists(ctx, "staging/big"); err != nil || ok {
		t.Errorf("source after move: exists %v, error %v", ok, err)
	}
}
