package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/steward-rehab/steward/internal/storage"
)

const policyColumns = "policy, digest, added_at, event_idx"

func scanPolicy(s scanner) (storage.StoredPolicy, error) {
	var p storage.StoredPolicy
	var raw, addedAt string
	if err := s.Scan(&raw, &p.Digest, &addedAt, &p.EventIndex); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(raw), &p.Policy); err != nil {
		return p, fmt.Errorf("stored policy: %w: %w", storage.ErrCorrupt, err)
	}
	var err error
	p.AddedAt, err = parseTime(addedAt)
	return p, err
}

func (t *tx) Policy(ctx context.Context, id string, version int) (storage.StoredPolicy, error) {
	p, err := scanPolicy(t.queryRow(ctx, "SELECT "+policyColumns+" FROM compensation_policies WHERE id = ? AND version = ?", id, version))
	return p, notFound(err, fmt.Sprintf("compensation policy %s@%d", id, version))
}

func (t *tx) LatestPolicy(ctx context.Context) (storage.StoredPolicy, error) {
	p, err := scanPolicy(t.queryRow(ctx, "SELECT "+policyColumns+" FROM compensation_policies ORDER BY event_idx DESC LIMIT 1"))
	return p, notFound(err, "compensation policy")
}

func (t *tx) LatestPolicyVersion(ctx context.Context, id string) (int, error) {
	var v int
	err := t.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM compensation_policies WHERE id = ?", id).Scan(&v)
	return v, err
}

func (t *tx) Policies(ctx context.Context) ([]storage.StoredPolicy, error) {
	rows, err := t.query(ctx, "SELECT "+policyColumns+" FROM compensation_policies ORDER BY event_idx")
	if err != nil {
		return nil, fmt.Errorf("list compensation policies: %w", err)
	}
	defer rows.Close()
	var out []storage.StoredPolicy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) InsertPolicy(ctx context.Context, p storage.StoredPolicy) error {
	raw, err := json.Marshal(p.Policy)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO compensation_policies (id, version, policy, digest, added_at, event_idx) VALUES (?, ?, ?, ?, ?, ?)",
		p.Policy.ID, p.Policy.Version, string(raw), p.Digest, formatTime(p.AddedAt), int64(p.EventIndex))
	if err != nil {
		return fmt.Errorf("insert compensation policy %s: %w", p.Policy.Ref(), err)
	}
	return nil
}

const checkColumns = "sample_id, outcome, reason, checked_at, event_idx"

func scanCheck(s scanner) (storage.SampleCheck, error) {
	var c storage.SampleCheck
	var at string
	if err := s.Scan(&c.Sample, &c.Outcome, &c.Reason, &at, &c.EventIndex); err != nil {
		return c, err
	}
	var err error
	c.At, err = parseTime(at)
	return c, err
}

func (t *tx) SampleChecks(ctx context.Context, sampleIDs []string) (map[string]storage.SampleCheck, error) {
	out := map[string]storage.SampleCheck{}
	err := inChunks(sampleIDs, func(chunk []any, marks string) error {
		rows, err := t.query(ctx, "SELECT "+checkColumns+" FROM sample_checks WHERE sample_id IN ("+marks+") ORDER BY event_idx", chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanCheck(rows)
			if err != nil {
				return err
			}
			out[c.Sample] = c // later checks replace earlier ones
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("look up sample checks: %w", err)
	}
	return out, nil
}

func (t *tx) AllSampleChecks(ctx context.Context, fn func(storage.SampleCheck) error) error {
	page := func(last *storage.SampleCheck) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM sample_checks ORDER BY event_idx LIMIT %d", checkColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM sample_checks WHERE event_idx > ? ORDER BY event_idx LIMIT %d", checkColumns, pageSize), []any{int64(last.EventIndex)}
	}
	if err := paginate(ctx, t, page, scanCheck, fn); err != nil {
		return fmt.Errorf("list sample checks: %w", err)
	}
	return nil
}

