package blobstore_test

import (
	"context"
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
