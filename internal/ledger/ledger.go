// Package ledger is Steward's double-entry ledger of what participants are
// paid: accounts, transfers in integer minor units, compensation policies,
// the royalty split and IBAN checks. It holds the rules and no storage; the
// registry records every transfer as an event in the log and in the
// database projection in one transaction.
//
// # Accounts
//
// An account is named kind or kind:name and holds one currency:
//
//	participant:<pseudonym>  what the registry owes a participant; it may not go negative
//	clinic[:<name>]          funds per-sample payments; it may go negative, by what the clinic spent
//	licensee:<name>          funds per-use payments and licence revenue; it may go negative, by what the licensee owes
//	platform                 the registry's share of licence revenue; it may not go negative
//	payable                  payments sent to the bank and not returned; it may not go negative
//
// Every transfer moves an amount from its debit account to its credit
// account, so the balances of all accounts of a currency sum to zero.
//
// # Transfers
//
// Transfers are never edited. A pending transfer reserves its amount; a
// later post or void transfer names it and resolves it, and the database
// allows one resolution per pending transfer. Every transfer carries an
// idempotency key: the same key with the same request returns the first
// transfer, with another request it is rejected with ErrKeyConflict.
package ledger

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Errors that callers test with errors.Is.
var (
	// ErrInsufficientFunds reports that a transfer would take an account
	// that may not go negative below zero.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrKeyConflict reports that an idempotency key was used before for a
	// different request.
	ErrKeyConflict = errors.New("idempotency key conflict")
)

// Kinds of account.
const (
	KindParticipant = "participant"
	KindClinic      = "clinic"
	KindLicensee    = "licensee"
	KindPlatform    = "platform"
	KindPayable     = "payable"
	// KindUnclaimed holds what the registry owed participants who were
	// erased: it can no longer pay them, because erasure deleted how to
	// reach them. The operator decides where the money goes next, such as
	// back to the funder, with an adjustment transfer.
	KindUnclaimed = "unclaimed"
)

// Well-known accounts.
const (
	Platform  = KindPlatform
	Payable   = KindPayable
	Clinic    = KindClinic
	Unclaimed = KindUnclaimed
)

// ParticipantAccount returns the account of a participant's pseudonym.
func ParticipantAccount(pseudonym string) string { return KindParticipant + ":" + pseudonym }

// LicenseeAccount returns the account of a licensee.
func LicenseeAccount(licensee string) string { return KindLicensee + ":" + licensee }

// maxAccountName is the longest name after the kind, in bytes.
const maxAccountName = 200

// ParseAccount splits an account id into its kind and name, and rejects
// unknown kinds, missing or extra names and control characters.
func ParseAccount(id string) (kind, name string, err error) {
	kind, name, hasName := strings.Cut(id, ":")
	switch kind {
	case KindParticipant, KindLicensee:
		if !hasName || name == "" {
			return "", "", fmt.Errorf("invalid account %q: a %s account needs a name, as in %s:NAME", id, kind, kind)
		}
	case KindClinic:
		if hasName && name == "" {
			return "", "", fmt.Errorf("invalid account %q: write clinic or clinic:NAME", id)
		}
	case KindPlatform, KindPayable, KindUnclaimed:
		if hasName {
			return "", "", fmt.Errorf("invalid account %q: the %s account has no name", id, kind)
		}
	default:
		return "", "", fmt.Errorf("invalid account %q: the kind must be participant, clinic, licensee, platform, payable or unclaimed", id)
	}
	if len(name) > maxAccountName {
		return "", "", fmt.Errorf("invalid account %q: the name is longer than %d bytes", id, maxAccountName)
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", "", fmt.Errorf("invalid account %q: the name contains a control character", id)
	}
	return kind, name, nil
}

// MayGoNegative reports whether an account of the given kind may have a
// negative balance. Clinic and licensee accounts fund payments, so their
// negative balance is what their owner spent or owes.
func MayGoNegative(kind string) bool { return kind == KindClinic || kind == KindLicensee }

// Account is an account's balances, in minor units of its currency.
type Account struct {
	ID            string
	Currency      string
	MayGoNegative bool
	// The four sums of the transfers that touch the account.
	DebitsPending  int64
	DebitsPosted   int64
	CreditsPending int64
	CreditsPosted  int64
}

// Balance returns the posted balance: credits minus debits.
func (a Account) Balance() int64 { return a.CreditsPosted - a.DebitsPosted }

// Available returns what a new debit may take: the posted balance less the
// pending debits. Pending credits do not count until they are posted.
func (a Account) Available() int64 { return a.CreditsPosted - a.DebitsPosted - a.DebitsPending }

// Phases of a transfer.
const (
	// PhasePosted is a transfer posted when it is made.
	PhasePosted = "posted"
	// PhasePending reserves an amount until a post or a void resolves it.
	PhasePending = "pending"
	// PhasePost posts the pending transfer it names.
	PhasePost = "post"
	// PhaseVoid voids the pending transfer it names.
	PhaseVoid = "void"
)

// Triggers: what a transfer pays for.
const (
	// TriggerSample pays a participant for a registered sample once it has
	// passed its data checks and consent is in force.
	TriggerSample = "sample"
	// TriggerUse pays a participant for a sample included in a licensed
	// release.
	TriggerUse = "use"
	// TriggerRoyalty pays a participant their part of licence revenue.
	TriggerRoyalty = "royalty"
	// TriggerRevenue moves the registry's share of licence revenue to the
	// platform account.
	TriggerRevenue = "revenue"
	// TriggerPayout moves a participant's balance to the bank.
	TriggerPayout = "payout"
	// TriggerReturn returns a payment that the bank rejected.
	TriggerReturn = "payout-return"
	// TriggerAdjustment is a transfer an operator entered.
	TriggerAdjustment = "adjustment"
	// TriggerErasure moves what an erased participant's account holds, or
	// later receives, to the unclaimed account.
	TriggerErasure = "erasure"
)

