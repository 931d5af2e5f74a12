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
	entryRows := make([][]any, len(entries))
	for i, e := range entries {
		entryRows[i] = []any{start + uint64(i), e}
	}
	if err := t.insertRows(ctx, "log_entries", []string{"idx", "entry"}, entryRows); err != nil {
		return fmt.Errorf("insert log entries from %d: %w", start, err)
	}
	nodeRows := make([][]any, len(nodes))
	for i, n := range nodes {
		nodeRows[i] = []any{uint64(n.ID.Level), n.ID.Index, n.Hash}
	}
	if err := t.insertRows(ctx, "tree_nodes", []string{"level", "idx", "hash"}, nodeRows); err != nil {
		return fmt.Errorf("insert tree nodes: %w", err)
	}
	if _, err := t.exec(ctx, "UPDATE log_head SET size = ? WHERE id = 1", start+uint64(len(entries))); err != nil {
		return fmt.Errorf("advance log size: %w", err)
	}
	return nil
}

// castPairs returns "(CAST(? AS BIGINT), CAST(? AS BIGINT)), ..." for rows
// rows.
func castPairs(rows int) string {
	const row = "(CAST(? AS BIGINT), CAST(? AS BIGINT))"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

// placeholders returns "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

// entryRow is one stored log entry.
type entryRow struct {
	idx   uint64
	entry []byte
}

func (t *tx) Entries(ctx context.Context, from, to uint64, fn func(uint64, []byte) error) error {
	page := func(last *entryRow) (string, []any) {
		start := from
		if last != nil {
			start = last.idx + 1
		}
		return fmt.Sprintf("SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT %d", pageSize), []any{start, to}
	}
	scan := func(s scanner) (entryRow, error) {
		var e entryRow
		return e, s.Scan(&e.idx, &e.entry)
	}
	want := from
	err := paginate(ctx, t, page, scan, func(e entryRow) error {
		if e.idx != want {
			return fmt.Errorf("log entry %d: %w", want, storage.ErrNotFound)
		}
		want++
		return fn(e.idx, e.entry)
	})
	if err != nil {
		return fmt.Errorf("read log entries [%d, %d): %w", from, to, err)
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
		// Read the whole chunk before calling fn, so fn may query the same
		// transaction: a PostgreSQL connection runs one query at a time.
		type entry struct {
			idx   uint64
			entry []byte
		}
		found := make([]entry, 0, len(chunk))
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.idx, &e.entry); err != nil {
				rows.Close()
				return err
			}
			if e.idx != chunk[len(found)] {
				rows.Close()
				return fmt.Errorf("log entry %d: %w", chunk[len(found)], storage.ErrNotFound)
			}
			found = append(found, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(found) != len(chunk) {
			return fmt.Errorf("log entry %d: %w", chunk[len(found)], storage.ErrNotFound)
		}
		for _, e := range found {
			if err := fn(e.idx, e.entry); err != nil {
				return err
			}
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
		// PostgreSQL types the untyped parameters of a VALUES list as text,
		// so each is cast to the column type.
		q := "SELECT level, idx, hash FROM tree_nodes WHERE (level, idx) IN (VALUES " + castPairs(len(chunk)) + ")"
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
	page := func(last *storage.Checkpoint) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT size, root, note, signed_at FROM checkpoints ORDER BY size, root LIMIT %d", pageSize), nil
		}
		return fmt.Sprintf("SELECT size, root, note, signed_at FROM checkpoints WHERE (size, root) > (?, ?) ORDER BY size, root LIMIT %d", pageSize),
			[]any{last.Size, last.Root}
	}
	if err := paginate(ctx, t, page, scanCheckpoint, fn); err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	return nil
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

func (t *tx) ReadNodeRange(ctx context.Context, level uint, from, to uint64) ([]byte, error) {
	out := make([]byte, 0, (to-from)*tlog.HashSize)
	want := from
	for want < to {
		end := min(to, want+100_000)
		rows, err := t.query(ctx, "SELECT idx, hash FROM tree_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx", level, want, end)
		if err != nil {
			return nil, fmt.Errorf("read tree nodes at level %d: %w", level, err)
		}
		for rows.Next() {
			var idx uint64
			var hash []byte
			if err := rows.Scan(&idx, &hash); err != nil {
				rows.Close()
				return nil, err
			}
			if idx != want {
				rows.Close()
				return nil, fmt.Errorf("node (level %d, index %d): %w", level, want, tlog.ErrNodeMissing)
			}
			out = append(out, hash...)
			want++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if want < end {
			return nil, fmt.Errorf("node (level %d, index %d): %w", level, want, tlog.ErrNodeMissing)
		}
	}
	return out, nil
}
