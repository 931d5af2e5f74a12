package server

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/ledger/bankfile"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// The routes of compensation: policies, data checks, the ledger, licence
// revenue, payees and payout batches. Only an admin moves money that
// leaves the registry or passes between organisations' accounts. A
// steward checks samples and keeps the bank details of its own
// organisation's participants.

// policyJSON is a registered policy version.
type policyJSON struct {
	Policy     ledger.Policy `json:"policy"`
	Digest     string        `json:"digest"`
	AddedAt    time.Time     `json:"addedAt"`
	EventIndex uint64        `json:"eventIndex"`
}

func toPolicyJSON(p storage.StoredPolicy) policyJSON {
	return policyJSON{Policy: p.Policy, Digest: p.Digest, AddedAt: p.AddedAt, EventIndex: p.EventIndex}
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, _ principal) error {
	policies, err := s.reg.Policies(r.Context())
	if err != nil {
		return err
	}
	out := make([]policyJSON, 0, len(policies))
	for _, p := range policies {
		out = append(out, toPolicyJSON(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out})
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, _ principal) error {
	p, err := s.reg.PolicyByRef(r.Context(), r.PathValue("ref"))
	if err != nil {
		return inputError(err)
	}
	writeJSON(w, http.StatusOK, toPolicyJSON(p))
	return nil
}

// addPolicy registers a policy sent as YAML or JSON, the file format that
// steward policy add reads. It responds 201 when the version is new and
// 200 when the same policy was registered before.
func (s *Server) addPolicy(w http.ResponseWriter, r *http.Request, _ principal) error {
	raw, err := readBody(w, r, s.cfg.MaxJSONBytes)
	if err != nil {
		return err
	}
	name := "policy.yaml"
	if isJSON(r) {
		name = "policy.json"
	}
	p, err := ledger.ParsePolicy(name, raw)
	if err != nil {
		return badInput(err)
	}
	stored, added, err := s.reg.AddPolicy(r.Context(), p)
	if err != nil {
		return inputError(err)
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
		requestLogger(r.Context(), s.log).Info("policy added", "policy", stored.Policy.Ref(), "event_index", stored.EventIndex)
	}
	writeJSON(w, status, map[string]any{"policy": toPolicyJSON(stored), "added": added})
	return nil
}

// isJSON reports whether a request body is declared as JSON.
func isJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

// CheckRequest is the body of POST /api/v1/samples/checks.
type CheckRequest struct {
	// Samples names samples by id (s-...) or by their collector's id.
	Samples []string `json:"samples"`
	// Outcome is passed or rejected.
	Outcome string `json:"outcome"`
	// Reason explains a rejection. It is logged, so it must describe the
	// recording and never name anyone.
	Reason string `json:"reason,omitempty"`
}

// checkJSON is the outcome of one sample's check.
type checkJSON struct {
	Sample   string `json:"sample"`
	Outcome  string `json:"outcome"`
	Changed  bool   `json:"changed"`
	Payment  string `json:"payment,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// checkSamples records the outcome of samples' data checks. A steward
// checks only the samples of its organisation's participants.
func (s *Server) checkSamples(w http.ResponseWriter, r *http.Request, p principal) error {
	var req CheckRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	namespace := ""
	if p.is(registry.RoleSteward) {
		namespace = p.token.Org
	}
	results, err := s.reg.CheckSamplesIn(r.Context(), namespace, req.Samples, req.Outcome, req.Reason)
	if err != nil {
		return inputError(err)
	}
	out := make([]checkJSON, 0, len(results))
	for _, c := range results {
		out = append(out, checkJSON{Sample: c.Sample, Outcome: c.Outcome, Changed: c.Changed, Payment: c.Payment, Amount: c.Amount, Currency: c.Currency})
	}
	writeJSON(w, http.StatusOK, map[string]any{"checks": out})
	return nil
}

// transferJSON is a ledger transfer with when and where it was logged.
type transferJSON struct {
	ledger.Transfer
	At         time.Time `json:"at"`
	EventIndex uint64    `json:"eventIndex"`
}

func toTransferJSON(t ledger.Transfer) transferJSON {
	return transferJSON{Transfer: t, At: t.At, EventIndex: t.EventIndex}
}

func toTransfersJSON(transfers []ledger.Transfer) []transferJSON {
	out := make([]transferJSON, len(transfers))
	for i, t := range transfers {
		out[i] = toTransferJSON(t)
	}
	return out
}

// ledgerError sends the ledger's conflicts with 409: a key used before for
// another request, and an account that cannot cover a transfer.
func ledgerError(err error) error {
	if errors.Is(err, ledger.ErrKeyConflict) || errors.Is(err, ledger.ErrInsufficientFunds) {
		return &httpError{status: http.StatusConflict, msg: err.Error(), err: err}
	}
	return inputError(err)
}

// TransferRequest is the body of POST /api/v1/ledger/transfers.
type TransferRequest struct {
	// From and To name accounts as kind or kind:name, such as clinic or
	// participant:GaPt03.
	From string `json:"from"`
	To   string `json:"to"`
	// Amount is in whole minor units of Currency.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Key makes the request idempotent.
	Key string `json:"key"`
}

// postTransfer posts an operator's transfer. It responds 201 for a new
// transfer and 200 when the key posted the same transfer before.
func (s *Server) postTransfer(w http.ResponseWriter, r *http.Request, p principal) error {
	var req TransferRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	t, repeated, err := s.reg.Transfer(r.Context(), registry.TransferRequest{Debit: req.From, Credit: req.To, Amount: req.Amount, Currency: req.Currency, Key: req.Key})
	if err != nil {
		return ledgerError(err)
	}
	status := http.StatusCreated
	if repeated {
		status = http.StatusOK
	} else {
		requestLogger(r.Context(), s.log).Info("transfer posted", "transfer", t.ID, "by", p.token.ID, "event_index", t.EventIndex)
	}
	writeJSON(w, status, map[string]any{"transfer": toTransferJSON(t), "repeated": repeated})
	return nil
}

func (s *Server) settlePending(w http.ResponseWriter, r *http.Request, _ principal) error {
	n, err := s.reg.SettlePending(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"decided": n})
	return nil
}

// verifyLedger replays the ledger. A ledger that fails verification is
// still a 200: the report lists the problems.
func (s *Server) verifyLedger(w http.ResponseWriter, r *http.Request, _ principal) error {
	rep, err := s.reg.VerifyLedger(r.Context())
	var failed *registry.LedgerVerificationError
	if err != nil && !errors.As(err, &failed) {
		return err
	}
	if failed != nil {
		rep = failed.Report
	}
	problems := rep.Problems
	if problems == nil {
		problems = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"verified": len(problems) == 0, "transfers": rep.Transfers, "accounts": rep.Accounts,
		"revenues": rep.Revenues, "batches": rep.Batches, "totals": rep.Totals, "problems": problems,
	})
	return nil
}

// RevenueRequest is the body of POST /api/v1/revenue.
type RevenueRequest struct {
	Release string `json:"release"`
	// Amount is in whole minor units of the currency of the release's
	// policy.
	Amount int64 `json:"amount"`
	// Reference is the payment's reference, such as the invoice number;
	// the same release and reference record revenue once.
	Reference string `json:"reference"`
	// Payer is the licensee who paid; empty means the release's licensee.
	Payer string `json:"payer,omitempty"`
}

// revenueJSON is recorded licence revenue.
type revenueJSON struct {
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
}

// recordRevenue records licence revenue and splits the royalty. It
// responds 201 for new revenue and 200 when the reference recorded it
// before.
func (s *Server) recordRevenue(w http.ResponseWriter, r *http.Request, p principal) error {
	var req RevenueRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	res, err := s.reg.RecordRevenue(r.Context(), registry.RevenueRequest{Release: req.Release, Amount: req.Amount, Reference: req.Reference, Payer: req.Payer})
	if err != nil {
		return ledgerError(err)
	}
	v := res.Revenue
	out := map[string]any{
		"revenue": revenueJSON{ID: v.ID, Release: v.Release, Reference: v.Reference, Payer: v.Payer, Amount: v.Amount, Currency: v.Currency,
			Policy: v.Policy, RoyaltyPool: v.RoyaltyPool, At: v.At, EventIndex: v.EventIndex},
		"royalties": toTransfersJSON(res.Royalties), "platform": toTransferJSON(res.Platform), "repeated": res.Repeated,
		"unclaimed": toTransfersJSON(res.Unclaimed),
	}
	status := http.StatusCreated
	if res.Repeated {
		status = http.StatusOK
	} else {
		requestLogger(r.Context(), s.log).Info("revenue recorded", "revenue", v.ID, "release", v.Release, "by", p.token.ID, "event_index", v.EventIndex)
	}
	writeJSON(w, status, out)
	return nil
}

// PayeeRequest is the body of PUT /api/v1/participants/{ref}/payee.
type PayeeRequest struct {
	Name string `json:"name"`
	IBAN string `json:"iban"`
	BIC  string `json:"bic,omitempty"`
}

// payeeJSON is a participant's bank details; the IBAN is masked unless the
// caller asked for it whole.
type payeeJSON struct {
	Participant string    `json:"participant"`
	Name        string    `json:"name"`
	IBAN        string    `json:"iban"`
	BIC         string    `json:"bic,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
	EventIndex  uint64    `json:"eventIndex"`
}

func toPayeeJSON(p storage.Payee, full bool) payeeJSON {
	iban := ledger.MaskIBAN(p.IBAN)
	if full {
		iban = p.IBAN
	}
	return payeeJSON{Participant: p.Participant, Name: p.Name, IBAN: iban, BIC: p.BIC, UpdatedAt: p.UpdatedAt, EventIndex: p.EventIndex}
}

func (s *Server) setPayee(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	var req PayeeRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	payee, err := s.reg.SetPayee(r.Context(), subject.Pseudonym, registry.PayeeInput{Name: req.Name, IBAN: req.IBAN, BIC: req.BIC})
	if err != nil {
		return inputError(err)
	}
	requestLogger(r.Context(), s.log).Info("payee set", "participant", subject.Pseudonym, "by", p.token.ID, "event_index", payee.EventIndex)
	writeJSON(w, http.StatusOK, toPayeeJSON(payee, false))
	return nil
}

func (s *Server) getPayee(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	payee, err := s.reg.Payee(r.Context(), subject.Pseudonym)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toPayeeJSON(payee, r.URL.Query().Get("full") == "true"))
	return nil
}

