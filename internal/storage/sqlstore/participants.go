package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/storage"
)

const participantColumns = "pseudonym, namespace, source_id, attributes, salt, registered_at, event_idx, erased_at"

func scanParticipant(s scanner) (storage.Participant, error) {
	var p storage.Participant
	var attrs, registeredAt, erasedAt string
	if err := s.Scan(&p.Pseudonym, &p.Namespace, &p.SourceID, &attrs, &p.Salt, &registeredAt, &p.EventIndex, &erasedAt); err != nil {
		return p, err
	}
	if erasedAt != "" {
		t, err := parseTime(erasedAt)
		if err != nil {
			return p, err
		}
		p.ErasedAt = t
	}
	if err := json.Unmarshal([]byte(attrs), &p.Attributes); err != nil {
		return p, fmt.Errorf("participant %s attributes: %w: %w", p.Pseudonym, storage.ErrCorrupt, err)
	}
	var err error
	p.RegisteredAt, err = parseTime(registeredAt)
	return p, err
}

func (t *tx) Participant(ctx context.Context, pseudonym string) (storage.Participant, error) {
	row := t.queryRow(ctx, "SELECT "+participantColumns+" FROM participants WHERE pseudonym = ?", pseudonym)
	p, err := scanParticipant(row)
	return p, notFound(err, "participant "+pseudonym)
}

func (t *tx) ParticipantsBySource(ctx context.Context, ns, sourceID string) ([]storage.Participant, error) {
	q := "SELECT " + participantColumns + " FROM participants WHERE source_id = ?"
	args := []any{sourceID}
	if ns != "" {
		q += " AND namespace = ?"
		args = append(args, ns)
	}
	rows, err := t.query(ctx, q+" ORDER BY namespace", args...)
	if err != nil {
		return nil, fmt.Errorf("find participant %s: %w", sourceID, err)
	}
	defer rows.Close()
	var out []storage.Participant
	for rows.Next() {
		p, err := scanParticipant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) Participants(ctx context.Context, fn func(storage.Participant) error) error {
	page := func(last *storage.Participant) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM participants ORDER BY pseudonym LIMIT %d", participantColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM participants WHERE pseudonym > ? ORDER BY pseudonym LIMIT %d", participantColumns, pageSize), []any{last.Pseudonym}
	}
	if err := paginate(ctx, t, page, scanParticipant, fn); err != nil {
		return fmt.Errorf("list participants: %w", err)
	}
	return nil
}

func (t *tx) ParticipantsOf(ctx context.Context, pseudonyms []string) (map[string]storage.Participant, error) {
	out := make(map[string]storage.Participant, len(pseudonyms))
	err := inChunks(pseudonyms, func(chunk []any, marks string) error {
		rows, err := t.query(ctx, "SELECT "+participantColumns+" FROM participants WHERE pseudonym IN ("+marks+")", chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanParticipant(rows)
			if err != nil {
				return err
			}
			out[p.Pseudonym] = p
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read participants: %w", err)
	}
	return out, nil
}

// inChunks calls fn with the values in groups of at most batchRows, each
// with its "?, ?, ..." placeholder list.
func inChunks(values []string, fn func(chunk []any, marks string) error) error {
	for i := 0; i < len(values); i += batchRows {
		part := values[i:min(i+batchRows, len(values))]
		args := make([]any, len(part))
		for j, v := range part {
			args[j] = v
		}
		if err := fn(args, strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) DataKey(ctx context.Context, pseudonym string) ([]byte, error) {
	var wrapped []byte
	err := t.queryRow(ctx, "SELECT wrapped FROM data_keys WHERE participant = ?", pseudonym).Scan(&wrapped)
	return wrapped, notFound(err, "data key of participant "+pseudonym)
}

func (t *tx) InsertParticipant(ctx context.Context, p storage.Participant, wrappedKey []byte) error {
	attrs, err := json.Marshal(p.Attributes)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO participants ("+participantColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		p.Pseudonym, p.Namespace, p.SourceID, string(attrs), p.Salt, formatTime(p.RegisteredAt), p.EventIndex, "")
	if err != nil {
		return fmt.Errorf("insert participant %s: %w", p.Pseudonym, err)
	}
	if _, err := t.exec(ctx, "INSERT INTO data_keys (participant, wrapped) VALUES (?, ?)", p.Pseudonym, wrappedKey); err != nil {
		return fmt.Errorf("insert data key of %s: %w", p.Pseudonym, err)
	}
	return nil
}

func (t *tx) UpdateAttributes(ctx context.Context, pseudonym string, attrs participant.Attributes, salt []byte) error {
	raw, err := json.Marshal(attrs)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, "UPDATE participants SET attributes = ?, salt = ? WHERE pseudonym = ?", string(raw), salt, pseudonym)
	if err != nil {
		return fmt.Errorf("update participant %s: %w", pseudonym, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update participant %s: %w", pseudonym, storage.ErrNotFound)
	}
	return nil
}

func (t *tx) Namespaces(ctx context.Context) ([]string, error) {
	rows, err := t.query(ctx, "SELECT DISTINCT namespace FROM participants ORDER BY namespace")
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ns string
		if err := rows.Scan(&ns); err != nil {
			return nil, err
		}
		out = append(out, ns)
	}
	return out, rows.Err()
}

// EraseParticipant keeps the participant's namespace, so the tombstone is
// looked up where the source id was.
func (t *tx) EraseParticipant(ctx context.Context, pseudonym, tombstone string, at time.Time) error {
	if _, err := t.exec(ctx, "DELETE FROM data_keys WHERE participant = ?", pseudonym); err != nil {
		return fmt.Errorf("destroy data key of %s: %w", pseudonym, err)
	}
	res, err := t.exec(ctx, "UPDATE participants SET source_id = ?, attributes = ?, salt = ?, erased_at = ? WHERE pseudonym = ?",
		tombstone, "{}", []byte{}, formatTime(at), pseudonym)
	if err != nil {
		return fmt.Errorf("erase participant %s: %w", pseudonym, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("erase participant %s: %w", pseudonym, storage.ErrNotFound)
	}
	if _, err := t.exec(ctx, "UPDATE samples SET source = ?, blob_key = ?, blob_offset = 0, blob_length = 0 WHERE participant = ?", "{}", "", pseudonym); err != nil {
		return fmt.Errorf("erase samples of %s: %w", pseudonym, err)
	}
	// Bank details are direct identifiers too. The payments stay.
	if err := t.DeletePayee(ctx, pseudonym); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("erase bank details of %s: %w", pseudonym, err)
	}
	// So may be the ids of the FHIR resources imported for them.
	if _, err := t.exec(ctx, "DELETE FROM consent_imports WHERE participant = ?", pseudonym); err != nil {
		return fmt.Errorf("erase imported resources of %s: %w", pseudonym, err)
	}
	return nil
}
