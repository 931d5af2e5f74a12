package storage

import (
	"context"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
)

// LedgerReader reads the ledger: accounts and transfers.
type LedgerReader interface {
	// Account returns an account's balances, or ErrNotFound when no
	// transfer has touched it.
	Account(ctx context.Context, id, currency string) (ledger.Account, error)
	// Accounts calls fn for every account, ordered by id and currency.
	Accounts(ctx context.Context, fn func(ledger.Account) error) error
	// Transfer returns a transfer by id, or ErrNotFound.
	Transfer(ctx context.Context, id string) (ledger.Transfer, error)
	// TransfersByKey returns the transfers with the given idempotency keys,
	// keyed by key; unknown keys are absent.
	TransfersByKey(ctx context.Context, keys []string) (map[string]ledger.Transfer, error)
	// Transfers calls fn for the matching transfers in log order.
	Transfers(ctx context.Context, f TransferFilter, fn func(ledger.Transfer) error) error
	// SampleCompensations returns the per-sample transfers of the given
	// samples, keyed by sample; samples without one are absent.
	SampleCompensations(ctx context.Context, sampleIDs []string) (map[string]SampleCompensation, error)
}

// TransferFilter selects transfers. Empty fields match everything.
type TransferFilter struct {
	// Account matches transfers that debit or credit it.
	Account string
	Trigger string
	Sample  string
	Release string
	Revenue string
	Batch   string
	// Unresolved keeps only pending transfers that no post or void has
	// resolved.
	Unresolved bool
}

// SampleCompensation is a sample's per-sample payment: the pending
// transfer reserved for it and, once decided, the transfer that posted or
// voided it.
type SampleCompensation struct {
	Reserve ledger.Transfer
	// Resolution has an empty ID while the payment is pending.
	Resolution ledger.Transfer
}

// State returns pending, posted or voided.
func (c SampleCompensation) State() string {
	switch c.Resolution.Phase {
	case ledger.PhasePost:
		return ledger.PhasePosted
	case ledger.PhaseVoid:
		return "voided"
	}
	return ledger.PhasePending
}

// LedgerWriter records transfers.
type LedgerWriter interface {
	// InsertTransfers stores transfers, in order, and applies them to their
	// accounts, creating an account on first use.
	//
	// For each account the check that one which may not go negative keeps
	// enough and the update of its balances are a single statement, so that
	// concurrent transactions in any number of processes cannot overdraw
	// it. A batch that would take such an account below zero at any step
	// fails with an error wrapping ledger.ErrInsufficientFunds that names
	// the account.
	//
	// A post or void must name a pending transfer, stored or earlier in the
	// batch, with the same accounts, amount and currency, or the error wraps
	// ErrNotFound. A second resolution of one pending transfer, or a
	// repeated id or idempotency key, wraps ErrConflict. After any error the
	// caller must roll the transaction back.
	InsertTransfers(ctx context.Context, transfers []ledger.Transfer) error
}

// StoredPolicy is a registered version of a compensation policy.
type StoredPolicy struct {
	Policy     ledger.Policy
	Digest     string
	AddedAt    time.Time
	EventIndex uint64
}

// SampleCheck is the outcome of a sample's data checks: passed or
// rejected, as event.SampleChecked records it.
type SampleCheck struct {
	Sample     string
	Outcome    string
	Reason     string
	At         time.Time
	EventIndex uint64
}

// Revenue is licence revenue recorded for a release.
type Revenue struct {
	ID        string
	Release   string
	Reference string
	// Payer is the account that paid, such as licensee:NAME.
	Payer       string
	Amount      int64
	Currency    string
	Policy      string
	RoyaltyPool int64
	At          time.Time
	EventIndex  uint64
}

