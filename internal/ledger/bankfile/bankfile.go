// Package bankfile writes payout batches as files a bank takes, ISO 20022
// pain.001.001.10 credit transfer initiations or CSV, and reads the bank's
// pain.002 payment status reports.
//
// The XML types here cover the part of the pain.001.001.10 schema a payout
// needs, with choice elements as pointers so that exactly one branch is
// written, and amounts written from integer minor units as plain decimals.
package bankfile

import (
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-rehab/steward/internal/ledger"
)

// Batch is one payout batch: one debtor account paying many creditors in
// one currency.
type Batch struct {
	// MessageID identifies the file to the bank: at most 35 characters,
	// unique per debtor. Banks reject a message id they have seen before.
	MessageID string
	CreatedAt time.Time
	// ExecutionDate is the day on which the debtor requests the bank to pay.
	ExecutionDate time.Time
	Currency      string
	Debtor        Party
	Payments      []Payment
}

// Party is an account holder and their account.
type Party struct {
	Name string
	IBAN string
	// BIC is optional: within SEPA the IBAN identifies the bank.
	BIC string
}

// Payment is one credit transfer of a batch.
type Payment struct {
	// EndToEndID travels with the payment to the creditor and comes back in
	// status reports: at most 35 characters, unique within the batch.
	EndToEndID string
	// Participant is the creditor's pseudonym, for the CSV file.
	Participant string
	Creditor    Party
	// Amount is in minor units of the batch currency.
	Amount     int64
	Remittance string
}

// maxText35 is the length limit of ISO 20022 Max35Text identifiers.
const maxText35 = 35

// Check validates what the schema constrains and the bank relies on:
// identifier lengths, unique end-to-end ids, positive amounts, names, and
// the IBANs.
func (b Batch) Check() error {
	if b.MessageID == "" || len(b.MessageID) > maxText35 {
		return fmt.Errorf("message id %q must be 1 to %d characters", b.MessageID, maxText35)
	}
	if _, err := ledger.LookupCurrency(b.Currency); err != nil {
		return err
	}
	if err := checkParty("debtor", b.Debtor); err != nil {
		return err
	}
	if len(b.Payments) == 0 {
		return fmt.Errorf("batch %s has no payments", b.MessageID)
	}
	seen := map[string]bool{}
	for _, p := range b.Payments {
		if p.EndToEndID == "" || len(p.EndToEndID) > maxText35 {
			return fmt.Errorf("end-to-end id %q must be 1 to %d characters", p.EndToEndID, maxText35)
		}
		if seen[p.EndToEndID] {
			return fmt.Errorf("end-to-end id %s appears twice", p.EndToEndID)
		}
		seen[p.EndToEndID] = true
		if p.Amount <= 0 {
			return fmt.Errorf("payment %s: amount %d is not positive", p.EndToEndID, p.Amount)
		}
		if err := checkParty("payment "+p.EndToEndID+" creditor", p.Creditor); err != nil {
			return err
		}
	}
	return nil
}

