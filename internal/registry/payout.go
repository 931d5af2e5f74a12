package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/ledger/bankfile"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/plaintext"
	"github.com/steward-rehab/steward/internal/storage"
)

// batchPrefix starts payout batch ids, which are also the message ids of
// the bank files.
const batchPrefix = "b-"

// PayeeInput is a participant's bank details as entered.
type PayeeInput struct {
	Name string
	IBAN string
	BIC  string
}

// Command-line flags of bank details, which errors name.
var (
	payeeFlags  = [3]string{"--name", "--iban", "--bic"}
	debtorFlags = [3]string{"--debtor-name", "--debtor-iban", "--debtor-bic"}
)

// checkPayee validates and normalises bank details. Errors name the flag
// of the field, from flags (name, IBAN, BIC).
func checkPayee(in PayeeInput, flags [3]string) (PayeeInput, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 140 || plaintext.Line("name", in.Name) != nil {
		return in, fmt.Errorf("invalid account holder name: pass %s with 1 to 140 characters on one line, without control, bidirectional or zero-width characters", flags[0])
	}
	iban, err := ledger.NormalizeIBAN(in.IBAN)
	if err != nil {
		return in, fmt.Errorf("%s: %w", flags[1], err)
	}
	in.IBAN = iban
	if in.BIC != "" {
		if in.BIC, err = ledger.NormalizeBIC(in.BIC); err != nil {
			return in, fmt.Errorf("%s: %w", flags[2], err)
		}
	}
	return in, nil
}

// payeeDigest is the salted digest of bank details that the log holds.
func payeeDigest(salt []byte, in PayeeInput) string {
	h := sha256.New()
	h.Write(salt)
	for _, f := range []string{in.Name, in.IBAN, in.BIC} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// SetPayee stores or replaces the bank details a participant is paid to.
// The details stay out of the log, which records a salted digest of them,
// and erasing the participant deletes them.
func (r *Registry) SetPayee(ctx context.Context, ref string, in PayeeInput) (storage.Payee, error) {
	in, err := checkPayee(in, payeeFlags)
	if err != nil {
		return storage.Payee{}, err
	}
	var out storage.Payee
	err = r.update(ctx, func(ctx context.Context, w *writer) error {
		p, err := r.resolve(ctx, w.tx, ref)
		if err != nil {
			return err
		}
		if !p.ErasedAt.IsZero() {
			return fmt.Errorf("participant %s was erased: no bank details can be stored for them", p.Pseudonym)
		}
		out = storage.Payee{Participant: p.Pseudonym, Name: in.Name, IBAN: in.IBAN, BIC: in.BIC, Salt: participant.NewSalt(), UpdatedAt: r.now().UTC()}
		out.EventIndex, err = w.append(event.TypePayeeUpdated, event.PayeeUpdated{Participant: p.Pseudonym, Digest: payeeDigest(out.Salt, in)})
		if err != nil {
			return err
		}
		return w.tx.PutPayee(ctx, out)
	})
	return out, err
}

// Payee returns a participant's bank details.
func (r *Registry) Payee(ctx context.Context, ref string) (storage.Payee, error) {
	var out storage.Payee
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		p, err := r.resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		out, err = tx.Payee(ctx, p.Pseudonym)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("participant %s has no bank details: store them with steward payee set: %w", p.Pseudonym, err)
		}
		return err
	})
	return out, err
}

// ErasePayee deletes a participant's bank details, also from the payout
// batches that copied them. The payments stay in the ledger.
func (r *Registry) ErasePayee(ctx context.Context, ref string) (string, error) {
	var pseudonym string
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		p, err := r.resolve(ctx, w.tx, ref)
		if err != nil {
			return err
		}
		pseudonym = p.Pseudonym
		if err := w.tx.DeletePayee(ctx, p.Pseudonym); errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("participant %s has no bank details: %w", p.Pseudonym, err)
		} else if err != nil {
			return err
		}
		_, err = w.append(event.TypePayeeErased, event.PayeeErased{Participant: p.Pseudonym})
		return err
	})
	return pseudonym, err
}

