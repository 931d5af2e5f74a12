package event

import "github.com/steward-rehab/steward/internal/ledger"

// Types of the compensation events.
const (
	TypePolicyAdded     = "compensation.policy.added"
	TypeSampleChecked   = "sample.checked"
	TypeTransfer        = "ledger.transfer"
	TypeRevenueRecorded = "ledger.revenue.recorded"
	TypePayoutBatch     = "payout.batch.created"
	TypePayeeUpdated    = "payee.updated"
	TypePayeeErased     = "payee.erased"
)

// PolicyAdded registers a version of a compensation policy. The policy
// holds rates and terms only, no one's identity, so the log keeps all of it.
type PolicyAdded struct {
	Policy ledger.Policy `json:"policy"`
	Digest string        `json:"digest"`
}

// Outcomes of a sample's data checks.
const (
	CheckPassed   = "passed"
	CheckRejected = "rejected"
)

// SampleChecked records the outcome of a sample's data checks. Reason is
// the data steward's short explanation of a rejection.
type SampleChecked struct {
	Sample  string `json:"sample"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
}

// Transfer is the data of a ledger.transfer event: one transfer, as the
// ledger defines it.
type Transfer = ledger.Transfer

// RevenueRecorded records licence revenue for a release and how it was
// split: RoyaltyPool went to the release's contributors by royalty
// transfers, the rest to the platform account.
type RevenueRecorded struct {
	Revenue   string `json:"revenue"`
	Release   string `json:"release"`
	Reference string `json:"reference"`
	Payer     string `json:"payer"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Policy    string `json:"policy"`
	// RoyaltyPPM is the policy's royalty share in parts per million.
	RoyaltyPPM   int64 `json:"royaltyPpm"`
	RoyaltyPool  int64 `json:"royaltyPool"`
	Contributors int   `json:"contributors"`
}

// PayoutBatch records a batch of payout transfers handed to the bank. The
// bank details stay outside the log.
type PayoutBatch struct {
	Batch    string `json:"batch"`
	Currency string `json:"currency"`
	Payments int    `json:"payments"`
	Total    int64  `json:"total"`
}

// PayeeUpdated records that a participant's bank details changed. Digest
// is a salted hash of the details, so the log commits to them without
// holding or revealing them.
type PayeeUpdated struct {
	Participant string `json:"participant"`
	Digest      string `json:"digest"`
}

// PayeeErased records that a participant's bank details were deleted.
type PayeeErased struct {
	Participant string `json:"participant"`
}