var triggers = []string{TriggerSample, TriggerUse, TriggerRoyalty, TriggerRevenue, TriggerPayout, TriggerReturn, TriggerAdjustment, TriggerErasure}

// Component is one part of a transfer's amount, such as the rate of a
// modality or a bonus.
type Component struct {
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
}

// Transfer moves Amount minor units of Currency from Debit to Credit. Its
// JSON form is the data of the ledger.transfer event.
type Transfer struct {
	ID    string `json:"transfer"`
	Key   string `json:"key"`
	Phase string `json:"phase"`
	// Pending is the pending transfer that a post or a void resolves.
	Pending  string `json:"pending,omitempty"`
	Debit    string `json:"debit"`
	Credit   string `json:"credit"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Trigger  string `json:"trigger"`
	// References to the object paid for: the sample, release, revenue or
	// payout batch, as the trigger needs.
	Sample  string `json:"sample,omitempty"`
	Release string `json:"release,omitempty"`
	Revenue string `json:"revenue,omitempty"`
	Batch   string `json:"batch,omitempty"`
	// Returns is the payout transfer that a payout return reverses.
	Returns string `json:"returns,omitempty"`
	// Policy is the compensation policy that set the amount, as id@version.
	Policy string `json:"policy,omitempty"`
	// Detail breaks the amount down into its parts.
	Detail []Component `json:"detail,omitempty"`
	// Reason is a short code, such as the bank's reason for a return.
	Reason string `json:"reason,omitempty"`

	// At and EventIndex are when and where the transfer was logged. They
	// are not part of the event data.
	At         time.Time `json:"-"`
	EventIndex uint64    `json:"-"`
}

// maxKey is the longest idempotency key, in bytes.
const maxKey = 200

// MaxAmount is the largest amount of one transfer, in minor units: ten
// billion in a currency of two decimals. It keeps every amount exact in
// the log's JSON, whose numbers are exact only up to 2^53, and leaves
// balances of millions of transfers far from overflowing 64 bits.
const MaxAmount = 1_000_000_000_000

// Validate checks a transfer's fields: known phase, trigger and currency,
// valid and distinct accounts, an amount of zero or more, and a pending
// reference exactly when the phase is post or void.
func (t Transfer) Validate() error {
	if t.Key == "" || len(t.Key) > maxKey {
		return fmt.Errorf("transfer %s: the idempotency key must be 1 to %d bytes", t.ID, maxKey)
	}
	switch t.Phase {
	case PhasePosted, PhasePending:
		if t.Pending != "" {
			return fmt.Errorf("transfer %s: a %s transfer names no pending transfer", t.ID, t.Phase)
		}
	case PhasePost, PhaseVoid:
		if t.Pending == "" {
			return fmt.Errorf("transfer %s: a %s transfer must name the pending transfer it resolves", t.ID, t.Phase)
		}
	default:
		return fmt.Errorf("transfer %s: unknown phase %q", t.ID, t.Phase)
	}
	if !slices.Contains(triggers, t.Trigger) {
		return fmt.Errorf("transfer %s: unknown trigger %q", t.ID, t.Trigger)
	}
	if _, err := LookupCurrency(t.Currency); err != nil {
		return fmt.Errorf("transfer %s: %w", t.ID, err)
	}
	if t.Amount < 0 {
		return fmt.Errorf("transfer %s: negative amount %d: reverse a transfer with another in the opposite direction", t.ID, t.Amount)
	}
	if t.Amount > MaxAmount {
		return fmt.Errorf("transfer %s: amount %d is over the limit of %d minor units: split it into several transfers", t.ID, t.Amount, int64(MaxAmount))
	}
	for _, acct := range []string{t.Debit, t.Credit} {
		if _, _, err := ParseAccount(acct); err != nil {
			return fmt.Errorf("transfer %s: %w", t.ID, err)
		}
	}
	if t.Debit == t.Credit {
		return fmt.Errorf("transfer %s: debit and credit are the same account %s", t.ID, t.Debit)
	}
	return nil
}

// SameRequest reports whether two transfers ask for the same thing, ignoring
// the id and when and where they were logged. A repeated idempotency key is
// accepted only for the same request.
func SameRequest(a, b Transfer) bool {
	if !slices.Equal(a.Detail, b.Detail) {
		return false
	}
	a.ID, a.At, a.EventIndex, a.Detail = "", time.Time{}, 0, nil
	b.ID, b.At, b.EventIndex, b.Detail = "", time.Time{}, 0, nil
	return reflect.DeepEqual(a, b)
}

// Describe returns a one-line summary of a transfer's request, for
// messages.
func (t Transfer) Describe() string {
	return fmt.Sprintf("%s %s transfer of %s from %s to %s", t.Phase, t.Trigger, FormatAmount(t.Amount, t.Currency), t.Debit, t.Credit)
}

// ConflictError returns the error for a key used before by another request.
func ConflictError(first, again Transfer) error {
	return fmt.Errorf("%w: key %q was used for a %s (transfer %s), not for a %s: use a new key",
		ErrKeyConflict, first.Key, first.Describe(), first.ID, again.Describe())
}
