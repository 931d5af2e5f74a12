package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

func (t *tx) LogSize(ctx context.Context) (uint64, error) {
	var size uint64
	if err := t.queryRow(ctx, "SELECT size FROM log_head WHERE id = 1").Scan(&size); err != nil {
		return 0, fmt.Errorf("read log size: %w", err)
	}
	return size, nil
}

func (t *tx) LockLog(ctx context.Context) (uint64, error) {
	var size uint64
	if err := t.queryRow(ctx, t.d.lockLog).Scan(&size); err != nil {
		return 0, fmt.Errorf("lock log: %w", err)
	}
	return size, nil
}

// batchRows is how many rows one multi-row INSERT carries.
const batchRows = 200

func (t *tx) AppendEntries(ctx context.Context, start uint64, entries [][]byte, nodes []tlog.Node) error {
	size, err := t.LogSize(ctx)
	if err != nil {
		return err
	}
	if size != start {
		return fmt.Errorf("append at index %d but the log size is %d: the caller did not hold the log lock", start, size)
	}
	for i := 0; i < len(entries); i += batchRows {
		chunk := entries[i:min(i+batchRows, len(entries))]
		args := make([]any, 0, 2*len(chunk))
		for j, e := range chunk {
			args = append(args, start+uint64(i+j), e)
		}
		if _, err := t.exec(ctx, "INSERT INTO log_entries (idx, entry) VALUES "+placeholders(len(chunk), 2), args...); err != nil {
			return fmt.Errorf("insert log entries from %d: %w", start+uint64(i), err)
		}
	}
	for i := 0; i < len(nodes); i += batchRows {
		chunk := nodes[i:min(i+batchRows, len(nodes))]
		args := make([]any, 0, 3*len(chunk))
		for _, n := range chunk {
			args = append(args, n.ID.Level, n.ID.Index, n.Hash)
		}
		if _, err := t.exec(ctx, "INSERT INTO tree_nodes (level, idx, hash) VALUES "+placeholders(len(chunk), 3), args...); err != nil {
			return fmt.Errorf("insert tree nodes: %w", err)
		}
	}
	if _, err := t.exec(ctx, "UPDATE log_head SET size = ? WHERE id = 1", start+uint64(len(entries))); err != nil {
		return fmt.Errorf("advance log size: %w", err)
	}
	return nil
}

// placeholders returns "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

func (t *tx) Entries(ctx context.Context, from, to uint64, fn func(uint64, []byte) error) error {
	rows, err := t.query(ctx, "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx", from, to)
	if err != nil {
		return fmt.Errorf("read log entries [%d, %d): %w", from, to, err)
	}
	defer rows.Close()
	want := from
	for rows.Next() {
		var idx uint64
		var entry []byte
		if err := rows.Scan(&idx, &entry); err != nil {
			return err
		}
		if idx != want {
			return fmt.Errorf("log entry %d is missing", want)
		}
		want++
		if err := fn(idx, entry); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if want < to {
		return fmt.Errorf("log entry %d: %w", want, storage.ErrNotFound)
	}
	return nil
}

func (t *tx) EntriesAt(ctx context.Context, indexes []uint64, fn func(uint64, []byte) error) error {
	sorted := slices.Clone(indexes)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for i := 0; i < len(sorted); i += batchRows {
		chunk := sorted[i:min(i+batchRows, len(sorted))]
		args := make([]any, len(chunk))
		for j, idx := range chunk {
			args[j] = idx
		}
		q := "SELECT idx, entry FROM log_entries WHERE idx IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ") ORDER BY idx"
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read log entries: %w", err)
		}
		next := 0
		for rows.Next() {
			var idx uint64
			var entry []byte
			if err := rows.Scan(&idx, &entry); err != nil {
				rows.Close()
				return err
			}
			if idx != chunk[next] {
				rows.Close()
				return fmt.Errorf("log entry %d: %w", chunk[next], storage.ErrNotFound)
			}
			next++
			if err := fn(idx, entry); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if next != len(chunk) {
			return fmt.Errorf("log entry %d: %w", chunk[next], storage.ErrNotFound)
		}
	}
	return nil
}

func (t *tx) ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	pos := make(map[compact.NodeID][]int, len(ids))
	for i, id := range ids {
		pos[id] = append(pos[id], i)
	}
	for i := 0; i < len(ids); i += batchRows {
		chunk := ids[i:min(i+batchRows, len(ids))]
		args := make([]any, 0, 2*len(chunk))
		for _, id := range chunk {
			args = append(args, id.Level, id.Index)
		}
		q := "SELECT level, idx, hash FROM tree_nodes WHERE (level, idx) IN (VALUES " + placeholders(len(chunk), 2) + ")"
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("read tree nodes: %w", err)
		}
		for rows.Next() {
			var level uint
			var idx uint64
			var hash []byte
			if err := rows.Scan(&level, &idx, &hash); err != nil {
				rows.Close()
				return nil, err
			}
			for _, p := range pos[compact.NewNodeID(level, idx)] {
				out[p] = hash
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for i, h := range out {
		if h == nil {
			return nil, fmt.Errorf("node (level %d, index %d): %w", ids[i].Level, ids[i].Index, tlog.ErrNodeMissing)
		}
	}
	return out, nil
}

func (t *tx) PutCheckpoint(ctx context.Context, cp storage.Checkpoint) error {
	_, err := t.exec(ctx, "INSERT INTO checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		cp.Size, cp.Root, cp.Note, formatTime(cp.SignedAt))
	if err != nil {
		return fmt.Errorf("store checkpoint of size %d: %w", cp.Size, err)
	}
	return nil
}

func (t *tx) Checkpoints(ctx context.Context, fn func(storage.Checkpoint) error) error {
	rows, err := t.query(ctx, "SELECT size, root, note, signed_at FROM checkpoints ORDER BY size, signed_at")
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return err
		}
		if err := fn(cp); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *tx) LatestCheckpoint(ctx context.Context) (storage.Checkpoint, error) {
	row := t.queryRow(ctx, "SELECT size, root, note, signed_at FROM checkpoints ORDER BY size DESC, signed_at DESC LIMIT 1")
	cp, err := scanCheckpoint(row)
	return cp, notFound(err, "checkpoint")
}

type scanner interface{ Scan(dest ...any) error }

func scanCheckpoint(s scanner) (storage.Checkpoint, error) {
	var cp storage.Checkpoint
	var signedAt string
	if err := s.Scan(&cp.Size, &cp.Root, &cp.Note, &signedAt); err != nil {
		return cp, err
	}
	var err error
	cp.SignedAt, err = parseTime(signedAt)
	return cp, err
}
