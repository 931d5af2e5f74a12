package sqlstore

import (
	"context"
	"fmt"

	"github.com/steward-rehab/steward/internal/storage"
)

func (t *tx) LatestInSeries(ctx context.Context, series string) (storage.Release, error) {
	row := t.queryRow(ctx, "SELECT "+releaseColumns+" FROM releases WHERE series = ? ORDER BY built_at DESC, event_idx DESC LIMIT 1", series)
	r, err := scanRelease(row)
	return r, notFound(err, "release of series "+series)
}

func (t *tx) ReleasedSamplesOf(ctx context.Context, pseudonym string) (map[string][]string, error) {
	rows, err := t.query(ctx, `SELECT rs.release_id, rs.sample_id FROM release_samples rs
		JOIN samples s ON s.id = rs.sample_id WHERE s.participant = ? ORDER BY rs.release_id, rs.sample_id`, pseudonym)
	if err != nil {
		return nil, fmt.Errorf("find releases of participant %s: %w", pseudonym, err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var rel, smp string
		if err := rows.Scan(&rel, &smp); err != nil {
			return nil, err
		}
		out[rel] = append(out[rel], smp)
	}
	return out, rows.Err()
}

const noticeColumns = "id, release_id, participant, reason, action, issued_at, event_idx"

func scanNotice(s scanner) (storage.Notice, error) {
	var n storage.Notice
	var issued string
	if err := s.Scan(&n.ID, &n.Release, &n.Participant, &n.Reason, &n.Action, &issued, &n.EventIndex); err != nil {
		return n, err
	}
	var err error
	n.IssuedAt, err = parseTime(issued)
	return n, err
}

func (t *tx) Notices(ctx context.Context, releaseID string) ([]storage.Notice, error) {
	rows, err := t.query(ctx, "SELECT "+noticeColumns+" FROM revocation_notices WHERE release_id = ? ORDER BY issued_at, event_idx", releaseID)
	if err != nil {
		return nil, fmt.Errorf("list notices of release %s: %w", releaseID, err)
	}
	var notices []storage.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		notices = append(notices, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range notices {
		if err := t.fillNotice(ctx, &notices[i]); err != nil {
			return nil, err
		}
	}
	return notices, nil
}

func (t *tx) Notice(ctx context.Context, id string) (storage.Notice, error) {
	n, err := scanNotice(t.queryRow(ctx, "SELECT "+noticeColumns+" FROM revocation_notices WHERE id = ?", id))
	if err != nil {
		return n, notFound(err, "revocation notice "+id)
	}
	return n, t.fillNotice(ctx, &n)
}

// fillNotice reads a notice's samples and acknowledgements.
func (t *tx) fillNotice(ctx context.Context, n *storage.Notice) error {
	rows, err := t.query(ctx, "SELECT sample_id FROM revoked_samples WHERE notice_id = ? ORDER BY sample_id", n.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		n.Samples = append(n.Samples, id)
	}
	rows.Close()
	rows, err = t.query(ctx, "SELECT licensee, acknowledged_at, event_idx FROM notice_acknowledgements WHERE notice_id = ? ORDER BY event_idx", n.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		a := storage.Acknowledgement{Notice: n.ID}
		var at string
		if err := rows.Scan(&a.Licensee, &at, &a.EventIndex); err != nil {
			return err
		}
		if a.At, err = parseTime(at); err != nil {
			return err
		}
		n.Acks = append(n.Acks, a)
	}
	return rows.Err()
}

func (t *tx) InsertNotice(ctx context.Context, n storage.Notice) error {
	_, err := t.exec(ctx, "INSERT INTO revocation_notices ("+noticeColumns+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		n.ID, n.Release, n.Participant, n.Reason, n.Action, formatTime(n.IssuedAt), n.EventIndex)
	if err != nil {
		return fmt.Errorf("insert notice %s: %w", n.ID, err)
	}
	for _, smp := range n.Samples {
		if _, err := t.exec(ctx, "INSERT INTO revoked_samples (notice_id, release_id, sample_id) VALUES (?, ?, ?)", n.ID, n.Release, smp); err != nil {
			return fmt.Errorf("insert revoked sample %s of notice %s: %w", smp, n.ID, err)
		}
	}
	return nil
}

func (t *tx) InsertAcknowledgement(ctx context.Context, a storage.Acknowledgement) error {
	_, err := t.exec(ctx, "INSERT INTO notice_acknowledgements (notice_id, licensee, acknowledged_at, event_idx) VALUES (?, ?, ?, ?)",
		a.Notice, a.Licensee, formatTime(a.At), a.EventIndex)
	if err != nil {
		return fmt.Errorf("insert acknowledgement of %s: %w", a.Notice, err)
	}
	return nil
}
