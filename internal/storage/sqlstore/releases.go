package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/steward-rehab/steward/internal/storage"
)

const releaseColumns = "id, purpose, modalities, built_at, manifest_digest, sample_count, event_idx"

func scanRelease(s scanner) (storage.Release, error) {
	var r storage.Release
	var modalities, builtAt string
	if err := s.Scan(&r.ID, &r.Purpose, &modalities, &builtAt, &r.ManifestDigest, &r.SampleCount, &r.EventIndex); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(modalities), &r.Modalities); err != nil {
		return r, fmt.Errorf("release %s modalities: %w", r.ID, err)
	}
	var err error
	r.BuiltAt, err = parseTime(builtAt)
	return r, err
}

func (t *tx) Release(ctx context.Context, id string) (storage.Release, error) {
	r, err := scanRelease(t.queryRow(ctx, "SELECT "+releaseColumns+" FROM releases WHERE id = ?", id))
	if err != nil {
		return r, notFound(err, "release "+id)
	}
	rows, err := t.query(ctx, "SELECT name, content FROM release_documents WHERE release_id = ?", id)
	if err != nil {
		return r, fmt.Errorf("read documents of release %s: %w", id, err)
	}
	defer rows.Close()
	r.Documents = map[string][]byte{}
	for rows.Next() {
		var name string
		var content []byte
		if err := rows.Scan(&name, &content); err != nil {
			return r, err
		}
		r.Documents[name] = content
	}
	return r, rows.Err()
}

func (t *tx) Releases(ctx context.Context, fn func(storage.Release) error) error {
	rows, err := t.query(ctx, "SELECT "+releaseColumns+" FROM releases ORDER BY built_at, id")
	if err != nil {
		return fmt.Errorf("list releases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *tx) ReleaseSamples(ctx context.Context, releaseID string, fn func(string) error) error {
	rows, err := t.query(ctx, "SELECT sample_id FROM release_samples WHERE release_id = ? ORDER BY sample_id", releaseID)
	if err != nil {
		return fmt.Errorf("list samples of release %s: %w", releaseID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *tx) InsertRelease(ctx context.Context, r storage.Release, sampleIDs []string) error {
	modalities, err := json.Marshal(r.Modalities)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO releases ("+releaseColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Purpose, string(modalities), formatTime(r.BuiltAt), r.ManifestDigest, r.SampleCount, r.EventIndex)
	if err != nil {
		return fmt.Errorf("insert release %s: %w", r.ID, err)
	}
	for name, content := range r.Documents {
		if _, err := t.exec(ctx, "INSERT INTO release_documents (release_id, name, content) VALUES (?, ?, ?)", r.ID, name, content); err != nil {
			return fmt.Errorf("insert %s of release %s: %w", name, r.ID, err)
		}
	}
	for i := 0; i < len(sampleIDs); i += batchRows {
		chunk := sampleIDs[i:min(i+batchRows, len(sampleIDs))]
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, r.ID, id)
		}
		if _, err := t.exec(ctx, "INSERT INTO release_samples (release_id, sample_id) VALUES "+placeholders(len(chunk), 2), args...); err != nil {
			return fmt.Errorf("insert samples of release %s: %w", r.ID, err)
		}
	}
	return nil
}
