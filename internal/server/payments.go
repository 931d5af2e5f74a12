package server

import (
	"net/http"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

// statementJSON is a participant's statement as the API shows it.
type statementJSON struct {
	Participant string                  `json:"participant"`
	Currencies  []currencyStatementJSON `json:"currencies"`
}

type currencyStatementJSON struct {
	Currency string `json:"currency"`
	// Earned, Pending and PaidOut are in minor units, such as cents.
	Earned     int64               `json:"earned"`
	Pending    int64               `json:"pending"`
	PaidOut    int64               `json:"paidOut"`
	Reconciles bool                `json:"reconciles"`
	Lines      []statementLineJSON `json:"lines"`
	// Account is the participant's ledger account, whose totals the lines
	// add up to.
	Account accountJSON `json:"account"`
}

type statementLineJSON struct {
	Transfer    string     `json:"transfer"`
	Description string     `json:"description"`
	State       string     `json:"state"`
	Amount      int64      `json:"amount"`
	At          time.Time  `json:"at"`
	DecidedAt   *time.Time `json:"decidedAt,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Policy      string     `json:"policy,omitempty"`
	EventIndex  uint64     `json:"eventIndex"`
	// Detail is the whole transfer: a per-sample payment's reserve, else
	// the posted transfer.
	Detail transferJSON `json:"detail"`
}

func toStatementJSON(st *registry.Statement) statementJSON {
	out := statementJSON{Participant: st.Participant, Currencies: []currencyStatementJSON{}}
	for _, cs := range st.Currencies {
		c := currencyStatementJSON{Currency: cs.Currency, Earned: cs.Earned, Pending: cs.Pending, PaidOut: cs.PaidOut,
			Reconciles: cs.Reconciles(), Lines: []statementLineJSON{}, Account: toAccountJSON(cs.Account)}
		for _, l := range cs.Lines {
			line := statementLineJSON{Transfer: l.Transfer.ID, Description: l.Describe(), State: l.State, Amount: l.Amount,
				At: l.Transfer.At, Reason: l.Reason, Policy: l.Transfer.Policy, EventIndex: l.Transfer.EventIndex,
				Detail: toTransferJSON(l.Transfer)}
			if !l.DecidedAt.IsZero() {
				decided := l.DecidedAt
				line.DecidedAt = &decided
			}
			c.Lines = append(c.Lines, line)
		}
		out.Currencies = append(out.Currencies, c)
	}
	return out
}

func (s *Server) statement(w http.ResponseWriter, r *http.Request, p principal) error {
	subject, err := s.participantRef(r, p, r.PathValue("ref"))
	if err != nil {
		return err
	}
	st, err := s.reg.Statement(r.Context(), subject.Pseudonym)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toStatementJSON(st))
	return nil
}

// accountJSON is a ledger account with its totals, in minor units.
type accountJSON struct {
	ID             string `json:"id"`
	Currency       string `json:"currency"`
	MayGoNegative  bool   `json:"mayGoNegative"`
	DebitsPending  int64  `json:"debitsPending"`
	DebitsPosted   int64  `json:"debitsPosted"`
	CreditsPending int64  `json:"creditsPending"`
	CreditsPosted  int64  `json:"creditsPosted"`
	Balance        int64  `json:"balance"`
	Available      int64  `json:"available"`
}

func toAccountJSON(a ledger.Account) accountJSON {
	return accountJSON{ID: a.ID, Currency: a.Currency, MayGoNegative: a.MayGoNegative, DebitsPending: a.DebitsPending, DebitsPosted: a.DebitsPosted,
		CreditsPending: a.CreditsPending, CreditsPosted: a.CreditsPosted, Balance: a.Balance(), Available: a.Available()}
}

func toAccountsJSON(accounts []ledger.Account) []accountJSON {
	out := make([]accountJSON, len(accounts))
	for i, a := range accounts {
		out[i] = toAccountJSON(a)
	}
	return out
}

// ledgerAccounts lists every account of the ledger with its totals, in
// minor units. Participant accounts name pseudonyms only.
func (s *Server) ledgerAccounts(w http.ResponseWriter, r *http.Request, _ principal) error {
	accounts, err := s.reg.Accounts(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": toAccountsJSON(accounts)})
	return nil
}

// paymentRow is one line of the payments page.
type paymentRow struct {
	Date, What, State, Amount string
}

// paymentSection is the payments page's part for one currency.
type paymentSection struct {
	Currency, Earned, Pending, PaidOut string
	Reconciles                         bool
	Rows                               []paymentRow
}

// plainStates names the states of a statement line for participants.
var plainStates = map[string]string{
	registry.StatePending:  "Promised, waiting for checks",
	registry.StatePosted:   "Credited to you",
	registry.StateVoided:   "Cancelled",
	registry.StateReturned: "Returned by the bank",
}

// describePayment describes what a statement line paid for, in plain words.
func describePayment(l registry.StatementLine) string {
	t := l.Transfer
	switch t.Trigger {
	case ledger.TriggerSample:
		return "For your recording " + t.Sample
	case ledger.TriggerUse:
		return "For the use of your recording " + t.Sample + " in release " + t.Release
	case ledger.TriggerRoyalty:
		return "Your share of the money release " + t.Release + " earned"
	case ledger.TriggerPayout:
		return "Paid out to your bank account"
	case ledger.TriggerReturn:
		return "Your bank sent a payout back"
	}
	return "Correction (" + t.Key + ")"
}

func paymentSections(st *registry.Statement) []paymentSection {
	var out []paymentSection
	for _, cs := range st.Currencies {
		sec := paymentSection{
			Currency: cs.Currency, Earned: ledger.FormatAmount(cs.Earned, cs.Currency), Pending: ledger.FormatAmount(cs.Pending, cs.Currency),
			PaidOut: ledger.FormatAmount(cs.PaidOut, cs.Currency), Reconciles: cs.Reconciles(),
		}
		for _, l := range cs.Lines {
			sec.Rows = append(sec.Rows, paymentRow{
				Date: l.Transfer.At.Format("2 January 2006"), What: describePayment(l), State: plainStates[l.State],
				Amount: ledger.FormatAmount(l.Amount, cs.Currency),
			})
		}
		out = append(out, sec)
	}
	return out
}
