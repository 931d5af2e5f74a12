package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/steward-rehab/steward/internal/storage"
)

const releaseColumns = "id, purpose, modalities, built_at, manifest_digest, sample_count, event_idx, licensee, series, version, replaces"

func scanRelease(s scanner) (storage.Release, error) {
	var r storage.Release
	var modalities, builtAt string
	if err := s.Scan(&r.ID, &r.Purpose, &modalities, &builtAt, &r.ManifestDigest, &r.SampleCount, &r.EventIndex,
		&r.Licensee, &r.Series, &r.Version, &r.Replaces); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(modalities), &r.Modalities); err != nil {
		return r, fmt.Errorf("release %s modalities: %w: %w", r.ID, storage.ErrCorrupt, err)
	}
	var err error
	r.BuiltAt, err = parseTime(builtAt)
	return r, err
}

func (t *tx) Release(ctx context.Context, id string) (storage.Release, error) {
	r, err := scanRelease(t.queryRow(ctx, "SELECT "+releaseColumns+" FROM releases WHERE id = ?", id))
	return r, notFound(err, "release "+id)
}

func (t *tx) Releases(ctx context.Context, fn func(storage.Release) error) error {
	page := func(last *storage.Release) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM releases ORDER BY built_at, id LIMIT %d", releaseColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM releases WHERE (built_at, id) > (?, ?) ORDER BY built_at, id LIMIT %d", releaseColumns, pageSize),
			[]any{formatTime(last.BuiltAt), last.ID}
	}
	if err := paginate(ctx, t, page, scanRelease, fn); err != nil {
		return fmt.Errorf("list releases: %w", err)
	}
	return nil
}

func (t *tx) ReleaseSamples(ctx context.Context, releaseID string, fn func(string) error) error {
	page := func(last *string) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT sample_id FROM release_samples WHERE release_id = ? ORDER BY sample_id LIMIT %d", pageSize), []any{releaseID}
		}
		return fmt.Sprintf("SELECT sample_id FROM release_samples WHERE release_id = ? AND sample_id > ? ORDER BY sample_id LIMIT %d", pageSize), []any{releaseID, *last}
	}
	scan := func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}
	if err := paginate(ctx, t, page, scan, fn); err != nil {
		return fmt.Errorf("list samples of release %s: %w", releaseID, err)
	}
	return nil
}

func (t *tx) InsertRelease(ctx context.Context, r storage.Release) error {
	modalities, err := json.Marshal(r.Modalities)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO releases ("+releaseColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Purpose, string(modalities), formatTime(r.BuiltAt), r.ManifestDigest, r.SampleCount, r.EventIndex,
		r.Licensee, r.Series, r.Version, r.Replaces)
	if err != nil {
		return fmt.Errorf("insert release %s: %w", r.ID, err)
	}
	return nil
}

func (t *tx) AddReleaseSamples(ctx context.Context, releaseID string, sampleIDs []string) error {
	for i := 0; i < len(sampleIDs); i += batchRows {
		chunk := sampleIDs[i:min(i+batchRows, len(sampleIDs))]
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, releaseID, id)
		}
		if _, err := t.exec(ctx, "INSERT INTO release_samples (release_id, sample_id) VALUES "+placeholders(len(chunk), 2), args...); err != nil {
			return fmt.Errorf("insert samples of release %s: %w", releaseID, err)
		}
	}
	return nil
}
