package registry

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// Statement lists what a participant was paid, in each currency.
type Statement struct {
	Participant string
	Currencies  []CurrencyStatement
}

// CurrencyStatement is a participant's payments in one currency.
type CurrencyStatement struct {
	Currency string
	Lines    []StatementLine
	// Account is the ledger's account of the participant, whose balances
	// the lines add up to.
	Account ledger.Account
	// Sums of the lines, in minor units: posted earnings, earnings still
	// pending, and paid out net of returned payments.
	Earned  int64
	Pending int64
	PaidOut int64
}

// Line states.
const (
	StatePending  = "pending"
	StatePosted   = "posted"
	StateVoided   = "voided"
	StateReturned = "returned"
)

// StatementLine is one payment to or from the participant.
type StatementLine struct {
	// Transfer is the payment: the reserve of a per-sample payment, else
	// the posted transfer.
	Transfer ledger.Transfer
	// State is pending, posted or voided for a per-sample payment, posted
	// for other payments, and returned for a payout the bank rejected.
	State string
	// Amount is signed: positive to the participant, negative from them.
	Amount int64
	// DecidedAt is when a pending payment was posted or voided, or a
	// payout returned.
	DecidedAt time.Time
	// Reason is the reason code of a voided or returned payment.
	Reason string
}

// Describe returns what a line paid for.
func (l StatementLine) Describe() string {
	t := l.Transfer
	switch t.Trigger {
	case ledger.TriggerSample:
		return "sample " + t.Sample
	case ledger.TriggerUse:
		return fmt.Sprintf("use of sample %s in release %s", t.Sample, t.Release)
	case ledger.TriggerRoyalty:
		return fmt.Sprintf("royalty of revenue %s for release %s", t.Revenue, t.Release)
	case ledger.TriggerPayout:
		return fmt.Sprintf("payout %s in batch %s", t.ID, t.Batch)
	case ledger.TriggerReturn:
		return fmt.Sprintf("return of payout %s", t.Returns)
	case ledger.TriggerErasure:
		return "moved to the unclaimed account: the participant was erased"
	}
	return "adjustment " + t.Key
}

// Statement returns the statement of a participant named by pseudonym or
// source id, built from the ledger's transfers in log order.
func (r *Registry) Statement(ctx context.Context, ref string) (*Statement, error) {
	st := &Statement{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		p, err := r.resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		st.Participant = p.Pseudonym
		account := ledger.ParticipantAccount(p.Pseudonym)
		byCurrency := map[string]*CurrencyStatement{}
		lineOf := map[string]int{} // transfer id -> index of its line
		err = tx.Transfers(ctx, storage.TransferFilter{Account: account}, func(t ledger.Transfer) error {
			cs := byCurrency[t.Currency]
			if cs == nil {
				cs = &CurrencyStatement{Currency: t.Currency}
				byCurrency[t.Currency] = cs
			}
			addStatementLine(cs, lineOf, account, t)
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range sortedParticipants(byCurrency) {
			cs := byCurrency[c]
			if cs.Account, err = tx.Account(ctx, account, c); err != nil {
				return err
			}
			cs.sum()
			st.Currencies = append(st.Currencies, *cs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// addStatementLine adds a transfer to a statement: a new line, or the
// decision about an earlier one.
func addStatementLine(cs *CurrencyStatement, lineOf map[string]int, account string, t ledger.Transfer) {
	switch {
	case t.Phase == ledger.PhasePost || t.Phase == ledger.PhaseVoid:
		if i, ok := lineOf[t.Pending]; ok {
			cs.Lines[i].DecidedAt, cs.Lines[i].Reason = t.At, t.Reason
			cs.Lines[i].State = StatePosted
			if t.Phase == ledger.PhaseVoid {
				cs.Lines[i].State = StateVoided
			}
		}
		return
	case t.Trigger == ledger.TriggerReturn:
		if i, ok := lineOf[t.Returns]; ok {
			cs.Lines[i].State, cs.Lines[i].DecidedAt, cs.Lines[i].Reason = StateReturned, t.At, t.Reason
		}
	}
	line := StatementLine{Transfer: t, State: StatePosted, Amount: t.Amount}
	if t.Phase == ledger.PhasePending {
		line.State = StatePending
	}
	if t.Debit == account {
		line.Amount = -t.Amount
	}
	lineOf[t.ID] = len(cs.Lines)
	cs.Lines = append(cs.Lines, line)
}

// sum adds the lines up: a payout and its return cancel out.
func (cs *CurrencyStatement) sum() {
	cs.Earned, cs.Pending, cs.PaidOut = 0, 0, 0
	for _, l := range cs.Lines {
		t := l.Transfer
		switch {
		case t.Trigger == ledger.TriggerPayout:
			cs.PaidOut -= l.Amount // the amount is negative
		case t.Trigger == ledger.TriggerReturn:
			cs.PaidOut -= l.Amount
		case l.State == StatePending:
			cs.Pending += l.Amount
		case l.State == StateVoided:
		default:
			cs.Earned += l.Amount
		}
	}
}

// Reconciles reports whether the statement's sums agree with the ledger's
// account to the minor unit: earned less paid out is the posted balance,
// and the pending earnings are the pending credits.
func (cs CurrencyStatement) Reconciles() bool {
	return cs.Earned-cs.PaidOut == cs.Account.Balance() && cs.Pending == cs.Account.CreditsPending-cs.Account.DebitsPending
}

// Policies returns the policies under which the lines were paid, sorted.
func (cs CurrencyStatement) Policies() []string {
	seen := map[string]bool{}
	for _, l := range cs.Lines {
		if l.Transfer.Policy != "" {
			seen[l.Transfer.Policy] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