// CompensationReader reads policies, data checks, the policy of each
// release and recorded revenue.
type CompensationReader interface {
	// Policy returns a version of a policy, or ErrNotFound.
	Policy(ctx context.Context, id string, version int) (StoredPolicy, error)
	// LatestPolicy returns the version added last, of any id, or
	// ErrNotFound when there is none.
	LatestPolicy(ctx context.Context) (StoredPolicy, error)
	// LatestPolicyVersion returns the highest version of a policy id, or 0.
	LatestPolicyVersion(ctx context.Context, id string) (int, error)
	// Policies returns every policy version in the order they were added.
	Policies(ctx context.Context) ([]StoredPolicy, error)
	// SampleChecks returns the latest check of each given sample, keyed by
	// sample; unchecked samples are absent.
	SampleChecks(ctx context.Context, sampleIDs []string) (map[string]SampleCheck, error)
	// AllSampleChecks calls fn with every check in log order.
	AllSampleChecks(ctx context.Context, fn func(SampleCheck) error) error
	// ReleasePolicy returns the policy reference whose terms a release
	// states, or ErrNotFound for a release built without one.
	ReleasePolicy(ctx context.Context, releaseID string) (string, error)
	// Revenue returns recorded revenue by id, or ErrNotFound.
	Revenue(ctx context.Context, id string) (Revenue, error)
	// RevenueByReference returns the revenue recorded for a release under a
	// payment reference, or ErrNotFound.
	RevenueByReference(ctx context.Context, releaseID, reference string) (Revenue, error)
	// Revenues calls fn for every revenue record in log order.
	Revenues(ctx context.Context, fn func(Revenue) error) error
	// ReleaseContributors returns the participants whose samples a release
	// includes, with their number of samples, ordered by pseudonym.
	ReleaseContributors(ctx context.Context, releaseID string) ([]Contributor, error)
}

// Contributor is a participant with samples in a release.
type Contributor struct {
	Participant string
	Samples     int64
}

// CompensationWriter records policies, data checks, release policies and
// revenue.
type CompensationWriter interface {
	// InsertPolicy returns ErrConflict if the id and version exist.
	InsertPolicy(ctx context.Context, p StoredPolicy) error
	InsertSampleCheck(ctx context.Context, c SampleCheck) error
	// InsertReleasePolicy records the policy whose terms a release states.
	InsertReleasePolicy(ctx context.Context, releaseID, policyRef string) error
	// InsertRevenue returns ErrConflict if the id, or the release and
	// reference, exist.
	InsertRevenue(ctx context.Context, r Revenue) error
}

// Payee is a participant's bank details. They are direct identifiers: they
// never enter the log, and erasure deletes them.
type Payee struct {
	Participant string
	Name        string
	IBAN        string
	BIC         string
	// Salt makes the logged digest of the details unguessable.
	Salt       []byte
	UpdatedAt  time.Time
	EventIndex uint64
}

// PayoutBatch is a batch of payments handed to the bank.
type PayoutBatch struct {
	ID            string
	Currency      string
	CreatedAt     time.Time
	ExecutionDate time.Time
	// The registry's own account, which the bank debits.
	DebtorName string
	DebtorIBAN string
	DebtorBIC  string
	Payments   int
	Total      int64
	EventIndex uint64
}

// PayoutPayment is one payment of a batch. EndToEndID is the id of its
// payout transfer. The creditor's details are copied from their payee
// record when the batch is made, so the file can be written again the
// same, until erasure deletes them.
type PayoutPayment struct {
	Batch        string
	EndToEndID   string
	Participant  string
	Amount       int64
	CreditorName string
	CreditorIBAN string
	CreditorBIC  string
	// Return is the transfer that returned a rejected payment, with the
	// bank's reason. Its ID is empty unless the bank rejected the payment.
	Return ledger.Transfer
}

// PayoutReader reads payees and payout batches.
type PayoutReader interface {
	// Payee returns a participant's bank details, or ErrNotFound.
	Payee(ctx context.Context, participant string) (Payee, error)
	// PayeesOf returns the bank details of several participants, keyed by
	// pseudonym; participants without details are absent.
	PayeesOf(ctx context.Context, participants []string) (map[string]Payee, error)
	// PayoutBatch returns a batch, or ErrNotFound.
	PayoutBatch(ctx context.Context, id string) (PayoutBatch, error)
	// PayoutBatches calls fn for every batch, oldest first.
	PayoutBatches(ctx context.Context, fn func(PayoutBatch) error) error
	// PayoutPayments returns a batch's payments ordered by end-to-end id.
	PayoutPayments(ctx context.Context, batchID string) ([]PayoutPayment, error)
}

// PayoutWriter records payees and payout batches.
type PayoutWriter interface {
	// PutPayee stores or replaces a participant's bank details.
	PutPayee(ctx context.Context, p Payee) error
	// DeletePayee deletes a participant's bank details and blanks the
	// copies in their payout payments; ErrNotFound if there were none.
	DeletePayee(ctx context.Context, participant string) error
	// InsertPayoutBatch stores a batch and its payments; ErrConflict if
	// the batch or an end-to-end id exists.
	InsertPayoutBatch(ctx context.Context, b PayoutBatch, payments []PayoutPayment) error
}
