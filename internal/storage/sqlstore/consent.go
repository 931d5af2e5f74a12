package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/storage"
)

// consentRow is one stored consent record with its participant.
type consentRow struct {
	participant string
	record      consent.Record
}

func scanConsent(s scanner) (consentRow, error) {
	var row consentRow
	var raw string
	var idx uint64
	if err := s.Scan(&row.participant, &raw, &idx); err != nil {
		return row, err
	}
	if err := json.Unmarshal([]byte(raw), &row.record); err != nil {
		return row, fmt.Errorf("consent record of %s: %w: %w", row.participant, storage.ErrCorrupt, err)
	}
	row.record.Seq = idx
	return row, nil
}

const consentColumns = "participant, record, event_idx"

func (t *tx) ConsentRecords(ctx context.Context, pseudonym string) ([]consent.Record, error) {
	byParticipant, err := t.ConsentRecordsOf(ctx, []string{pseudonym})
	return byParticipant[pseudonym], err
}

func (t *tx) ConsentRecordsOf(ctx context.Context, pseudonyms []string) (map[string][]consent.Record, error) {
	out := map[string][]consent.Record{}
	err := inChunks(pseudonyms, func(chunk []any, marks string) error {
		rows, err := t.query(ctx, "SELECT "+consentColumns+" FROM consent_records WHERE participant IN ("+marks+") ORDER BY participant, event_idx", chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			row, err := scanConsent(rows)
			if err != nil {
				return err
			}
			out[row.participant] = append(out[row.participant], row.record)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read consent records: %w", err)
	}
	return out, nil
}

func (t *tx) AllConsentRecords(ctx context.Context, fn func(string, []consent.Record) error) error {
	var current string
	var batch []consent.Record
	page := func(last *consentRow) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM consent_records ORDER BY participant, event_idx LIMIT %d", consentColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM consent_records WHERE (participant, event_idx) > (?, ?) ORDER BY participant, event_idx LIMIT %d", consentColumns, pageSize),
			[]any{last.participant, last.record.Seq}
	}
	err := paginate(ctx, t, page, scanConsent, func(row consentRow) error {
		if row.participant != current && len(batch) > 0 {
			if err := fn(current, batch); err != nil {
				return err
			}
			batch = nil
		}
		current = row.participant
		batch = append(batch, row.record)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read consent records: %w", err)
	}
	if len(batch) == 0 {
		return nil
	}
	return fn(current, batch)
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

func (t *tx) InsertConsentDocument(ctx context.Context, d consent.Document, eventIndex uint64) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO consent_documents (version, document, digest, event_idx) VALUES (?, ?, ?, ?)",
		d.Version, string(raw), d.Digest(), eventIndex)
	if err != nil {
		return fmt.Errorf("insert consent document %s: %w", d.Version, err)
	}
	return nil
}

func scanDocument(s scanner) (storage.ConsentDocument, error) {
	var sd storage.ConsentDocument
	var raw, digest string
	if err := s.Scan(&raw, &digest, &sd.EventIndex); err != nil {
		return sd, err
	}
	if err := json.Unmarshal([]byte(raw), &sd.Document); err != nil {
		return sd, fmt.Errorf("stored consent document: %w: %w", storage.ErrCorrupt, err)
	}
	return sd, nil
}

func (t *tx) ConsentDocument(ctx context.Context, version string) (storage.ConsentDocument, error) {
	sd, err := scanDocument(t.queryRow(ctx, "SELECT document, digest, event_idx FROM consent_documents WHERE version = ?", version))
	return sd, notFound(err, "consent document "+version)
}

func (t *tx) ConsentDocuments(ctx context.Context) ([]storage.ConsentDocument, error) {
	rows, err := t.query(ctx, "SELECT document, digest, event_idx FROM consent_documents ORDER BY event_idx")
	if err != nil {
		return nil, fmt.Errorf("list consent documents: %w", err)
	}
	defer rows.Close()
	var out []storage.ConsentDocument
	for rows.Next() {
		sd, err := scanDocument(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sd)
	}
	return out, rows.Err()
}

func (t *tx) ConsentImports(ctx context.Context, pseudonym string) (map[string]string, error) {
	rows, err := t.query(ctx, "SELECT resource, digest FROM consent_imports WHERE participant = ?", pseudonym)
	if err != nil {
		return nil, fmt.Errorf("read imported resources of %s: %w", pseudonym, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var key, digest string
		if err := rows.Scan(&key, &digest); err != nil {
			return nil, err
		}
		out[key] = digest
	}
	return out, rows.Err()
}

func (t *tx) InsertConsentImports(ctx context.Context, pseudonym string, resources map[string]string, eventIndex uint64) error {
	keys := make([]string, 0, len(resources))
	for k := range resources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		_, err := t.exec(ctx, "INSERT INTO consent_imports (participant, resource, digest, event_idx) VALUES (?, ?, ?, ?)",
			pseudonym, k, resources[k], eventIndex)
		if err != nil {
			return fmt.Errorf("record imported resource %s of %s: %w", k, pseudonym, err)
		}
	}
	return nil
}