func (t *tx) InsertSampleCheck(ctx context.Context, c storage.SampleCheck) error {
	_, err := t.exec(ctx, "INSERT INTO sample_checks ("+checkColumns+") VALUES (?, ?, ?, ?, ?)",
		c.Sample, c.Outcome, c.Reason, formatTime(c.At), int64(c.EventIndex))
	if err != nil {
		return fmt.Errorf("insert check of sample %s: %w", c.Sample, err)
	}
	return nil
}

func (t *tx) ReleasePolicy(ctx context.Context, releaseID string) (string, error) {
	var ref string
	err := t.queryRow(ctx, "SELECT policy FROM release_policies WHERE release_id = ?", releaseID).Scan(&ref)
	return ref, notFound(err, "compensation policy of release "+releaseID)
}

func (t *tx) InsertReleasePolicy(ctx context.Context, releaseID, policyRef string) error {
	if _, err := t.exec(ctx, "INSERT INTO release_policies (release_id, policy) VALUES (?, ?)", releaseID, policyRef); err != nil {
		return fmt.Errorf("insert policy of release %s: %w", releaseID, err)
	}
	return nil
}

const revenueColumns = "id, release_id, reference, payer, amount, currency, policy, royalty_pool, recorded_at, event_idx"

func scanRevenue(s scanner) (storage.Revenue, error) {
	var r storage.Revenue
	var at string
	if err := s.Scan(&r.ID, &r.Release, &r.Reference, &r.Payer, &r.Amount, &r.Currency, &r.Policy, &r.RoyaltyPool, &at, &r.EventIndex); err != nil {
		return r, err
	}
	var err error
	r.At, err = parseTime(at)
	return r, err
}

func (t *tx) Revenue(ctx context.Context, id string) (storage.Revenue, error) {
	r, err := scanRevenue(t.queryRow(ctx, "SELECT "+revenueColumns+" FROM ledger_revenue WHERE id = ?", id))
	return r, notFound(err, "revenue "+id)
}

func (t *tx) RevenueByReference(ctx context.Context, releaseID, reference string) (storage.Revenue, error) {
	r, err := scanRevenue(t.queryRow(ctx, "SELECT "+revenueColumns+" FROM ledger_revenue WHERE release_id = ? AND reference = ?", releaseID, reference))
	return r, notFound(err, fmt.Sprintf("revenue of release %s with reference %q", releaseID, reference))
}

func (t *tx) Revenues(ctx context.Context, fn func(storage.Revenue) error) error {
	page := func(last *storage.Revenue) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM ledger_revenue ORDER BY event_idx LIMIT %d", revenueColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM ledger_revenue WHERE event_idx > ? ORDER BY event_idx LIMIT %d", revenueColumns, pageSize), []any{int64(last.EventIndex)}
	}
	if err := paginate(ctx, t, page, scanRevenue, fn); err != nil {
		return fmt.Errorf("list revenue: %w", err)
	}
	return nil
}

func (t *tx) ReleaseContributors(ctx context.Context, releaseID string) ([]storage.Contributor, error) {
	rows, err := t.query(ctx, `SELECT s.participant, COUNT(*) FROM release_samples rs JOIN samples s ON s.id = rs.sample_id
		WHERE rs.release_id = ? GROUP BY s.participant ORDER BY s.participant`, releaseID)
	if err != nil {
		return nil, fmt.Errorf("count the contributors of release %s: %w", releaseID, err)
	}
	defer rows.Close()
	var out []storage.Contributor
	for rows.Next() {
		var c storage.Contributor
		if err := rows.Scan(&c.Participant, &c.Samples); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) InsertRevenue(ctx context.Context, r storage.Revenue) error {
	_, err := t.exec(ctx, "INSERT INTO ledger_revenue ("+revenueColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Release, r.Reference, r.Payer, r.Amount, r.Currency, r.Policy, r.RoyaltyPool, formatTime(r.At), int64(r.EventIndex))
	if err != nil {
		return fmt.Errorf("insert revenue %s: %w", r.ID, err)
	}
	return nil
}