func (s *Server) erasePayee(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	pseudonym, err := s.reg.ErasePayee(r.Context(), subject.Pseudonym)
	if err != nil {
		return err
	}
	requestLogger(r.Context(), s.log).Info("payee erased", "participant", pseudonym, "by", p.token.ID)
	writeJSON(w, http.StatusOK, map[string]string{"participant": pseudonym})
	return nil
}

// PayoutRequest is the body of POST /api/v1/payouts.
type PayoutRequest struct {
	// Currency selects the balances to pay; empty means the only currency
	// with balances due.
	Currency string `json:"currency,omitempty"`
	// Debtor is the registry's own bank account, which the bank debits.
	Debtor PayeeRequest `json:"debtor"`
	// ExecutionDate is the day the bank is to pay, YYYY-MM-DD; empty means
	// today.
	ExecutionDate string `json:"executionDate,omitempty"`
}

// batchJSON is a payout batch without bank details.
type batchJSON struct {
	ID            string    `json:"id"`
	Currency      string    `json:"currency"`
	CreatedAt     time.Time `json:"createdAt"`
	ExecutionDate string    `json:"executionDate"`
	Payments      int       `json:"payments"`
	Total         int64     `json:"total"`
	EventIndex    uint64    `json:"eventIndex"`
}

func toBatchJSON(b storage.PayoutBatch) batchJSON {
	return batchJSON{ID: b.ID, Currency: b.Currency, CreatedAt: b.CreatedAt, ExecutionDate: b.ExecutionDate.Format(time.DateOnly),
		Payments: b.Payments, Total: b.Total, EventIndex: b.EventIndex}
}

