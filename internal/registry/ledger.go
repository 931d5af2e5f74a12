package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// transferPrefix starts transfer ids. An id is at most 15 characters, so it
// also serves as the end-to-end id of a bank payment (at most 35).
const transferPrefix = "t-"

// appendTransfer gives a new transfer its id and time, logs it as a
// ledger.transfer event and returns it with its event index. The caller
// stores it with InsertTransfers in the same transaction.
func (w *writer) appendTransfer(t ledger.Transfer) (ledger.Transfer, error) {
	t.ID = ident.New(transferPrefix)
	t.At = w.r.now().UTC()
	if err := t.Validate(); err != nil {
		return t, err
	}
	entry, err := event.Encode(event.TypeTransfer, t.At, t)
	if err != nil {
		return t, err
	}
	t.EventIndex, err = w.appendEncoded(entry)
	return t, err
}

// post logs and stores transfer requests in w's transaction, in order. A
// request whose idempotency key was used before is not stored again: for
// the same request the first transfer is returned in its place, and for
// another request the error wraps ledger.ErrKeyConflict and the caller's
// transaction must not commit.
func (r *Registry) post(ctx context.Context, w *writer, requests []ledger.Transfer) ([]ledger.Transfer, error) {
	keys := make([]string, len(requests))
	for i, req := range requests {
		keys[i] = req.Key
	}
	known, err := w.tx.TransfersByKey(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]ledger.Transfer, len(requests))
	var fresh []ledger.Transfer
	for i, req := range requests {
		if first, ok := known[req.Key]; ok {
			if !ledger.SameRequest(first, req) {
				return nil, ledger.ConflictError(first, req)
			}
			out[i] = first
			continue
		}
		t, err := w.appendTransfer(req)
		if err != nil {
			return nil, err
		}
		out[i], known[t.Key] = t, t
		fresh = append(fresh, t)
	}
	if err := w.tx.InsertTransfers(ctx, fresh); err != nil {
		return nil, err
	}
	return out, nil
}

// TransferRequest is a transfer an operator enters, such as a clinic's
// deposit or a correction.
type TransferRequest struct {
	// Debit and Credit name accounts as kind or kind:name. A participant
	// may be named by pseudonym or source id; the log holds the pseudonym.
	Debit, Credit string
	Amount        int64
	Currency      string
	// Key makes the request idempotent: the same key with the same request
	// returns the first transfer.
	Key string
}

// userKeyPrefix keeps operators' idempotency keys apart from the keys the
// registry derives from triggers, such as sample:ID.
const userKeyPrefix = "user:"

// Transfer posts a transfer an operator entered. It returns the transfer
// and whether the key had posted it before. A participant account that
// would go negative fails with ledger.ErrInsufficientFunds, and a key used
// before for another request with ledger.ErrKeyConflict; neither changes
// anything.
func (r *Registry) Transfer(ctx context.Context, req TransferRequest) (ledger.Transfer, bool, error) {
	if req.Key == "" {
		return ledger.Transfer{}, false, fmt.Errorf("no idempotency key: pass --key with a value unique to this transfer, such as an invoice number")
	}
	if _, err := ledger.LookupCurrency(req.Currency); err != nil {
		return ledger.Transfer{}, false, err
	}
	if req.Amount <= 0 {
		return ledger.Transfer{}, false, fmt.Errorf("invalid amount %d: a transfer moves a positive number of minor units", req.Amount)
	}
	var out ledger.Transfer
	var repeated bool
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		debit, err := r.resolveAccount(ctx, w.tx, req.Debit)
		if err != nil {
			return err
		}
		credit, err := r.resolveAccount(ctx, w.tx, req.Credit)
		if err != nil {
			return err
		}
		if err := rejectErasedCredit(ctx, w.tx, credit); err != nil {
			return err
		}
		t := ledger.Transfer{Key: userKeyPrefix + req.Key, Phase: ledger.PhasePosted, Debit: debit, Credit: credit,
			Amount: req.Amount, Currency: req.Currency, Trigger: ledger.TriggerAdjustment}
		before := len(w.entries)
		posted, err := r.post(ctx, w, []ledger.Transfer{t})
		if err != nil {
			return err
		}
		out, repeated = posted[0], len(w.entries) == before
		return nil
	})
	return out, repeated, err
}

// resolveAccount checks an account name and replaces a participant's
// source id with their pseudonym, so that no source id reaches the log.
func (r *Registry) resolveAccount(ctx context.Context, tx storage.ReadTx, name string) (string, error) {
	kind, ref, err := ledger.ParseAccount(name)
	if err != nil {
		return "", err
	}
	if kind != ledger.KindParticipant {
		return name, nil
	}
	p, err := r.resolve(ctx, tx, ref)
	if err != nil {
		return "", err
	}
	return ledger.ParticipantAccount(p.Pseudonym), nil
}

// Accounts returns every account of the ledger.
func (r *Registry) Accounts(ctx context.Context) ([]ledger.Account, error) {
	var out []ledger.Account
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		return tx.Accounts(ctx, func(a ledger.Account) error { out = append(out, a); return nil })
	})
	return out, err
}

// IsInsufficientFunds reports whether err means an account lacked the
// funds for a transfer.
func IsInsufficientFunds(err error) bool { return errors.Is(err, ledger.ErrInsufficientFunds) }

// IsKeyConflict reports whether err means an idempotency key was used for
// another request.
func IsKeyConflict(err error) bool { return errors.Is(err, ledger.ErrKeyConflict) }

// participantOfAccount returns the pseudonym of a participant account, or
// "" for another kind.
func participantOfAccount(account string) string {
	p, ok := strings.CutPrefix(account, ledger.KindParticipant+":")
	if !ok {
		return ""
	}
	return p
}
