package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

const accountColumns = "id, currency, may_go_negative, debits_pending, debits_posted, credits_pending, credits_posted"

func scanAccount(s scanner) (ledger.Account, error) {
	var a ledger.Account
	var mayGoNegative int
	err := s.Scan(&a.ID, &a.Currency, &mayGoNegative, &a.DebitsPending, &a.DebitsPosted, &a.CreditsPending, &a.CreditsPosted)
	a.MayGoNegative = mayGoNegative == 1
	return a, err
}

func (t *tx) Account(ctx context.Context, id, currency string) (ledger.Account, error) {
	a, err := scanAccount(t.queryRow(ctx, "SELECT "+accountColumns+" FROM ledger_accounts WHERE id = ? AND currency = ?", id, currency))
	return a, notFound(err, "account "+id+" in "+currency)
}

func (t *tx) Accounts(ctx context.Context, fn func(ledger.Account) error) error {
	page := func(last *ledger.Account) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM ledger_accounts ORDER BY id, currency LIMIT %d", accountColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM ledger_accounts WHERE (id, currency) > (?, ?) ORDER BY id, currency LIMIT %d", accountColumns, pageSize),
			[]any{last.ID, last.Currency}
	}
	if err := paginate(ctx, t, page, scanAccount, fn); err != nil {
		return fmt.Errorf("list accounts: %w", err)
	}
	return nil
}

// transferColumns are qualified with the alias tr, so that queries may join
// the table with itself.
const transferColumns = "tr.id, tr.idempotency_key, tr.phase, tr.pending_id, tr.debit_account, tr.credit_account, tr.currency, tr.amount, " +
	"tr.trigger_name, tr.sample_id, tr.release_id, tr.revenue_id, tr.batch_id, tr.returns_id, tr.policy, tr.detail, tr.reason, tr.created_at, tr.event_idx"

var transferInsertColumns = []string{"id", "idempotency_key", "phase", "pending_id", "debit_account", "credit_account", "currency", "amount",
	"trigger_name", "sample_id", "release_id", "revenue_id", "batch_id", "returns_id", "policy", "detail", "reason", "created_at", "event_idx"}

func scanTransfer(s scanner) (ledger.Transfer, error) {
	var tr ledger.Transfer
	var pending, returns sql.NullString
	var detail, createdAt string
	err := s.Scan(&tr.ID, &tr.Key, &tr.Phase, &pending, &tr.Debit, &tr.Credit, &tr.Currency, &tr.Amount,
		&tr.Trigger, &tr.Sample, &tr.Release, &tr.Revenue, &tr.Batch, &returns, &tr.Policy, &detail, &tr.Reason, &createdAt, &tr.EventIndex)
	if err != nil {
		return tr, err
	}
	tr.Pending, tr.Returns = pending.String, returns.String
	if detail != "" {
		if err := json.Unmarshal([]byte(detail), &tr.Detail); err != nil {
			return tr, fmt.Errorf("transfer %s detail: %w: %w", tr.ID, storage.ErrCorrupt, err)
		}
	}
	tr.At, err = parseTime(createdAt)
	return tr, err
}

func transferRow(tr ledger.Transfer) ([]any, error) {
	detail := ""
	if len(tr.Detail) > 0 {
		raw, err := json.Marshal(tr.Detail)
		if err != nil {
			return nil, err
		}
		detail = string(raw)
	}
	return []any{tr.ID, tr.Key, tr.Phase, nullable(tr.Pending), tr.Debit, tr.Credit, tr.Currency, tr.Amount,
		tr.Trigger, tr.Sample, tr.Release, tr.Revenue, tr.Batch, nullable(tr.Returns), tr.Policy, detail, tr.Reason, formatTime(tr.At), int64(tr.EventIndex)}, nil
}

// nullable stores an empty string as NULL, for unique columns that most
// rows leave empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *tx) Transfer(ctx context.Context, id string) (ledger.Transfer, error) {
	tr, err := scanTransfer(t.queryRow(ctx, "SELECT "+transferColumns+" FROM ledger_transfers tr WHERE tr.id = ?", id))
	return tr, notFound(err, "transfer "+id)
}