// paymentJSON is one payment of a batch, without the creditor's bank
// details, and the transfer that returned it if the bank rejected it.
type paymentJSON struct {
	EndToEndID  string        `json:"endToEndId"`
	Participant string        `json:"participant"`
	Amount      int64         `json:"amount"`
	Return      *transferJSON `json:"return,omitempty"`
}

func toPaymentJSON(p storage.PayoutPayment) paymentJSON {
	out := paymentJSON{EndToEndID: p.EndToEndID, Participant: p.Participant, Amount: p.Amount}
	if p.Return.ID != "" {
		ret := toTransferJSON(p.Return)
		out.Return = &ret
	}
	return out
}

func toPaymentsJSON(payments []storage.PayoutPayment) []paymentJSON {
	out := make([]paymentJSON, len(payments))
	for i, p := range payments {
		out[i] = toPaymentJSON(p)
	}
	return out
}

// createPayout makes a payout batch of every balance due. It responds 201
// with the batch, or 200 without one when nothing was due; both list the
// participants skipped.
func (s *Server) createPayout(w http.ResponseWriter, r *http.Request, p principal) error {
	var req PayoutRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	spec := registry.PayoutSpec{Currency: req.Currency, Debtor: bankfile.Party{Name: req.Debtor.Name, IBAN: req.Debtor.IBAN, BIC: req.Debtor.BIC}}
	if req.ExecutionDate != "" {
		day, err := time.Parse(time.DateOnly, req.ExecutionDate)
		if err != nil {
			return newError(http.StatusBadRequest, "invalid executionDate %q: give a day as YYYY-MM-DD", req.ExecutionDate)
		}
		spec.ExecutionDate = day
	}
	res, err := s.reg.CreatePayoutBatch(r.Context(), spec)
	if err != nil {
		return ledgerError(err)
	}
	out := map[string]any{"payments": toPaymentsJSON(res.Payments), "skipped": toAccountsJSON(res.Skipped), "unclaimed": toTransfersJSON(res.Unclaimed)}
	status := http.StatusOK
	if res.Batch.ID != "" {
		status = http.StatusCreated
		out["batch"] = toBatchJSON(res.Batch)
		requestLogger(r.Context(), s.log).Info("payout batch created", "batch", res.Batch.ID, "by", p.token.ID, "event_index", res.Batch.EventIndex)
	}
	writeJSON(w, status, out)
	return nil
}

