package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

const payeeColumns = "participant, name, iban, bic, salt, updated_at, event_idx"

func scanPayee(s scanner) (storage.Payee, error) {
	var p storage.Payee
	var at string
	if err := s.Scan(&p.Participant, &p.Name, &p.IBAN, &p.BIC, &p.Salt, &at, &p.EventIndex); err != nil {
		return p, err
	}
	var err error
	p.UpdatedAt, err = parseTime(at)
	return p, err
}

func (t *tx) Payee(ctx context.Context, participant string) (storage.Payee, error) {
	p, err := scanPayee(t.queryRow(ctx, "SELECT "+payeeColumns+" FROM payees WHERE participant = ?", participant))
	return p, notFound(err, "bank details of participant "+participant)
}

func (t *tx) PayeesOf(ctx context.Context, participants []string) (map[string]storage.Payee, error) {
	out := map[string]storage.Payee{}
	err := inChunks(participants, func(chunk []any, marks string) error {
		rows, err := t.query(ctx, "SELECT "+payeeColumns+" FROM payees WHERE participant IN ("+marks+")", chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPayee(rows)
			if err != nil {
				return err
			}
			out[p.Participant] = p
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("look up bank details: %w", err)
	}
	return out, nil
}

func (t *tx) PutPayee(ctx context.Context, p storage.Payee) error {
	_, err := t.exec(ctx, "INSERT INTO payees ("+payeeColumns+") VALUES (?, ?, ?, ?, ?, ?, ?) "+
		"ON CONFLICT (participant) DO UPDATE SET name = excluded.name, iban = excluded.iban, bic = excluded.bic, "+
		"salt = excluded.salt, updated_at = excluded.updated_at, event_idx = excluded.event_idx",
		p.Participant, p.Name, p.IBAN, p.BIC, p.Salt, formatTime(p.UpdatedAt), int64(p.EventIndex))
	if err != nil {
		return fmt.Errorf("store bank details of participant %s: %w", p.Participant, err)
	}
	return nil
}

func (t *tx) DeletePayee(ctx context.Context, participant string) error {
	res, err := t.exec(ctx, "DELETE FROM payees WHERE participant = ?", participant)
	if err != nil {
		return fmt.Errorf("delete bank details of participant %s: %w", participant, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx, "UPDATE payout_payments SET creditor_name = '', creditor_iban = '', creditor_bic = '' WHERE participant = ?", participant); err != nil {
		return fmt.Errorf("delete bank details of participant %s from payout batches: %w", participant, err)
	}
	if n == 0 {
		return fmt.Errorf("bank details of participant %s: %w", participant, storage.ErrNotFound)
	}
	return nil
}

const batchColumns = "id, currency, created_at, execution_date, debtor_name, debtor_iban, debtor_bic, payments, total, event_idx"

func scanBatch(s scanner) (storage.PayoutBatch, error) {
	var b storage.PayoutBatch
	var created, execution string
	if err := s.Scan(&b.ID, &b.Currency, &created, &execution, &b.DebtorName, &b.DebtorIBAN, &b.DebtorBIC, &b.Payments, &b.Total, &b.EventIndex); err != nil {
		return b, err
	}
	var err error
	if b.CreatedAt, err = parseTime(created); err != nil {
		return b, err
	}
	b.ExecutionDate, err = time.Parse(time.DateOnly, execution)
	return b, err
}

func (t *tx) PayoutBatch(ctx context.Context, id string) (storage.PayoutBatch, error) {
	b, err := scanBatch(t.queryRow(ctx, "SELECT "+batchColumns+" FROM payout_batches WHERE id = ?", id))
	return b, notFound(err, "payout batch "+id)
}

func (t *tx) PayoutBatches(ctx context.Context, fn func(storage.PayoutBatch) error) error {
	page := func(last *storage.PayoutBatch) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM payout_batches ORDER BY event_idx LIMIT %d", batchColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM payout_batches WHERE event_idx > ? ORDER BY event_idx LIMIT %d", batchColumns, pageSize), []any{int64(last.EventIndex)}
	}
	if err := paginate(ctx, t, page, scanBatch, fn); err != nil {
		return fmt.Errorf("list payout batches: %w", err)
	}
	return nil
}

func (t *tx) PayoutPayments(ctx context.Context, batchID string) ([]storage.PayoutPayment, error) {
	rows, err := t.query(ctx, "SELECT batch_id, end_to_end_id, participant, amount, creditor_name, creditor_iban, creditor_bic "+
		"FROM payout_payments WHERE batch_id = ? ORDER BY end_to_end_id", batchID)
	if err != nil {
		return nil, fmt.Errorf("list payments of batch %s: %w", batchID, err)
	}
	var out []storage.PayoutPayment
	for rows.Next() {
		var p storage.PayoutPayment
		if err := rows.Scan(&p.Batch, &p.EndToEndID, &p.Participant, &p.Amount, &p.CreditorName, &p.CreditorIBAN, &p.CreditorBIC); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// A rejected payment has a return transfer naming it.
	returns := map[string]int{}
	ids := make([]string, len(out))
	for i, p := range out {
		returns[p.EndToEndID], ids[i] = i, p.EndToEndID
	}
	err = inChunks(ids, func(chunk []any, marks string) error {
		q := "SELECT " + transferColumns + " FROM ledger_transfers tr WHERE tr.returns_id IN (" + marks + ")"
		return t.collectTransfers(ctx, q, chunk, func(tr ledger.Transfer) { out[returns[tr.Returns]].Return = tr })
	})
	if err != nil {
		return nil, fmt.Errorf("look up returned payments of batch %s: %w", batchID, err)
	}
	return out, nil
}

func (t *tx) InsertPayoutBatch(ctx context.Context, b storage.PayoutBatch, payments []storage.PayoutPayment) error {
	_, err := t.exec(ctx, "INSERT INTO payout_batches ("+batchColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		b.ID, b.Currency, formatTime(b.CreatedAt), b.ExecutionDate.Format(time.DateOnly), b.DebtorName, b.DebtorIBAN, b.DebtorBIC,
		b.Payments, b.Total, int64(b.EventIndex))
	if err != nil {
		return fmt.Errorf("insert payout batch %s: %w", b.ID, err)
	}
	rows := make([][]any, len(payments))
	for i, p := range payments {
		rows[i] = []any{p.EndToEndID, b.ID, p.Participant, p.Amount, p.CreditorName, p.CreditorIBAN, p.CreditorBIC}
	}
	cols := []string{"end_to_end_id", "batch_id", "participant", "amount", "creditor_name", "creditor_iban", "creditor_bic"}
	if err := t.insertRows(ctx, "payout_payments", cols, rows); err != nil {
		return fmt.Errorf("insert payments of batch %s: %w", b.ID, err)
	}
	return nil
}