func checkParty(what string, p Party) error {
	if p.Name == "" || utf8.RuneCountInString(p.Name) > 140 {
		return fmt.Errorf("%s: the name must be 1 to 140 characters", what)
	}
	if _, err := ledger.NormalizeIBAN(p.IBAN); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if p.BIC != "" {
		if _, err := ledger.NormalizeBIC(p.BIC); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// Total returns the sum of the payments.
func (b Batch) Total() int64 {
	var sum int64
	for _, p := range b.Payments {
		sum += p.Amount
	}
	return sum
}

// WriteCSV writes the batch as CSV with a header row, one payment a row,
// amounts as decimals of the currency's major unit. Every cell goes
// through neutralizeCell, because payees choose their names and a
// spreadsheet would run a name such as =HYPERLINK(...) as a formula.
func WriteCSV(w io.Writer, b Batch) error {
	if err := b.Check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	rows := [][]string{{"message_id", "end_to_end_id", "participant", "creditor_name", "creditor_iban", "creditor_bic", "amount", "currency", "remittance", "execution_date"}}
	for _, p := range b.Payments {
		row := []string{b.MessageID, p.EndToEndID, p.Participant, p.Creditor.Name, p.Creditor.IBAN, p.Creditor.BIC,
			ledger.FormatDecimal(p.Amount, b.Currency), b.Currency, p.Remittance, b.ExecutionDate.Format(time.DateOnly)}
		for i := range row {
			row[i] = neutralizeCell(row[i])
		}
		rows = append(rows, row)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// neutralizeCell prefixes a single quote to a cell that starts with a
// character spreadsheets read as the start of a formula (=, +, -, @) or
// skip before reading one (tab, carriage return, NUL). The quote makes the
// cell text, and spreadsheets do not show it. OWASP ASVS 5.0 requirement
// 1.2.10 requires this escaping.
func neutralizeCell(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r\x00", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// Pain001Namespace is the XML namespace of pain.001.001.10 documents.
const Pain001Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.10"

// WritePain001 writes the batch as one pain.001.001.10 document with one
// payment information block. For EUR it requests the SEPA service level,
// whose rules then decide the charges (SLEV).
func WritePain001(w io.Writer, b Batch) error {
	if err := b.Check(); err != nil {
		return err
	}

	// One payment information block holds every payment of the batch.
	count := strconv.Itoa(len(b.Payments))
	total := ledger.FormatDecimal(b.Total(), b.Currency)
	info := paymentInstruction{
		ID: b.MessageID, Method: "TRF", BatchBooking: "false", Count: count, ControlSum: total,
		ExecutionDate: dateChoice{Date: b.ExecutionDate.UTC().Format(time.DateOnly)},
		Debtor:        party{Name: b.Debtor.Name},
		DebtorAccount: account{ID: accountID{IBAN: b.Debtor.IBAN}},
		DebtorAgent:   agentOf(b.Debtor.BIC),
	}
	if b.Currency == "EUR" {
		info.TypeInfo = &paymentType{ServiceLevel: serviceLevel{Code: "SEPA"}}
		info.ChargeBearer = "SLEV"
	}
	for _, p := range b.Payments {
		tx := creditTransfer{
			ID:              paymentID{EndToEnd: p.EndToEndID},
			Amount:          amountChoice{Instructed: amount{Currency: b.Currency, Value: ledger.FormatDecimal(p.Amount, b.Currency)}},
			Creditor:        party{Name: p.Creditor.Name},
			CreditorAccount: account{ID: accountID{IBAN: p.Creditor.IBAN}},
		}
		if p.Creditor.BIC != "" {
			a := agentOf(p.Creditor.BIC)
			tx.CreditorAgent = &a
		}
		if p.Remittance != "" {
			tx.Remittance = &remittance{Unstructured: truncate(p.Remittance, 140)}
		}
		info.Transfers = append(info.Transfers, tx)
	}

	doc := document{
		Initiation: initiation{
			Header: groupHeader{
				MessageID: b.MessageID, Created: b.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
				Count: count, ControlSum: total, InitiatingParty: party{Name: b.Debtor.Name},
			},
			Payments: []paymentInstruction{info},
		},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write pain.001: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// agentOf identifies a bank by its BIC, or with the identifier NOTPROVIDED
// when there is none, as the SEPA rulebook requires.
func agentOf(bic string) agent {
	if bic != "" {
		return agent{Institution: institution{BIC: bic}}
	}
	return agent{Institution: institution{Other: &otherID{ID: "NOTPROVIDED"}}}
}

func truncate(s string, runes int) string {
	if utf8.RuneCountInString(s) <= runes {
		return s
	}
	return string([]rune(s)[:runes])
}

// The elements of pain.001.001.10 that a payout uses, in schema order.
type document struct {
	XMLName    xml.Name   `xml:"urn:iso:std:iso:20022:tech:xsd:pain.001.001.10 Document"`
	Initiation initiation `xml:"CstmrCdtTrfInitn"`
}

type initiation struct {
	Header   groupHeader          `xml:"GrpHdr"`
	Payments []paymentInstruction `xml:"PmtInf"`
}

type groupHeader struct {
	MessageID       string `xml:"MsgId"`
	Created         string `xml:"CreDtTm"`
	Count           string `xml:"NbOfTxs"`
	ControlSum      string `xml:"CtrlSum"`
	InitiatingParty party  `xml:"InitgPty"`
}

type paymentInstruction struct {
	ID            string           `xml:"PmtInfId"`
	Method        string           `xml:"PmtMtd"`
	BatchBooking  string           `xml:"BtchBookg"`
	Count         string           `xml:"NbOfTxs"`
	ControlSum    string           `xml:"CtrlSum"`
	TypeInfo      *paymentType     `xml:"PmtTpInf,omitempty"`
	ExecutionDate dateChoice       `xml:"ReqdExctnDt"`
	Debtor        party            `xml:"Dbtr"`
	DebtorAccount account          `xml:"DbtrAcct"`
	DebtorAgent   agent            `xml:"DbtrAgt"`
	ChargeBearer  string           `xml:"ChrgBr,omitempty"`
	Transfers     []creditTransfer `xml:"CdtTrfTxInf"`
}

type paymentType struct {
	ServiceLevel serviceLevel `xml:"SvcLvl"`
}

type serviceLevel struct {
	Code string `xml:"Cd"`
}

type dateChoice struct {
	Date string `xml:"Dt"`
}

type party struct {
	Name string `xml:"Nm"`
}

type account struct {
	ID accountID `xml:"Id"`
}

type accountID struct {
	IBAN string `xml:"IBAN"`
}

type agent struct {
	Institution institution `xml:"FinInstnId"`
}

type institution struct {
	BIC   string   `xml:"BICFI,omitempty"`
	Other *otherID `xml:"Othr,omitempty"`
}

type otherID struct {
	ID string `xml:"Id"`
}

type creditTransfer struct {
	ID              paymentID    `xml:"PmtId"`
	Amount          amountChoice `xml:"Amt"`
	CreditorAgent   *agent       `xml:"CdtrAgt,omitempty"`
	Creditor        party        `xml:"Cdtr"`
	CreditorAccount account      `xml:"CdtrAcct"`
	Remittance      *remittance  `xml:"RmtInf,omitempty"`
}

type paymentID struct {
	EndToEnd string `xml:"EndToEndId"`
}

type amountChoice struct {
	Instructed amount `xml:"InstdAmt"`
}

type amount struct {
	Currency string `xml:"Ccy,attr"`
	Value    string `xml:",chardata"`
}

type remittance struct {
	Unstructured string `xml:"Ustrd"`
}
