package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// The calls of this file return the registry's own types, so the command
// line prints a server's results with the code that prints local ones.

// transfer is a ledger transfer as the server sends it.
type transfer struct {
	ledger.Transfer
	At         time.Time `json:"at"`
	EventIndex uint64    `json:"eventIndex"`
}

func (t transfer) ledger() ledger.Transfer {
	out := t.Transfer
	out.At, out.EventIndex = t.At, t.EventIndex
	return out
}

func transfers(in []transfer) []ledger.Transfer {
	var out []ledger.Transfer
	for _, t := range in {
		out = append(out, t.ledger())
	}
	return out
}

// account is a ledger account as the server sends it.
type account struct {
	ID             string `json:"id"`
	Currency       string `json:"currency"`
	MayGoNegative  bool   `json:"mayGoNegative"`
	DebitsPending  int64  `json:"debitsPending"`
	DebitsPosted   int64  `json:"debitsPosted"`
	CreditsPending int64  `json:"creditsPending"`
	CreditsPosted  int64  `json:"creditsPosted"`
}

func (a account) ledger() ledger.Account {
	return ledger.Account{ID: a.ID, Currency: a.Currency, MayGoNegative: a.MayGoNegative, DebitsPending: a.DebitsPending,
		DebitsPosted: a.DebitsPosted, CreditsPending: a.CreditsPending, CreditsPosted: a.CreditsPosted}
}

func accounts(in []account) []ledger.Account {
	out := make([]ledger.Account, len(in))
	for i, a := range in {
		out[i] = a.ledger()
	}
	return out
}

// Accounts lists every ledger account with its totals.
func (c *Client) Accounts(ctx context.Context) ([]ledger.Account, error) {
	var out struct {
		Accounts []account `json:"accounts"`
	}
	if err := c.call(ctx, "GET", "/api/v1/ledger/accounts", nil, &out); err != nil {
		return nil, err
	}
	return accounts(out.Accounts), nil
}

// VerifyLedger has the server replay its ledger. A ledger that fails
// verification returns *registry.LedgerVerificationError, as a local
// registry does.
func (c *Client) VerifyLedger(ctx context.Context) (*registry.LedgerReport, error) {
	var out struct {
		Verified  bool             `json:"verified"`
		Transfers int              `json:"transfers"`
		Accounts  int              `json:"accounts"`
		Revenues  int              `json:"revenues"`
		Batches   int              `json:"batches"`
		Totals    map[string]int64 `json:"totals"`
		Problems  []string         `json:"problems"`
	}
	if err := c.call(ctx, "POST", "/api/v1/ledger/verification", nil, &out); err != nil {
		return nil, err
	}
	rep := &registry.LedgerReport{Transfers: out.Transfers, Accounts: out.Accounts, Revenues: out.Revenues, Batches: out.Batches,
		Totals: out.Totals, Problems: out.Problems}
	if !out.Verified {
		return rep, &registry.LedgerVerificationError{Report: rep}
	}
	return rep, nil
}

// Transfer posts an operator's transfer. It returns the transfer and
// whether the key had posted it before.
func (c *Client) Transfer(ctx context.Context, req registry.TransferRequest) (ledger.Transfer, bool, error) {
	in := map[string]any{"from": req.Debit, "to": req.Credit, "amount": req.Amount, "currency": req.Currency, "key": req.Key}
	var out struct {
		Transfer transfer `json:"transfer"`
		Repeated bool     `json:"repeated"`
	}
	if err := c.call(ctx, "POST", "/api/v1/ledger/transfers", in, &out); err != nil {
		return ledger.Transfer{}, false, err
	}
	return out.Transfer.ledger(), out.Repeated, nil
}

// SettlePending decides the pending per-sample payments that time alone
// has decided, and returns how many.
func (c *Client) SettlePending(ctx context.Context) (int, error) {
	var out struct {
		Decided int `json:"decided"`
	}
	return out.Decided, c.call(ctx, "POST", "/api/v1/ledger/settlement", nil, &out)
}

