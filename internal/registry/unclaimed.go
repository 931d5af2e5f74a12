package registry

import (
	"context"
	"fmt"
	"sort"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// Money owed to an erased participant cannot be paid, because erasure
// deletes their bank details and storing new ones for them is rejected.
// So erasure voids their pending per-sample payments and moves their
// balance to the unclaimed account. Every later credit to them, such as a
// royalty of a release built before the erasure or a payout the bank
// returns, moves there in the transaction that posts it. An erased
// participant's account therefore stays at zero, and payout batches never
// meet it.

// VoidErased is the reason of a per-sample payment voided because its
// participant was erased.
const VoidErased = "participant-erased"

// unclaimedKey is the idempotency key of the transfer that moves a credit
// to the unclaimed account: the credit's own key, prefixed.
func unclaimedKey(key string) string { return "unclaimed:" + key }

// voidPending voids every pending per-sample payment of a participant.
func (r *Registry) voidPending(ctx context.Context, w *writer, pseudonym string) (int, error) {
	var requests []ledger.Transfer
	filter := storage.TransferFilter{Account: ledger.ParticipantAccount(pseudonym), Trigger: ledger.TriggerSample, Unresolved: true}
	err := w.tx.Transfers(ctx, filter, func(t ledger.Transfer) error {
		requests = append(requests, ledger.Transfer{Key: t.Key + ":" + ledger.PhaseVoid, Phase: ledger.PhaseVoid, Pending: t.ID,
			Debit: t.Debit, Credit: t.Credit, Amount: t.Amount, Currency: t.Currency, Trigger: t.Trigger, Sample: t.Sample,
			Policy: t.Policy, Reason: VoidErased})
		return nil
	})
	if err != nil || len(requests) == 0 {
		return 0, err
	}
	_, err = r.post(ctx, w, requests)
	return len(requests), err
}

// moveBalanceToUnclaimed moves each available balance of a participant to
// the unclaimed account, one transfer per currency, keyed by the cause
// (such as erasure:PSEUDONYM) and the currency.
func (r *Registry) moveBalanceToUnclaimed(ctx context.Context, w *writer, pseudonym, cause string) ([]ledger.Transfer, error) {
	account := ledger.ParticipantAccount(pseudonym)
	var requests []ledger.Transfer
	err := w.tx.Accounts(ctx, func(a ledger.Account) error {
		if a.ID == account && a.Available() > 0 {
			requests = append(requests, ledger.Transfer{Key: unclaimedKey(cause + ":" + a.Currency), Phase: ledger.PhasePosted,
				Debit: account, Credit: ledger.Unclaimed, Amount: a.Available(), Currency: a.Currency, Trigger: ledger.TriggerErasure})
		}
		return nil
	})
	if err != nil || len(requests) == 0 {
		return nil, err
	}
	sort.Slice(requests, func(i, j int) bool { return requests[i].Currency < requests[j].Currency })
	return r.post(ctx, w, requests)
}

// moveCreditsOfErased moves each posted credit to an erased participant's
// account on to the unclaimed account, in the transaction that posted it.
func (r *Registry) moveCreditsOfErased(ctx context.Context, w *writer, credits []ledger.Transfer) ([]ledger.Transfer, error) {
	var who []string
	for _, t := range credits {
		if p := participantOfAccount(t.Credit); p != "" {
			who = append(who, p)
		}
	}
	if len(who) == 0 {
		return nil, nil
	}
	people, err := w.tx.ParticipantsOf(ctx, who)
	if err != nil {
		return nil, err
	}
	var requests []ledger.Transfer
	for _, t := range credits {
		p, ok := people[participantOfAccount(t.Credit)]
		if !ok || p.ErasedAt.IsZero() || t.Phase != ledger.PhasePosted || t.Amount == 0 {
			continue
		}
		// The key links the move to the credit. The references of the
		// credit stay off it, because the verifier sums a revenue's and a
		// batch's transfers by them.
		requests = append(requests, ledger.Transfer{Key: unclaimedKey(t.Key), Phase: ledger.PhasePosted, Debit: t.Credit, Credit: ledger.Unclaimed,
			Amount: t.Amount, Currency: t.Currency, Trigger: ledger.TriggerErasure})
	}
	if len(requests) == 0 {
		return nil, nil
	}
	return r.post(ctx, w, requests)
}

// rejectErasedCredit fails when account is an erased participant's, which
// no operator transfer may credit.
func rejectErasedCredit(ctx context.Context, tx storage.ReadTx, account string) error {
	pseudonym := participantOfAccount(account)
	if pseudonym == "" {
		return nil
	}
	p, err := tx.Participant(ctx, pseudonym)
	if err != nil || p.ErasedAt.IsZero() {
		return err
	}
	return fmt.Errorf("participant %s was erased, so the registry cannot pay them: credit %s instead", pseudonym, ledger.Unclaimed)
}