func (t *tx) TransfersByKey(ctx context.Context, keys []string) (map[string]ledger.Transfer, error) {
	out := map[string]ledger.Transfer{}
	err := inChunks(keys, func(chunk []any, marks string) error {
		return t.collectTransfers(ctx, "SELECT "+transferColumns+" FROM ledger_transfers tr WHERE tr.idempotency_key IN ("+marks+")", chunk,
			func(tr ledger.Transfer) { out[tr.Key] = tr })
	})
	if err != nil {
		return nil, fmt.Errorf("look up transfers by idempotency key: %w", err)
	}
	return out, nil
}

// collectTransfers runs a query of whole transfer rows and calls add for
// each.
func (t *tx) collectTransfers(ctx context.Context, query string, args []any, add func(ledger.Transfer)) error {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		tr, err := scanTransfer(rows)
		if err != nil {
			return err
		}
		add(tr)
	}
	return rows.Err()
}

func (t *tx) Transfers(ctx context.Context, f storage.TransferFilter, fn func(ledger.Transfer) error) error {
	var conds []string
	var args []any
	if f.Account != "" {
		conds = append(conds, "(tr.debit_account = ? OR tr.credit_account = ?)")
		args = append(args, f.Account, f.Account)
	}
	for _, c := range []struct{ column, value string }{
		{"tr.trigger_name", f.Trigger}, {"tr.sample_id", f.Sample}, {"tr.release_id", f.Release},
		{"tr.revenue_id", f.Revenue}, {"tr.batch_id", f.Batch},
	} {
		if c.value != "" {
			conds = append(conds, c.column+" = ?")
			args = append(args, c.value)
		}
	}
	if f.Unresolved {
		conds = append(conds, "tr.phase = 'pending' AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = tr.id)")
	}
	page := func(last *ledger.Transfer) (string, []any) {
		where, pageArgs := conds, args
		if last != nil {
			where = append(where, "tr.event_idx > ?")
			pageArgs = append(pageArgs, int64(last.EventIndex))
		}
		q := "SELECT " + transferColumns + " FROM ledger_transfers tr"
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		return q + fmt.Sprintf(" ORDER BY tr.event_idx LIMIT %d", pageSize), pageArgs
	}
	if err := paginate(ctx, t, page, scanTransfer, fn); err != nil {
		return fmt.Errorf("list transfers: %w", err)
	}
	return nil
}