// PayoutSpec says what to pay.
type PayoutSpec struct {
	// Currency selects the accounts to pay; empty means the only currency
	// that has something to pay.
	Currency string
	// Debtor is the registry's own bank account, which the bank debits.
	Debtor bankfile.Party
	// ExecutionDate is when the bank is to pay; zero means today.
	ExecutionDate time.Time
}

// PayoutResult is a new payout batch, or none when nothing was due.
type PayoutResult struct {
	// Batch.ID is empty when no payment was due.
	Batch    storage.PayoutBatch
	Payments []storage.PayoutPayment
	// Skipped are participants with a balance but no bank details.
	Skipped []ledger.Account
	// Unclaimed are the transfers that moved balances of erased
	// participants to the unclaimed account instead of paying them. Only
	// a registry whose erasures predate that move has such balances.
	Unclaimed []ledger.Transfer
}

// CreatePayoutBatch pays every participant's available balance in one
// currency to their bank account. In one transaction it posts a payout
// transfer from each participant account to the payable account and logs
// the batch, which records the payments as sent. The balance each payment
// empties cannot be paid again, so running it again pays only what was
// earned since. Participants without bank details are skipped and keep
// their balance.
//
// Write the batch's file afterwards with PayoutFile: the batch is recorded
// before any file exists, so a failure while writing loses nothing.
func (r *Registry) CreatePayoutBatch(ctx context.Context, spec PayoutSpec) (*PayoutResult, error) {
	debtor, err := checkPayee(PayeeInput(spec.Debtor), debtorFlags)
	if err != nil {
		return nil, fmt.Errorf("the registry's own bank account, which the bank debits: %w", err)
	}
	if spec.Currency != "" {
		if _, err := ledger.LookupCurrency(spec.Currency); err != nil {
			return nil, err
		}
	}
	execution := spec.ExecutionDate
	if execution.IsZero() {
		execution = r.now()
	}
	execution = time.Date(execution.Year(), execution.Month(), execution.Day(), 0, 0, 0, 0, time.UTC)

	res := &PayoutResult{}
	err = r.update(ctx, func(ctx context.Context, w *writer) error {
		*res = PayoutResult{}
		return r.createBatch(ctx, w, spec.Currency, debtor, execution, res)
	})
	if err != nil {
		return nil, err
	}
	if res.Batch.ID != "" {
		r.log.Info("payout batch created", "batch", res.Batch.ID, "payments", res.Batch.Payments, "total", res.Batch.Total, "currency", res.Batch.Currency)
	}
	return res, nil
}

