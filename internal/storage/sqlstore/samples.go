package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/steward-rehab/steward/internal/storage"
)

const sampleColumns = "id, participant, digest, size, duration, provenance, external_id, source, blob_key, blob_offset, blob_length, registered_at, event_idx"

func scanSample(s scanner) (storage.Sample, error) {
	var smp storage.Sample
	var prov, source, registeredAt string
	var external sql.NullString
	if err := s.Scan(&smp.ID, &smp.Participant, &smp.Digest, &smp.Size, &smp.DurationSeconds, &prov, &external,
		&source, &smp.BlobKey, &smp.BlobOffset, &smp.BlobLength, &registeredAt, &smp.EventIndex); err != nil {
		return smp, err
	}
	smp.ExternalID = external.String
	if err := json.Unmarshal([]byte(prov), &smp.Provenance); err != nil {
		return smp, fmt.Errorf("sample %s provenance: %w: %w", smp.ID, storage.ErrCorrupt, err)
	}
	if err := json.Unmarshal([]byte(source), &smp.Source); err != nil {
		return smp, fmt.Errorf("sample %s source: %w: %w", smp.ID, storage.ErrCorrupt, err)
	}
	var err error
	smp.RegisteredAt, err = parseTime(registeredAt)
	return smp, err
}

func (t *tx) sampleWhere(ctx context.Context, what, cond string, arg any) (storage.Sample, error) {
	row := t.queryRow(ctx, "SELECT "+sampleColumns+" FROM samples WHERE "+cond, arg)
	s, err := scanSample(row)
	return s, notFound(err, what)
}

func (t *tx) Sample(ctx context.Context, id string) (storage.Sample, error) {
	return t.sampleWhere(ctx, "sample "+id, "id = ?", id)
}

func (t *tx) SampleByDigest(ctx context.Context, digest string) (storage.Sample, error) {
	return t.sampleWhere(ctx, "sample with digest "+digest, "digest = ?", digest)
}

func (t *tx) SampleByExternalID(ctx context.Context, externalID string) (storage.Sample, error) {
	return t.sampleWhere(ctx, "sample with id "+externalID, "external_id = ?", externalID)
}

func (t *tx) Samples(ctx context.Context, f storage.SampleFilter, fn func(storage.Sample) error) error {
	var conds []string
	var args []any
	// Modalities are filtered here, not in SQL: with "modality IN (...)" the
	// planners pick the modality index and sort every matching row again
	// for each page, which makes a long iteration quadratic.
	if len(f.Modalities) > 0 {
		inner := fn
		fn = func(s storage.Sample) error {
			if !slices.Contains(f.Modalities, s.Provenance.Modality) {
				return nil
			}
			return inner(s)
		}
	}
	if f.Participant != "" {
		conds = append(conds, "participant = ?")
		args = append(args, f.Participant)
	}
	order := "id"
	if f.ByParticipant {
		order = "participant, id"
	}
	page := func(last *storage.Sample) (string, []any) {
		where, pageArgs := conds, args
		if last != nil {
			if f.ByParticipant {
				where = append(where, "(participant, id) > (?, ?)")
				pageArgs = append(pageArgs, last.Participant, last.ID)
			} else {
				where = append(where, "id > ?")
				pageArgs = append(pageArgs, last.ID)
			}
		}
		q := "SELECT " + sampleColumns + " FROM samples"
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		return fmt.Sprintf("%s ORDER BY %s LIMIT %d", q, order, pageSize), pageArgs
	}
	if err := paginate(ctx, t, page, scanSample, fn); err != nil {
		return fmt.Errorf("list samples: %w", err)
	}
	return nil
}

func (t *tx) SamplesByDigest(ctx context.Context, digests []string) (map[string]storage.Sample, error) {
	out := make(map[string]storage.Sample, len(digests))
	err := inChunks(digests, func(chunk []any, marks string) error {
		rows, err := t.query(ctx, "SELECT "+sampleColumns+" FROM samples WHERE digest IN ("+marks+")", chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSample(rows)
			if err != nil {
				return err
			}
			out[s.Digest] = s
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read samples by digest: %w", err)
	}
	return out, nil
}

func (t *tx) InsertSample(ctx context.Context, s storage.Sample) error {
	row, err := sampleRow(s)
	if err != nil {
		return err
	}
	if err := t.insertRows(ctx, "samples", sampleInsertColumns, [][]any{row}); err != nil {
		return fmt.Errorf("insert sample %s: %w", s.ID, err)
	}
	return nil
}

func (t *tx) InsertSamples(ctx context.Context, samples []storage.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	rows := make([][]any, len(samples))
	for i, s := range samples {
		row, err := sampleRow(s)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	if err := t.insertRows(ctx, "samples", sampleInsertColumns, rows); err != nil {
		return fmt.Errorf("insert samples %s to %s: %w", samples[0].ID, samples[len(samples)-1].ID, err)
	}
	return nil
}

// sampleInsertColumns are the columns of sampleRow.
var sampleInsertColumns = append(strings.Split(sampleColumns, ", "), "modality")

// sampleRow returns the column values of a sample, in sampleInsertColumns
// order.
func sampleRow(s storage.Sample) ([]any, error) {
	prov, err := json.Marshal(s.Provenance)
	if err != nil {
		return nil, err
	}
	source, err := json.Marshal(s.Source)
	if err != nil {
		return nil, err
	}
	var external any
	if s.ExternalID != "" {
		external = s.ExternalID
	}
	return []any{s.ID, s.Participant, s.Digest, s.Size, s.DurationSeconds, string(prov), external, string(source), s.BlobKey,
		s.BlobOffset, s.BlobLength, formatTime(s.RegisteredAt), s.EventIndex, s.Provenance.Modality}, nil
}

func (t *tx) RelocateSample(ctx context.Context, id, blobKey string, offset, length int64) error {
	res, err := t.exec(ctx, "UPDATE samples SET blob_key = ?, blob_offset = ?, blob_length = ? WHERE id = ?", blobKey, offset, length, id)
	if err != nil {
		return fmt.Errorf("relocate sample %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("relocate sample %s: %w", id, storage.ErrNotFound)
	}
	return nil
}

func (t *tx) SamplesInBlob(ctx context.Context, key string) ([]storage.Sample, error) {
	rows, err := t.query(ctx, "SELECT "+sampleColumns+" FROM samples WHERE blob_key = ? ORDER BY blob_offset", key)
	if err != nil {
		return nil, fmt.Errorf("find samples in %s: %w", key, err)
	}
	defer rows.Close()
	var out []storage.Sample
	for rows.Next() {
		s, err := scanSample(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