func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request, _ principal) error {
	batches, payments, err := s.reg.Batches(r.Context())
	if err != nil {
		return err
	}
	type batchWithPayments struct {
		Batch    batchJSON     `json:"batch"`
		Payments []paymentJSON `json:"payments"`
	}
	out := make([]batchWithPayments, 0, len(batches))
	for _, b := range batches {
		out = append(out, batchWithPayments{Batch: toBatchJSON(b), Payments: toPaymentsJSON(payments[b.ID])})
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": out})
	return nil
}

// payoutFile sends a batch's bank file, pain.001 (the default) or csv. It
// contains bank details, so only an admin may read it.
func (s *Server) payoutFile(w http.ResponseWriter, r *http.Request, _ principal) error {
	format := r.URL.Query().Get("format")
	write := map[string]func(*bytes.Buffer, bankfile.Batch) error{
		"":         func(b *bytes.Buffer, batch bankfile.Batch) error { return bankfile.WritePain001(b, batch) },
		"pain.001": func(b *bytes.Buffer, batch bankfile.Batch) error { return bankfile.WritePain001(b, batch) },
		"csv":      func(b *bytes.Buffer, batch bankfile.Batch) error { return bankfile.WriteCSV(b, batch) },
	}[format]
	if write == nil {
		return newError(http.StatusBadRequest, "invalid format %q: use pain.001 or csv", format)
	}
	batch, err := s.reg.PayoutFile(r.Context(), r.PathValue("id"))
	if err != nil {
		return inputError(err)
	}
	var buf bytes.Buffer
	if err := write(&buf, batch); err != nil {
		return inputError(err)
	}
	contentType := "application/xml"
	if format == "csv" {
		contentType = "text/csv; charset=utf-8"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
}

// RejectionRequest is the body of POST /api/v1/payouts/{id}/rejections.
type RejectionRequest struct {
	// Payments are the rejected payments, by end-to-end id with the bank's
	// reason code each.
	Payments []RejectedPaymentJSON `json:"payments,omitempty"`
	// All rejects every payment of the batch with Reason.
	All    bool   `json:"all,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// RejectedPaymentJSON is one payment the bank rejected.
type RejectedPaymentJSON struct {
	EndToEndID string `json:"endToEndId"`
	Reason     string `json:"reason,omitempty"`
}

// rejectPayments returns the payments the bank rejected to the
// participants' balances.
func (s *Server) rejectPayments(w http.ResponseWriter, r *http.Request, p principal) error {
	var req RejectionRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	id := r.PathValue("id")

	var results []registry.ReturnResult
	var err error
	switch {
	case req.All && len(req.Payments) > 0:
		return newError(http.StatusBadRequest, "all rejects every payment of the batch: leave out payments, or set all to false")
	case req.All:
		results, err = s.reg.RejectBatch(r.Context(), id, req.Reason)
	default:
		rejected := make([]registry.RejectedPayment, len(req.Payments))
		for i, rp := range req.Payments {
			rejected[i] = registry.RejectedPayment{EndToEndID: rp.EndToEndID, Reason: rp.Reason}
		}
		results, err = s.reg.RejectPayments(r.Context(), id, rejected)
	}
	if err != nil {
		return inputError(err)
	}

	type returnJSON struct {
		Payment  paymentJSON  `json:"payment"`
		Return   transferJSON `json:"return"`
		Repeated bool         `json:"repeated"`
	}
	out := make([]returnJSON, 0, len(results))
	for _, res := range results {
		out = append(out, returnJSON{Payment: toPaymentJSON(res.Payment), Return: toTransferJSON(res.Return), Repeated: res.Repeated})
	}
	requestLogger(r.Context(), s.log).Info("payments rejected", "batch", id, "payments", len(results), "by", p.token.ID)
	writeJSON(w, http.StatusOK, map[string]any{"returns": out})
	return nil
}