func (r *Registry) createBatch(ctx context.Context, w *writer, currency string, debtor PayeeInput, execution time.Time, res *PayoutResult) error {
	// Participants with money available, in one currency.
	due := map[string][]ledger.Account{}
	err := w.tx.Accounts(ctx, func(a ledger.Account) error {
		if participantOfAccount(a.ID) != "" && a.Available() > 0 && (currency == "" || a.Currency == currency) {
			due[a.Currency] = append(due[a.Currency], a)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(due) > 1 {
		return fmt.Errorf("balances are due in %s: pass --currency to pay one of them", strings.Join(sortedParticipants(due), ", "))
	}
	for c := range due {
		currency = c
	}
	accounts := due[currency]
	if len(accounts) == 0 {
		return nil
	}
	who := make([]string, len(accounts))
	for i, a := range accounts {
		who[i] = participantOfAccount(a.ID)
	}
	payees, err := w.tx.PayeesOf(ctx, who)
	if err != nil {
		return err
	}
	people, err := w.tx.ParticipantsOf(ctx, who)
	if err != nil {
		return err
	}

	// One payout transfer per participant with bank details. An erased
	// participant cannot be paid, so their balance goes to the unclaimed
	// account instead.
	batch := storage.PayoutBatch{ID: ident.New(batchPrefix), Currency: currency, CreatedAt: r.now().UTC(), ExecutionDate: execution,
		DebtorName: debtor.Name, DebtorIBAN: debtor.IBAN, DebtorBIC: debtor.BIC}
	var requests []ledger.Transfer
	for _, a := range accounts {
		p := participantOfAccount(a.ID)
		if !people[p].ErasedAt.IsZero() {
			moved, err := r.moveBalanceToUnclaimed(ctx, w, p, "payout:"+batch.ID+":"+p)
			if err != nil {
				return err
			}
			res.Unclaimed = append(res.Unclaimed, moved...)
			continue
		}
		if _, ok := payees[p]; !ok {
			res.Skipped = append(res.Skipped, a)
			continue
		}
		requests = append(requests, ledger.Transfer{Key: "payout:" + batch.ID + ":" + p, Phase: ledger.PhasePosted, Debit: a.ID, Credit: ledger.Payable,
			Amount: a.Available(), Currency: currency, Trigger: ledger.TriggerPayout, Batch: batch.ID})
	}
	if len(requests) == 0 {
		return nil
	}
	transfers, err := r.post(ctx, w, requests)
	if err != nil {
		return err
	}
	for _, t := range transfers {
		payee := payees[participantOfAccount(t.Debit)]
		res.Payments = append(res.Payments, storage.PayoutPayment{Batch: batch.ID, EndToEndID: t.ID, Participant: payee.Participant, Amount: t.Amount,
			CreditorName: payee.Name, CreditorIBAN: payee.IBAN, CreditorBIC: payee.BIC})
		batch.Payments++
		batch.Total += t.Amount
	}
	batch.EventIndex, err = w.append(event.TypePayoutBatch, event.PayoutBatch{Batch: batch.ID, Currency: currency, Payments: batch.Payments, Total: batch.Total})
	if err != nil {
		return err
	}
	res.Batch = batch
	return w.tx.InsertPayoutBatch(ctx, batch, res.Payments)
}

// PayoutFile returns a logged batch as a bank file's content. The content
// is the same every time, so the file can be written again after a
// failure. The bank recognises a repeated file by its message id, which is
// the batch id. It fails for a batch whose creditors' bank details were
// erased.
func (r *Registry) PayoutFile(ctx context.Context, batchID string) (bankfile.Batch, error) {
	var out bankfile.Batch
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		b, err := tx.PayoutBatch(ctx, batchID)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("unknown payout batch %q: see steward payout list: %w", batchID, err)
		} else if err != nil {
			return err
		}
		payments, err := tx.PayoutPayments(ctx, batchID)
		if err != nil {
			return err
		}
		out = bankfile.Batch{MessageID: b.ID, CreatedAt: b.CreatedAt, ExecutionDate: b.ExecutionDate, Currency: b.Currency,
			Debtor: bankfile.Party{Name: b.DebtorName, IBAN: b.DebtorIBAN, BIC: b.DebtorBIC}}
		for _, p := range payments {
			if p.CreditorIBAN == "" {
				return fmt.Errorf("the bank details of participant %s, paid by %s in batch %s, were erased: the file cannot be written again", p.Participant, p.EndToEndID, b.ID)
			}
			out.Payments = append(out.Payments, bankfile.Payment{
				EndToEndID: p.EndToEndID, Participant: p.Participant, Amount: p.Amount,
				Creditor:   bankfile.Party{Name: p.CreditorName, IBAN: p.CreditorIBAN, BIC: p.CreditorBIC},
				Remittance: "Steward compensation, batch " + b.ID,
			})
		}
		return nil
	})
	return out, err
}