// RecordRevenue records licence revenue for a release and splits it.
func (c *Client) RecordRevenue(ctx context.Context, req registry.RevenueRequest) (*registry.RevenueResult, error) {
	in := map[string]any{"release": req.Release, "amount": req.Amount, "reference": req.Reference, "payer": req.Payer}
	var out struct {
		Revenue struct {
			ID          string    `json:"id"`
			Release     string    `json:"release"`
			Reference   string    `json:"reference"`
			Payer       string    `json:"payer"`
			Amount      int64     `json:"amount"`
			Currency    string    `json:"currency"`
			Policy      string    `json:"policy"`
			RoyaltyPool int64     `json:"royaltyPool"`
			At          time.Time `json:"at"`
			EventIndex  uint64    `json:"eventIndex"`
		} `json:"revenue"`
		Royalties []transfer `json:"royalties"`
		Platform  transfer   `json:"platform"`
		Repeated  bool       `json:"repeated"`
		Unclaimed []transfer `json:"unclaimed"`
	}
	if err := c.call(ctx, "POST", "/api/v1/revenue", in, &out); err != nil {
		return nil, err
	}
	v := out.Revenue
	res := &registry.RevenueResult{
		Revenue: storage.Revenue{ID: v.ID, Release: v.Release, Reference: v.Reference, Payer: v.Payer, Amount: v.Amount, Currency: v.Currency,
			Policy: v.Policy, RoyaltyPool: v.RoyaltyPool, At: v.At, EventIndex: v.EventIndex},
		Platform: out.Platform.ledger(), Repeated: out.Repeated,
	}
	for _, t := range out.Royalties {
		res.Royalties = append(res.Royalties, t.ledger())
	}
	res.Unclaimed = transfers(out.Unclaimed)
	return res, nil
}

// policy is a registered policy version as the server sends it.
type policy struct {
	Policy     ledger.Policy `json:"policy"`
	Digest     string        `json:"digest"`
	AddedAt    time.Time     `json:"addedAt"`
	EventIndex uint64        `json:"eventIndex"`
}

func (p policy) stored() storage.StoredPolicy {
	return storage.StoredPolicy{Policy: p.Policy, Digest: p.Digest, AddedAt: p.AddedAt, EventIndex: p.EventIndex}
}

