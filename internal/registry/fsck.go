package registry

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/storage"
)

// VerifyContent reads back every sample's recording, decrypts it and checks
// its digest and size. It adds one problem per sample that fails.
func (r *Registry) VerifyContent(ctx context.Context, rep *LogReport) error {
	return r.store.View(ctx, func(tx storage.ReadTx) error {
		return tx.Samples(ctx, storage.SampleFilter{}, func(s storage.Sample) error {
			if s.BlobKey == "" {
				return nil // erased: the recording is gone on purpose
			}
			if err := r.checkRecording(ctx, tx, s); err != nil {
				rep.fail("sample %s: %v", s.ID, err)
			}
			return nil
		})
	})
}

// location returns where a sample's recording is stored.
func location(s storage.Sample) content.Location {
	return content.Location{Key: s.BlobKey, Offset: s.BlobOffset, Length: s.BlobLength}
}

func (r *Registry) checkRecording(ctx context.Context, tx storage.ReadTx, s storage.Sample) error {
	key, err := r.dataKey(ctx, tx, s.Participant)
	if err != nil {
		return err
	}
	rc, err := content.Open(ctx, r.blobs, key, location(s))
	if err != nil {
		return err
	}
	defer rc.Close()
	d := content.NewDigestWriter()
	if _, err := io.Copy(d, rc); err != nil {
		return fmt.Errorf("read recording %s: %w", s.BlobKey, err)
	}
	if d.Digest() != s.Digest || d.Size() != s.Size {
		return fmt.Errorf("recording %s reads back as %s (%d bytes), registered as %s (%d bytes)", s.BlobKey, d.Digest(), d.Size(), s.Digest, s.Size)
	}
	return nil
}

// GCReport is what garbage collection found and removed.
type GCReport struct {
	Staging  int // abandoned uploads removed
	Orphans  int // recordings no sample references, removed
	Kept     int // recent objects left for a writer that may still commit
	Examined int
}

// CollectGarbage removes uploads abandoned by killed or failed writers:
// staging objects, stored recordings that no sample references, and the
// documents of releases that were never logged. Objects younger than grace
// are kept, because a writer may be about to commit them.
func (r *Registry) CollectGarbage(ctx context.Context, grace time.Duration) (*GCReport, error) {
	rep := &GCReport{}
	// Object times come from the store's wall clock, not the registry clock.
	cutoff := time.Now().Add(-grace)
	referenced := map[string]bool{}
	releases := map[string]bool{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		err := tx.Samples(ctx, storage.SampleFilter{}, func(s storage.Sample) error {
			referenced[s.BlobKey] = true
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Releases(ctx, func(rel storage.Release) error {
			releases[rel.ID] = true
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var doomed []blobstore.Object
	err = r.blobs.List(ctx, "", func(o blobstore.Object) error {
		rep.Examined++
		switch {
		case referenced[o.Key], releases[releaseOfDocument(o.Key)]:
			return nil
		case o.ModTime.After(cutoff):
			rep.Kept++
			return nil
		}
		doomed = append(doomed, o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, o := range doomed {
		if err := r.blobs.Delete(ctx, o.Key); err != nil {
			return rep, err
		}
		if strings.HasPrefix(o.Key, content.StagingPrefix) {
			rep.Staging++
		} else {
			rep.Orphans++
		}
		r.log.Info("removed unreferenced blob", "key", o.Key, "modified", o.ModTime)
	}
	return rep, nil
}

// releaseOfDocument returns the release id of a key under ReleasePrefix, or
// "" for any other key.
func releaseOfDocument(key string) string {
	rest, ok := strings.CutPrefix(key, ReleasePrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}