func (t *tx) SampleCompensations(ctx context.Context, sampleIDs []string) (map[string]storage.SampleCompensation, error) {
	out := map[string]storage.SampleCompensation{}
	var reserves []string
	err := inChunks(sampleIDs, func(chunk []any, marks string) error {
		q := "SELECT " + transferColumns + " FROM ledger_transfers tr WHERE tr.trigger_name = 'sample' AND tr.phase = 'pending' AND tr.sample_id IN (" + marks + ")"
		return t.collectTransfers(ctx, q, chunk, func(tr ledger.Transfer) {
			out[tr.Sample] = storage.SampleCompensation{Reserve: tr}
			reserves = append(reserves, tr.ID)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("look up per-sample transfers: %w", err)
	}
	err = inChunks(reserves, func(chunk []any, marks string) error {
		q := "SELECT " + transferColumns + " FROM ledger_transfers tr WHERE tr.pending_id IN (" + marks + ")"
		return t.collectTransfers(ctx, q, chunk, func(tr ledger.Transfer) {
			c := out[tr.Sample]
			c.Resolution = tr
			out[tr.Sample] = c
		})
	})
	if err != nil {
		return nil, fmt.Errorf("look up resolved per-sample transfers: %w", err)
	}
	return out, nil
}

// applyDelta is the one statement that checks and updates an account. The
// condition reads the row the update locks, so in PostgreSQL a concurrent
// writer waits and then re-evaluates it against the committed balances,
// and in SQLite writers are serialised by the database lock.
const applyDelta = `UPDATE ledger_accounts SET
	debits_pending = debits_pending + ?, debits_posted = debits_posted + ?,
	credits_pending = credits_pending + ?, credits_posted = credits_posted + ?
	WHERE id = ? AND currency = ? AND (may_go_negative = 1 OR credits_posted - debits_posted - debits_pending >= ?)`

func (t *tx) InsertTransfers(ctx context.Context, transfers []ledger.Transfer) error {
	if len(transfers) == 0 {
		return nil
	}
	for _, tr := range transfers {
		if err := tr.Validate(); err != nil {
			return err
		}
	}
	if err := t.checkResolutions(ctx, transfers); err != nil {
		return err
	}
	deltas, err := ledger.Deltas(transfers)
	if err != nil {
		return err
	}

	// The rows go in first, so that a repeated key or a second resolution
	// fails as a conflict before any balance is checked.
	rows := make([][]any, len(transfers))
	for i, tr := range transfers {
		if rows[i], err = transferRow(tr); err != nil {
			return err
		}
	}
	if err := t.insertRows(ctx, "ledger_transfers", transferInsertColumns, rows); err != nil {
		return fmt.Errorf("insert transfers: %w", err)
	}

	// Create the accounts seen for the first time, then apply each
	// account's change with its check.
	accountRows := make([][]any, len(deltas))
	for i, d := range deltas {
		accountRows[i] = []any{d.ID, d.Currency, boolInt(d.MayGoNegative)}
	}
	for i := 0; i < len(accountRows); i += batchRows {
		chunk := accountRows[i:min(i+batchRows, len(accountRows))]
		var args []any
		for _, row := range chunk {
			args = append(args, row...)
		}
		q := "INSERT INTO ledger_accounts (id, currency, may_go_negative) VALUES " + placeholders(len(chunk), 3) + " ON CONFLICT (id, currency) DO NOTHING"
		if _, err := t.exec(ctx, q, args...); err != nil {
			return fmt.Errorf("create accounts: %w", err)
		}
	}
	for _, d := range deltas {
		res, err := t.exec(ctx, applyDelta, d.DebitsPending, d.DebitsPosted, d.CreditsPending, d.CreditsPosted, d.ID, d.Currency, d.Required)
		if err != nil {
			return fmt.Errorf("update account %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return t.insufficientFunds(ctx, d)
		}
	}

	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// insufficientFunds returns the error for an account whose check failed,
// with its available balance.
func (t *tx) insufficientFunds(ctx context.Context, d ledger.Delta) error {
	a, err := t.Account(ctx, d.ID, d.Currency)
	if err != nil {
		return fmt.Errorf("account %s: %w", d.ID, err)
	}
	return fmt.Errorf("account %s: %w: available %s, the transfers need %s", d.ID, ledger.ErrInsufficientFunds,
		ledger.FormatAmount(a.Available(), d.Currency), ledger.FormatAmount(d.Required, d.Currency))
}

// checkResolutions checks that every post or void names a pending transfer,
// stored or earlier in the batch, with the same accounts, amount and
// currency. That it was not resolved before is the unique pending_id's job.
func (t *tx) checkResolutions(ctx context.Context, transfers []ledger.Transfer) error {
	inBatch := map[string]ledger.Transfer{}
	var stored []string
	for _, tr := range transfers {
		if tr.Phase == ledger.PhasePost || tr.Phase == ledger.PhaseVoid {
			if _, ok := inBatch[tr.Pending]; !ok {
				stored = append(stored, tr.Pending)
			}
		}
		inBatch[tr.ID] = tr
	}
	if len(stored) == 0 {
		return nil
	}
	found := map[string]ledger.Transfer{}
	err := inChunks(stored, func(chunk []any, marks string) error {
		return t.collectTransfers(ctx, "SELECT "+transferColumns+" FROM ledger_transfers tr WHERE tr.id IN ("+marks+")", chunk,
			func(tr ledger.Transfer) { found[tr.ID] = tr })
	})
	if err != nil {
		return fmt.Errorf("look up pending transfers: %w", err)
	}
	seen := map[string]bool{}
	for _, tr := range transfers {
		seen[tr.ID] = true
		if tr.Phase != ledger.PhasePost && tr.Phase != ledger.PhaseVoid {
			continue
		}
		p, ok := found[tr.Pending]
		if b, inThis := inBatch[tr.Pending]; inThis && seen[tr.Pending] {
			p, ok = b, true
		}
		switch {
		case !ok || p.Phase != ledger.PhasePending:
			return fmt.Errorf("transfer %s resolves %s, which is not a pending transfer: %w", tr.ID, tr.Pending, storage.ErrNotFound)
		case p.Debit != tr.Debit || p.Credit != tr.Credit || p.Amount != tr.Amount || p.Currency != tr.Currency:
			return fmt.Errorf("transfer %s resolves %s with other accounts, amount or currency: %w", tr.ID, tr.Pending, storage.ErrNotFound)
		}
	}
	return nil
}
