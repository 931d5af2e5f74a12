package ledger

import (
	"cmp"
	"fmt"
	"slices"
)

// AccountKey names one account's balances: an account holds one currency.
type AccountKey struct {
	ID       string
	Currency string
}

// Delta is the change a batch of transfers makes to one account.
type Delta struct {
	AccountKey
	MayGoNegative bool
	// Changes of the four sums of Account.
	DebitsPending  int64
	DebitsPosted   int64
	CreditsPending int64
	CreditsPosted  int64
	// Required is the smallest Available balance, before the batch, that
	// keeps the account at zero or above after each transfer of the batch
	// in order. An engine posts the batch only if the account has it, and
	// checks that in the statement that applies the delta.
	Required int64
}

// Deltas returns the change each transfer of a batch makes to each
// account, in order of account and currency. Resolving transfers (post and
// void) must carry the amount and accounts of the pending transfer they
// resolve.
func Deltas(transfers []Transfer) ([]Delta, error) {
	byKey := map[AccountKey]*Delta{}
	// drop is how far each account's available balance has fallen so far;
	// Required is the deepest fall.
	drop := map[AccountKey]int64{}
	side := func(id, currency string) (*Delta, error) {
		key := AccountKey{id, currency}
		if d, ok := byKey[key]; ok {
			return d, nil
		}
		kind, _, err := ParseAccount(id)
		if err != nil {
			return nil, err
		}
		d := &Delta{AccountKey: key, MayGoNegative: MayGoNegative(kind)}
		byKey[key] = d
		return d, nil
	}
	for _, t := range transfers {
		debit, err := side(t.Debit, t.Currency)
		if err != nil {
			return nil, err
		}
		credit, err := side(t.Credit, t.Currency)
		if err != nil {
			return nil, err
		}
		var change int64 // of the debit account's available balance
		switch t.Phase {
		case PhasePosted:
			err = addAll(&debit.DebitsPosted, t.Amount, &credit.CreditsPosted, t.Amount)
			change = -t.Amount
		case PhasePending:
			err = addAll(&debit.DebitsPending, t.Amount, &credit.CreditsPending, t.Amount)
			change = -t.Amount
		case PhasePost:
			err = addAll(&debit.DebitsPending, -t.Amount, &debit.DebitsPosted, t.Amount,
				&credit.CreditsPending, -t.Amount, &credit.CreditsPosted, t.Amount)
		case PhaseVoid:
			err = addAll(&debit.DebitsPending, -t.Amount, &credit.CreditsPending, -t.Amount)
			change = t.Amount
		default:
			err = fmt.Errorf("transfer %s: unknown phase %q", t.ID, t.Phase)
		}
		if err != nil {
			return nil, fmt.Errorf("transfer %s: %w", t.ID, err)
		}
		if drop[debit.AccountKey] -= change; drop[debit.AccountKey] > debit.Required {
			debit.Required = drop[debit.AccountKey]
		}
		// A credit raises the available balance only once it is posted.
		if t.Phase == PhasePosted || t.Phase == PhasePost {
			drop[credit.AccountKey] -= t.Amount
		}
	}
	out := make([]Delta, 0, len(byKey))
	for _, d := range byKey {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Delta) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Currency, b.Currency)
	})
	return out, nil
}

// addAll adds each amount to the sum before it, as pairs of pointer and
// amount, and fails on overflow.
func addAll(pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		sum := pairs[i].(*int64)
		v, err := addAmounts(*sum, pairs[i+1].(int64))
		if err != nil {
			return err
		}
		*sum = v
	}
	return nil
}

// Apply adds a delta to an account's balances.
func (a *Account) Apply(d Delta) error {
	return addAll(&a.DebitsPending, d.DebitsPending, &a.DebitsPosted, d.DebitsPosted,
		&a.CreditsPending, d.CreditsPending, &a.CreditsPosted, d.CreditsPosted)
}

// Book re-derives every account's balances from the transfers, applied in
// log order, and checks each transfer against the ledger's rules. It is an
// implementation independent of the database's, for verification.
type Book struct {
	accounts map[AccountKey]*Account
	pending  map[string]Transfer
	resolved map[string]string // pending transfer id -> the id that resolved it
	keys     map[string]string // idempotency key -> transfer id
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{accounts: map[AccountKey]*Account{}, pending: map[string]Transfer{},
		resolved: map[string]string{}, keys: map[string]string{}}
}

// Apply applies one transfer. It fails if the transfer is invalid, repeats
// an idempotency key, resolves a pending transfer that does not exist, was
// resolved before or differs in accounts or amount, or takes an account
// that may not go negative below zero.
func (b *Book) Apply(t Transfer) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if first, ok := b.keys[t.Key]; ok {
		return fmt.Errorf("transfer %s reuses the idempotency key %q of transfer %s", t.ID, t.Key, first)
	}
	if t.Phase == PhasePost || t.Phase == PhaseVoid {
		p, ok := b.pending[t.Pending]
		switch {
		case !ok:
			return fmt.Errorf("transfer %s resolves %s, which is not a pending transfer before it", t.ID, t.Pending)
		case b.resolved[t.Pending] != "":
			return fmt.Errorf("transfer %s resolves %s, which transfer %s resolved before", t.ID, t.Pending, b.resolved[t.Pending])
		case p.Debit != t.Debit || p.Credit != t.Credit || p.Amount != t.Amount || p.Currency != t.Currency:
			return fmt.Errorf("transfer %s resolves %s with other accounts, amount or currency", t.ID, t.Pending)
		}
	}
	deltas, err := Deltas([]Transfer{t})
	if err != nil {
		return err
	}
	for _, d := range deltas {
		a := b.account(d)
		if !a.MayGoNegative && a.Available() < d.Required {
			return fmt.Errorf("transfer %s takes %s below zero: %w (available %s, the transfer needs %s)",
				t.ID, a.ID, ErrInsufficientFunds, FormatAmount(a.Available(), a.Currency), FormatAmount(d.Required, a.Currency))
		}
	}
	for _, d := range deltas {
		if err := b.account(d).Apply(d); err != nil {
			return fmt.Errorf("transfer %s: %w", t.ID, err)
		}
	}
	b.keys[t.Key] = t.ID
	switch t.Phase {
	case PhasePending:
		b.pending[t.ID] = t
	case PhasePost, PhaseVoid:
		b.resolved[t.Pending] = t.ID
	}
	return nil
}

func (b *Book) account(d Delta) *Account {
	a, ok := b.accounts[d.AccountKey]
	if !ok {
		a = &Account{ID: d.ID, Currency: d.Currency, MayGoNegative: d.MayGoNegative}
		b.accounts[d.AccountKey] = a
	}
	return a
}

// Accounts returns every account the transfers touched, in order of id and
// currency.
func (b *Book) Accounts() []Account {
	out := make([]Account, 0, len(b.accounts))
	for _, a := range b.accounts {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(x, y Account) int {
		if c := cmp.Compare(x.ID, y.ID); c != 0 {
			return c
		}
		return cmp.Compare(x.Currency, y.Currency)
	})
	return out
}

// Unresolved returns the pending transfers that no post or void resolved.
func (b *Book) Unresolved() []Transfer {
	var out []Transfer
	for id, t := range b.pending {
		if b.resolved[id] == "" {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(x, y Transfer) int { return cmp.Compare(x.EventIndex, y.EventIndex) })
	return out
}