// AddPolicy registers a policy from its YAML or JSON file. It returns the
// stored version and whether it is new.
func (c *Client) AddPolicy(ctx context.Context, raw []byte, isJSON bool) (storage.StoredPolicy, bool, error) {
	contentType := "application/yaml"
	if isJSON {
		contentType = "application/json"
	}
	resp, err := c.request(ctx, "POST", "/api/v1/policies", bytes.NewReader(raw), contentType, nil)
	if err != nil {
		return storage.StoredPolicy{}, false, err
	}
	defer resp.Body.Close()
	var out struct {
		Policy policy `json:"policy"`
		Added  bool   `json:"added"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return storage.StoredPolicy{}, false, fmt.Errorf("decode the registered policy: %w", err)
	}
	return out.Policy.stored(), out.Added, nil
}

// Policies lists the registered policy versions, the one in force last.
func (c *Client) Policies(ctx context.Context) ([]storage.StoredPolicy, error) {
	var out struct {
		Policies []policy `json:"policies"`
	}
	if err := c.call(ctx, "GET", "/api/v1/policies", nil, &out); err != nil {
		return nil, err
	}
	policies := make([]storage.StoredPolicy, len(out.Policies))
	for i, p := range out.Policies {
		policies[i] = p.stored()
	}
	return policies, nil
}

// PolicyByRef returns a policy version by id@version, or an id's newest.
func (c *Client) PolicyByRef(ctx context.Context, ref string) (storage.StoredPolicy, error) {
	var out policy
	if err := c.call(ctx, "GET", "/api/v1/policies/"+url.PathEscape(ref), nil, &out); err != nil {
		return storage.StoredPolicy{}, err
	}
	return out.stored(), nil
}

// CheckSamples records the outcome of samples' data checks.
func (c *Client) CheckSamples(ctx context.Context, refs []string, outcome, reason string) ([]registry.CheckResult, error) {
	in := map[string]any{"samples": refs, "outcome": outcome, "reason": reason}
	var out struct {
		Checks []struct {
			Sample   string `json:"sample"`
			Outcome  string `json:"outcome"`
			Changed  bool   `json:"changed"`
			Payment  string `json:"payment"`
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		} `json:"checks"`
	}
	if err := c.call(ctx, "POST", "/api/v1/samples/checks", in, &out); err != nil {
		return nil, err
	}
	results := make([]registry.CheckResult, len(out.Checks))
	for i, ch := range out.Checks {
		results[i] = registry.CheckResult{Sample: ch.Sample, Outcome: ch.Outcome, Changed: ch.Changed, Payment: ch.Payment, Amount: ch.Amount, Currency: ch.Currency}
	}
	return results, nil
}

// payee is a participant's bank details as the server sends them.
type payee struct {
	Participant string    `json:"participant"`
	Name        string    `json:"name"`
	IBAN        string    `json:"iban"`
	BIC         string    `json:"bic"`
	UpdatedAt   time.Time `json:"updatedAt"`
	EventIndex  uint64    `json:"eventIndex"`
}

func (p payee) stored() storage.Payee {
	return storage.Payee{Participant: p.Participant, Name: p.Name, IBAN: p.IBAN, BIC: p.BIC, UpdatedAt: p.UpdatedAt, EventIndex: p.EventIndex}
}

// SetPayee stores a participant's bank details. The IBAN of the result is
// masked.
func (c *Client) SetPayee(ctx context.Context, ref string, in registry.PayeeInput) (storage.Payee, error) {
	body := map[string]string{"name": in.Name, "iban": in.IBAN, "bic": in.BIC}
	var out payee
	if err := c.call(ctx, "PUT", participantPath(ref, "/payee"), body, &out); err != nil {
		return storage.Payee{}, err
	}
	return out.stored(), nil
}

// Payee returns a participant's bank details, the IBAN whole only when
// full is set.
func (c *Client) Payee(ctx context.Context, ref string, full bool) (storage.Payee, error) {
	path := participantPath(ref, "/payee")
	if full {
		path += "?full=true"
	}
	var out payee
	if err := c.call(ctx, "GET", path, nil, &out); err != nil {
		return storage.Payee{}, err
	}
	return out.stored(), nil
}

// ErasePayee deletes a participant's bank details and returns their
// pseudonym.
func (c *Client) ErasePayee(ctx context.Context, ref string) (string, error) {
	var out struct {
		Participant string `json:"participant"`
	}
	return out.Participant, c.call(ctx, "DELETE", participantPath(ref, "/payee"), nil, &out)
}

// batch is a payout batch as the server sends it, without bank details.
type batch struct {
	ID            string    `json:"id"`
	Currency      string    `json:"currency"`
	CreatedAt     time.Time `json:"createdAt"`
	ExecutionDate string    `json:"executionDate"`
	Payments      int       `json:"payments"`
	Total         int64     `json:"total"`
	EventIndex    uint64    `json:"eventIndex"`
}

func (b batch) stored() storage.PayoutBatch {
	day, _ := time.Parse(time.DateOnly, b.ExecutionDate)
	return storage.PayoutBatch{ID: b.ID, Currency: b.Currency, CreatedAt: b.CreatedAt, ExecutionDate: day, Payments: b.Payments,
		Total: b.Total, EventIndex: b.EventIndex}
}

// payment is one payment of a batch as the server sends it.
type payment struct {
	EndToEndID  string    `json:"endToEndId"`
	Participant string    `json:"participant"`
	Amount      int64     `json:"amount"`
	Return      *transfer `json:"return"`
}

func (p payment) stored(batchID string) storage.PayoutPayment {
	out := storage.PayoutPayment{Batch: batchID, EndToEndID: p.EndToEndID, Participant: p.Participant, Amount: p.Amount}
	if p.Return != nil {
		out.Return = p.Return.ledger()
	}
	return out
}

// CreatePayoutBatch makes a payout batch of every balance due. The
// payments of the result carry no bank details.
func (c *Client) CreatePayoutBatch(ctx context.Context, spec registry.PayoutSpec) (*registry.PayoutResult, error) {
	in := map[string]any{
		"currency": spec.Currency,
		"debtor":   map[string]string{"name": spec.Debtor.Name, "iban": spec.Debtor.IBAN, "bic": spec.Debtor.BIC},
	}
	if !spec.ExecutionDate.IsZero() {
		in["executionDate"] = spec.ExecutionDate.Format(time.DateOnly)
	}
	var out struct {
		Batch     *batch     `json:"batch"`
		Payments  []payment  `json:"payments"`
		Skipped   []account  `json:"skipped"`
		Unclaimed []transfer `json:"unclaimed"`
	}
	if err := c.call(ctx, "POST", "/api/v1/payouts", in, &out); err != nil {
		return nil, err
	}
	res := &registry.PayoutResult{Skipped: accounts(out.Skipped), Unclaimed: transfers(out.Unclaimed)}
	if out.Batch != nil {
		res.Batch = out.Batch.stored()
	}
	for _, p := range out.Payments {
		res.Payments = append(res.Payments, p.stored(res.Batch.ID))
	}
	return res, nil
}

// Batches returns every payout batch with its payments, oldest first,
// without bank details.
func (c *Client) Batches(ctx context.Context) ([]storage.PayoutBatch, map[string][]storage.PayoutPayment, error) {
	var out struct {
		Batches []struct {
			Batch    batch     `json:"batch"`
			Payments []payment `json:"payments"`
		} `json:"batches"`
	}
	if err := c.call(ctx, "GET", "/api/v1/payouts", nil, &out); err != nil {
		return nil, nil, err
	}
	batches := make([]storage.PayoutBatch, len(out.Batches))
	payments := map[string][]storage.PayoutPayment{}
	for i, b := range out.Batches {
		batches[i] = b.Batch.stored()
		for _, p := range b.Payments {
			payments[b.Batch.ID] = append(payments[b.Batch.ID], p.stored(b.Batch.ID))
		}
	}
	return batches, payments, nil
}

// PayoutFile returns the bytes of a batch's bank file in format pain.001
// or csv.
func (c *Client) PayoutFile(ctx context.Context, batchID, format string) ([]byte, error) {
	resp, err := c.request(ctx, "GET", "/api/v1/payouts/"+url.PathEscape(batchID)+"/file?format="+url.QueryEscape(format), nil, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// RejectPayments returns rejected payments of a batch to the participants'
// balances; with all, every payment of the batch with reason.
func (c *Client) RejectPayments(ctx context.Context, batchID string, rejected []registry.RejectedPayment, all bool, reason string) ([]registry.ReturnResult, error) {
	type rejectedPayment struct {
		EndToEndID string `json:"endToEndId"`
		Reason     string `json:"reason,omitempty"`
	}
	in := struct {
		Payments []rejectedPayment `json:"payments,omitempty"`
		All      bool              `json:"all,omitempty"`
		Reason   string            `json:"reason,omitempty"`
	}{All: all, Reason: reason}
	for _, r := range rejected {
		in.Payments = append(in.Payments, rejectedPayment{EndToEndID: r.EndToEndID, Reason: r.Reason})
	}
	var out struct {
		Returns []struct {
			Payment  payment  `json:"payment"`
			Return   transfer `json:"return"`
			Repeated bool     `json:"repeated"`
		} `json:"returns"`
	}
	if err := c.call(ctx, "POST", "/api/v1/payouts/"+url.PathEscape(batchID)+"/rejections", in, &out); err != nil {
		return nil, err
	}
	results := make([]registry.ReturnResult, len(out.Returns))
	for i, r := range out.Returns {
		results[i] = registry.ReturnResult{Payment: r.Payment.stored(batchID), Return: r.Return.ledger(), Repeated: r.Repeated}
	}
	return results, nil
}

// Statement returns a participant's statement of payments.
func (c *Client) Statement(ctx context.Context, ref string) (*registry.Statement, error) {
	var out struct {
		Participant string `json:"participant"`
		Currencies  []struct {
			Currency string  `json:"currency"`
			Earned   int64   `json:"earned"`
			Pending  int64   `json:"pending"`
			PaidOut  int64   `json:"paidOut"`
			Account  account `json:"account"`
			Lines    []struct {
				State     string     `json:"state"`
				Amount    int64      `json:"amount"`
				DecidedAt *time.Time `json:"decidedAt"`
				Reason    string     `json:"reason"`
				Detail    transfer   `json:"detail"`
			} `json:"lines"`
		} `json:"currencies"`
	}
	if err := c.call(ctx, "GET", participantPath(ref, "/statement"), nil, &out); err != nil {
		return nil, err
	}
	st := &registry.Statement{Participant: out.Participant}
	for _, cs := range out.Currencies {
		converted := registry.CurrencyStatement{Currency: cs.Currency, Account: cs.Account.ledger(), Earned: cs.Earned, Pending: cs.Pending, PaidOut: cs.PaidOut}
		for _, l := range cs.Lines {
			line := registry.StatementLine{Transfer: l.Detail.ledger(), State: l.State, Amount: l.Amount, Reason: l.Reason}
			if l.DecidedAt != nil {
				line.DecidedAt = *l.DecidedAt
			}
			converted.Lines = append(converted.Lines, line)
		}
		st.Currencies = append(st.Currencies, converted)
	}
	return st, nil
}
