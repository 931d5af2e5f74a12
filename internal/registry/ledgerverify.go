package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// LedgerReport is the outcome of a ledger verification.
type LedgerReport struct {
	Transfers int
	Accounts  int
	Revenues  int
	Batches   int
	// Totals are, by currency, the sums of all accounts' posted credits
	// and pending credits; debits equal them when the ledger balances.
	Totals   map[string]int64
	Problems []string
}

func (r *LedgerReport) fail(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "further problems not listed")
	}
}

// LedgerVerificationError is returned when the ledger fails verification.
type LedgerVerificationError struct{ Report *LedgerReport }

func (e *LedgerVerificationError) Error() string {
	return fmt.Sprintf("ledger verification failed with %d problem(s):\n  %s", len(e.Report.Problems), strings.Join(e.Report.Problems, "\n  "))
}

// ledgerEventChunk is how many transfer events are read at once.
const ledgerEventChunk = 1000

// VerifyLedger checks the ledger against itself and against the log, in
// one snapshot:
//
//   - every transfer is replayed in log order by ledger.Book, an
//     implementation independent of the database's. Each must be valid and
//     resolve only an unresolved pending transfer of equal accounts and
//     amount, and none may take an account that may not go negative below
//     zero;
//   - the replayed balances must equal every stored account's, and each
//     currency's debits must equal its credits;
//   - every transfer must be the ledger.transfer event at its index, byte
//     for byte as the log recorded it, and every such event must have its
//     transfer;
//   - each revenue's transfers must add up to its amount and its royalty
//     parts to its pool, and each payout batch's transfers to its total.
func (r *Registry) VerifyLedger(ctx context.Context) (*LedgerReport, error) {
	rep := &LedgerReport{Totals: map[string]int64{}}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		book := ledger.NewBook()
		seen := map[string]bool{}
		var chunk []ledger.Transfer
		err := tx.Transfers(ctx, storage.TransferFilter{}, func(t ledger.Transfer) error {
			rep.Transfers++
			seen[t.ID] = true
			if err := book.Apply(t); err != nil {
				rep.fail("%v", err)
			}
			if chunk = append(chunk, t); len(chunk) == ledgerEventChunk {
				err := checkTransferEvents(ctx, tx, chunk, rep)
				chunk = chunk[:0]
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := checkTransferEvents(ctx, tx, chunk, rep); err != nil {
			return err
		}
		if err := checkEventsHaveTransfers(ctx, tx, seen, rep); err != nil {
			return err
		}
		if err := checkBalances(ctx, tx, book, rep); err != nil {
			return err
		}
		if err := checkRevenues(ctx, tx, rep); err != nil {
			return err
		}
		return checkBatches(ctx, tx, rep)
	})
	if err != nil {
		return rep, err
	}
	if len(rep.Problems) > 0 {
		return rep, &LedgerVerificationError{rep}
	}
	return rep, nil
}

// checkTransferEvents checks that each transfer is, field for field, the
// ledger.transfer event at its index.
func checkTransferEvents(ctx context.Context, tx storage.ReadTx, transfers []ledger.Transfer, rep *LedgerReport) error {
	if len(transfers) == 0 {
		return nil
	}
	byIndex := map[uint64]ledger.Transfer{}
	indexes := make([]uint64, len(transfers))
	for i, t := range transfers {
		byIndex[t.EventIndex], indexes[i] = t, t.EventIndex
	}
	found := map[uint64]bool{}
	err := tx.EntriesAt(ctx, indexes, func(idx uint64, entry []byte) error {
		found[idx] = true
		t := byIndex[idx]
		ev, err := event.Decode(entry)
		if err != nil || ev.Type != event.TypeTransfer {
			rep.fail("transfer %s points at event %d, which is not a ledger.transfer event", t.ID, idx)
			return nil
		}
		var logged ledger.Transfer
		if err := decodeStrict(ev.Data, &logged); err != nil {
			rep.fail("event %d: %v", idx, err)
			return nil
		}
		if logged.ID != t.ID || !ledger.SameRequest(logged, t) {
			rep.fail("transfer %s differs from event %d, which logged %s", t.ID, idx, logged.Describe())
		}
		if !ev.Time.Equal(t.At) {
			rep.fail("transfer %s was made at %s but event %d is stamped %s", t.ID, t.At, idx, ev.Time)
		}
		return nil
	})
	if err != nil && !IsNotFound(err) {
		return err
	}
	for _, t := range transfers {
		if !found[t.EventIndex] {
			rep.fail("transfer %s points at event %d, which is not in the log", t.ID, t.EventIndex)
		}
	}
	return nil
}

// checkEventsHaveTransfers scans the log for ledger.transfer events whose
// transfer the table lacks.
func checkEventsHaveTransfers(ctx context.Context, tx storage.ReadTx, seen map[string]bool, rep *LedgerReport) error {
	size, err := tx.LogSize(ctx)
	if err != nil {
		return err
	}
	marker := []byte(`"type":"` + event.TypeTransfer + `"`)
	return tx.Entries(ctx, 0, size, func(idx uint64, entry []byte) error {
		if !bytes.Contains(entry, marker) {
			return nil
		}
		ev, err := event.Decode(entry)
		if err != nil || ev.Type != event.TypeTransfer {
			return nil
		}
		var t ledger.Transfer
		if err := json.Unmarshal(ev.Data, &t); err != nil {
			rep.fail("event %d: invalid transfer: %v", idx, err)
			return nil
		}
		if !seen[t.ID] {
			rep.fail("event %d logs transfer %s, which the ledger does not hold", idx, t.ID)
		}
		return nil
	})
}

// checkBalances compares the replayed balances with the stored accounts
// and checks that each currency balances.
func checkBalances(ctx context.Context, tx storage.ReadTx, book *ledger.Book, rep *LedgerReport) error {
	replayed := map[ledger.AccountKey]ledger.Account{}
	for _, a := range book.Accounts() {
		replayed[ledger.AccountKey{ID: a.ID, Currency: a.Currency}] = a
	}
	type sums struct{ debitsPending, debitsPosted, creditsPending, creditsPosted int64 }
	byCurrency := map[string]*sums{}
	err := tx.Accounts(ctx, func(a ledger.Account) error {
		rep.Accounts++
		key := ledger.AccountKey{ID: a.ID, Currency: a.Currency}
		want, ok := replayed[key]
		delete(replayed, key)
		if !ok {
			want = ledger.Account{ID: a.ID, Currency: a.Currency, MayGoNegative: a.MayGoNegative}
		}
		if a != want {
			rep.fail("account %s (%s) holds debits %d pending and %d posted, credits %d pending and %d posted, but its transfers give %d, %d, %d and %d",
				a.ID, a.Currency, a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted,
				want.DebitsPending, want.DebitsPosted, want.CreditsPending, want.CreditsPosted)
		}
		s := byCurrency[a.Currency]
		if s == nil {
			s = &sums{}
			byCurrency[a.Currency] = s
		}
		s.debitsPending += a.DebitsPending
		s.debitsPosted += a.DebitsPosted
		s.creditsPending += a.CreditsPending
		s.creditsPosted += a.CreditsPosted
		return nil
	})
	if err != nil {
		return err
	}
	for key := range replayed {
		rep.fail("account %s (%s) has transfers but no stored balances", key.ID, key.Currency)
	}
	for c, s := range byCurrency {
		rep.Totals[c] = s.creditsPosted
		if s.debitsPosted != s.creditsPosted || s.debitsPending != s.creditsPending {
			rep.fail("%s does not balance: debits %d posted and %d pending, credits %d posted and %d pending", c, s.debitsPosted, s.debitsPending, s.creditsPosted, s.creditsPending)
		}
	}
	return nil
}

// checkRevenues checks that each revenue was split exactly.
func checkRevenues(ctx context.Context, tx storage.ReadTx, rep *LedgerReport) error {
	var revenues []storage.Revenue
	if err := tx.Revenues(ctx, func(v storage.Revenue) error { revenues = append(revenues, v); return nil }); err != nil {
		return err
	}
	for _, v := range revenues {
		rep.Revenues++
		var royalties, total int64
		err := tx.Transfers(ctx, storage.TransferFilter{Revenue: v.ID}, func(t ledger.Transfer) error {
			total += t.Amount
			if t.Trigger == ledger.TriggerRoyalty {
				royalties += t.Amount
			}
			if t.Debit != v.Payer || t.Currency != v.Currency {
				rep.fail("transfer %s of revenue %s is not from %s in %s", t.ID, v.ID, v.Payer, v.Currency)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if royalties != v.RoyaltyPool || total != v.Amount {
			rep.fail("revenue %s of %d with royalty pool %d has transfers of %d, of which %d royalties", v.ID, v.Amount, v.RoyaltyPool, total, royalties)
		}
	}
	return nil
}

// checkBatches checks that each payout batch's transfers add up to it.
func checkBatches(ctx context.Context, tx storage.ReadTx, rep *LedgerReport) error {
	var batches []storage.PayoutBatch
	if err := tx.PayoutBatches(ctx, func(b storage.PayoutBatch) error { batches = append(batches, b); return nil }); err != nil {
		return err
	}
	for _, b := range batches {
		rep.Batches++
		var total int64
		count := 0
		err := tx.Transfers(ctx, storage.TransferFilter{Batch: b.ID, Trigger: ledger.TriggerPayout}, func(t ledger.Transfer) error {
			total += t.Amount
			count++
			return nil
		})
		if err != nil {
			return err
		}
		payments, err := tx.PayoutPayments(ctx, b.ID)
		if err != nil {
			return err
		}
		if total != b.Total || count != b.Payments || len(payments) != b.Payments {
			rep.fail("payout batch %s records %d payments of %d in all, but has %d payout transfers of %d and %d payments", b.ID, b.Payments, b.Total, count, total, len(payments))
		}
	}
	return nil
}

// decodeStrict decodes JSON into v and rejects unknown fields, so an event
// with fields the table does not hold is reported.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
