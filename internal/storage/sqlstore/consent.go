package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/steward-rehab/steward/internal/consent"
)

func (t *tx) ConsentRecords(ctx context.Context, pseudonym string) ([]consent.Record, error) {
	var out []consent.Record
	err := t.consentRows(ctx, "WHERE participant = ?", []any{pseudonym}, func(_ string, r consent.Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func (t *tx) AllConsentRecords(ctx context.Context, fn func(string, []consent.Record) error) error {
	var current string
	var batch []consent.Record
	err := t.consentRows(ctx, "", nil, func(p string, r consent.Record) error {
		if p != current && len(batch) > 0 {
			if err := fn(current, batch); err != nil {
				return err
			}
			batch = nil
		}
		current = p
		batch = append(batch, r)
		return nil
	})
	if err != nil || len(batch) == 0 {
		return err
	}
	return fn(current, batch)
}

func (t *tx) consentRows(ctx context.Context, where string, args []any, fn func(string, consent.Record) error) error {
	rows, err := t.query(ctx, "SELECT participant, record, event_idx FROM consent_records "+where+" ORDER BY participant, event_idx", args...)
	if err != nil {
		return fmt.Errorf("read consent records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, raw string
		var idx uint64
		if err := rows.Scan(&p, &raw, &idx); err != nil {
			return err
		}
		var r consent.Record
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return fmt.Errorf("consent record of %s: %w", p, err)
		}
		r.Seq = idx
		if err := fn(p, r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *tx) InsertConsentRecord(ctx context.Context, r consent.Record, eventIndex uint64) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO consent_records (id, participant, record, event_idx) VALUES (?, ?, ?, ?)",
		r.ID, r.Participant, string(raw), eventIndex)
	if err != nil {
		return fmt.Errorf("insert consent record %s: %w", r.ID, err)
	}
	return nil
}