// Batches returns every payout batch with its payments, oldest first.
func (r *Registry) Batches(ctx context.Context) ([]storage.PayoutBatch, map[string][]storage.PayoutPayment, error) {
	var batches []storage.PayoutBatch
	payments := map[string][]storage.PayoutPayment{}
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		if err := tx.PayoutBatches(ctx, func(b storage.PayoutBatch) error { batches = append(batches, b); return nil }); err != nil {
			return err
		}
		for _, b := range batches {
			var err error
			if payments[b.ID], err = tx.PayoutPayments(ctx, b.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return batches, payments, err
}

// RejectedPayment is a payment the bank rejected.
type RejectedPayment struct {
	EndToEndID string
	// Reason is the bank's reason code, such as AC04 for a closed account.
	Reason string
}

// ReturnResult is the outcome for one rejected payment.
type ReturnResult struct {
	Payment storage.PayoutPayment
	Return  ledger.Transfer
	// Repeated is true when the payment was returned before.
	Repeated bool
}

// ReasonNotSpecified is the ISO 20022 status reason code MS03, "reason not
// specified", recorded for a rejection that gives no reason.
const ReasonNotSpecified = "MS03"

// maxReasonCode is the longest bank reason code, as ISO 20022 Max35Text.
const maxReasonCode = 35

// RejectPayments records that the bank rejected payments of a batch. Each
// rejected payment gets a return transfer from the payable account back to
// the participant, in one transaction, so its amount is paid in a later
// batch. The payment's record as sent stays. Rejecting a payment again
// changes nothing; a payment not in the batch fails the whole call.
func (r *Registry) RejectPayments(ctx context.Context, batchID string, rejected []RejectedPayment) ([]ReturnResult, error) {
	if len(rejected) == 0 {
		return nil, fmt.Errorf("no payments given: name the rejected payments by their end-to-end ids (see steward payout list)")
	}
	return r.rejectPayments(ctx, batchID, rejected, false, "")
}

// RejectBatch records that the bank rejected every payment of a batch, as
// RejectPayments does for each.
func (r *Registry) RejectBatch(ctx context.Context, batchID, reason string) ([]ReturnResult, error) {
	return r.rejectPayments(ctx, batchID, nil, true, reason)
}

func (r *Registry) rejectPayments(ctx context.Context, batchID string, rejected []RejectedPayment, all bool, allReason string) ([]ReturnResult, error) {
	if all {
		rejected = []RejectedPayment{{EndToEndID: "all payments", Reason: allReason}}
	}
	// A return without a reason, from the command line or a status report
	// without StsRsnInf, gets the ISO 20022 code for an unspecified one.
	rejected = slices.Clone(rejected)
	for i := range rejected {
		if rejected[i].Reason == "" {
			rejected[i].Reason = ReasonNotSpecified
		}
	}
	if allReason == "" {
		allReason = ReasonNotSpecified
	}
	for _, rp := range rejected {
		if len(rp.Reason) > maxReasonCode || strings.ContainsFunc(rp.Reason, func(c rune) bool { return c <= ' ' || c > '~' }) {
			return nil, fmt.Errorf("invalid reason code %q for %s: use the bank's code, such as AC04, of at most %d letters and digits", rp.Reason, rp.EndToEndID, maxReasonCode)
		}
	}
	var results []ReturnResult
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		results = nil
		b, err := w.tx.PayoutBatch(ctx, batchID)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("unknown payout batch %q: see steward payout list: %w", batchID, err)
		} else if err != nil {
			return err
		}
		payments, err := w.tx.PayoutPayments(ctx, b.ID)
		if err != nil {
			return err
		}
		byID := map[string]storage.PayoutPayment{}
		for _, p := range payments {
			byID[p.EndToEndID] = p
		}
		list := rejected
		if all {
			list = nil
			for _, p := range payments {
				list = append(list, RejectedPayment{EndToEndID: p.EndToEndID, Reason: allReason})
			}
		}

		var requests []ledger.Transfer
		for _, rp := range list {
			p, ok := byID[rp.EndToEndID]
			if !ok {
				return fmt.Errorf("payment %q is not in batch %s: see steward payout list", rp.EndToEndID, b.ID)
			}
			results = append(results, ReturnResult{Payment: p, Repeated: p.Return.ID != ""})
			if p.Return.ID != "" {
				continue
			}
			requests = append(requests, ledger.Transfer{Key: "payout-return:" + p.EndToEndID, Phase: ledger.PhasePosted, Debit: ledger.Payable,
				Credit: ledger.ParticipantAccount(p.Participant), Amount: p.Amount, Currency: b.Currency, Trigger: ledger.TriggerReturn,
				Batch: b.ID, Returns: p.EndToEndID, Reason: rp.Reason})
		}
		returns, err := r.post(ctx, w, requests)
		if err != nil {
			return err
		}
		if _, err := r.moveCreditsOfErased(ctx, w, returns); err != nil {
			return err
		}
		byPayment := map[string]ledger.Transfer{}
		for _, t := range returns {
			byPayment[t.Returns] = t
		}
		for i := range results {
			if t, ok := byPayment[results[i].Payment.EndToEndID]; ok {
				results[i].Return = t
			} else {
				results[i].Return = results[i].Payment.Return
			}
		}
		return nil
	})
	return results, err
}
