package bankfile

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moov-io/iso20022/pkg/pain_v10"
)

// testBatch pays three creditors, one with a BIC and one amount of a
// million euros, whose decimal form a float formatter would write as 1e+06.
func testBatch() Batch {
	at := time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)
	return Batch{
		MessageID: "b-4k2m9q7x3w8za", CreatedAt: at, ExecutionDate: at, Currency: "EUR",
		Debtor: Party{Name: "Steward Rehab Clinic", IBAN: "DE89370400440532013000"},
		Payments: []Payment{
			{EndToEndID: "t-aaaaaaaaaaaaa", Participant: "p-1", Creditor: Party{Name: "Ada Lovelace", IBAN: "GB29NWBK60161331926819", BIC: "NWBKGB2L"}, Amount: 1250, Remittance: "Steward compensation b-4k2m9q7x3w8za"},
			{EndToEndID: "t-bbbbbbbbbbbbb", Participant: "p-2", Creditor: Party{Name: "Émile Zoë", IBAN: "FR1420041010050500013M02606"}, Amount: 100_000_000},
			{EndToEndID: "t-ccccccccccccc", Participant: "p-3", Creditor: Party{Name: "Kari Nordmann", IBAN: "NO9386011117947"}, Amount: 5},
		},
	}
}

// schemaFile returns the official pain.001.001.10 XSD that the module
// github.com/moov-io/iso20022 v0.2.1 ships, from the module cache.
func schemaFile(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moov-io/iso20022").Output()
	if err != nil {
		t.Fatalf("find module github.com/moov-io/iso20022: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "docs", "specifications", "payments_initiation_11", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("schema %s: %v", name, err)
	}
	return path
}

// validateXML runs xmllint --schema, or skips when xmllint is absent.
func validateXML(t *testing.T, schema string, doc []byte) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint is not installed: install the Debian package libxml2-utils to validate against the ISO 20022 schema")
	}
	path := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", schema, path).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint rejects the document: %v\n%s\n%s", err, out, doc)
	}
}

func TestPain001ValidatesAgainstSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePain001(&buf, testBatch()); err != nil {
		t.Fatal(err)
	}
	validateXML(t, schemaFile(t, "pain.001.001.10_1.xsd"), buf.Bytes())
}

func TestPain001WithoutSEPA(t *testing.T) {
	b := testBatch()
	b.Currency = "GBP"
	var buf bytes.Buffer
	if err := WritePain001(&buf, b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("SEPA")) {
		t.Error("a GBP batch asks for the SEPA service level")
	}
	validateXML(t, schemaFile(t, "pain.001.001.10_1.xsd"), buf.Bytes())
}

// TestPain001ReadByMoov reads the file back with the pain.001.001.10 types
// of github.com/moov-io/iso20022, an implementation independent of ours.
func TestPain001ReadByMoov(t *testing.T) {
	b := testBatch()
	var buf bytes.Buffer
	if err := WritePain001(&buf, b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Initiation pain_v10.CustomerCreditTransferInitiationV10 `xml:"CstmrCdtTrfInitn"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	h := doc.Initiation.GrpHdr
	if string(h.MsgId) != b.MessageID || string(h.NbOfTxs) != "3" || h.CtrlSum != 1_000_012.55 {
		t.Errorf("group header: message id %q, %s payments, control sum %v", h.MsgId, h.NbOfTxs, h.CtrlSum)
	}
	if len(doc.Initiation.PmtInf) != 1 {
		t.Fatalf("%d payment information blocks, want 1", len(doc.Initiation.PmtInf))
	}
	pi := doc.Initiation.PmtInf[0]
	if string(pi.DbtrAcct.Id.IBAN) != b.Debtor.IBAN {
		t.Errorf("debtor IBAN %q", pi.DbtrAcct.Id.IBAN)
	}
	wantAmounts := []float64{12.50, 1_000_000, 0.05}
	for i, tx := range pi.CdtTrfTxInf {
		p := b.Payments[i]
		if string(tx.PmtId.EndToEndId) != p.EndToEndID {
			t.Errorf("payment %d: end-to-end id %q, want %q", i, tx.PmtId.EndToEndId, p.EndToEndID)
		}
		if tx.Amt.InstdAmt.Value != wantAmounts[i] || string(tx.Amt.InstdAmt.Ccy) != "EUR" {
			t.Errorf("payment %d: amount %v %s, want %v EUR", i, tx.Amt.InstdAmt.Value, tx.Amt.InstdAmt.Ccy, wantAmounts[i])
		}
		if string(tx.CdtrAcct.Id.IBAN) != p.Creditor.IBAN || string(*tx.Cdtr.Nm) != p.Creditor.Name {
			t.Errorf("payment %d: creditor %q %q", i, *tx.Cdtr.Nm, tx.CdtrAcct.Id.IBAN)
		}
	}
}

func TestBatchCheckRejects(t *testing.T) {
	cases := map[string]func(*Batch){
		"long message id":     func(b *Batch) { b.MessageID = strings.Repeat("m", 36) },
		"repeated end-to-end": func(b *Batch) { b.Payments[1].EndToEndID = b.Payments[0].EndToEndID },
		"zero amount":         func(b *Batch) { b.Payments[2].Amount = 0 },
		"bad creditor IBAN":   func(b *Batch) { b.Payments[0].Creditor.IBAN = "GB28NWBK60161331926819" },
		"no creditor name":    func(b *Batch) { b.Payments[0].Creditor.Name = "" },
		"bad debtor BIC":      func(b *Batch) { b.Debtor.BIC = "X" },
		"no payments":         func(b *Batch) { b.Payments = nil },
		"unknown currency":    func(b *Batch) { b.Currency = "EUX" },
	}
	for name, edit := range cases {
		b := testBatch()
		edit(&b)
		if err := WritePain001(&bytes.Buffer{}, b); err == nil {
			t.Errorf("%s: WritePain001 succeeded", name)
		}
		if err := WriteCSV(&bytes.Buffer{}, b); err == nil {
			t.Errorf("%s: WriteCSV succeeded", name)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, testBatch()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][1] != "end_to_end_id" {
		t.Fatalf("rows %v", rows)
	}
	if rows[2][6] != "1000000.00" || rows[3][6] != "0.05" || rows[2][3] != "Émile Zoë" {
		t.Errorf("rows %v", rows[1:])
	}
}

// statusReport is a pain.002.001.11 report as a bank sends it: the batch
// accepted except one payment rejected because the account is closed
// (AC04), one accepted and settled (ACSC).
const statusReport = `<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.11">
  <CstmrPmtStsRpt>
    <GrpHdr>
      <MsgId>STS-20260505-1</MsgId>
      <CreDtTm>2026-05-05T08:00:00Z</CreDtTm>
    </GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>b-4k2m9q7x3w8za</OrgnlMsgId>
      <OrgnlMsgNmId>pain.001.001.10</OrgnlMsgNmId>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>b-4k2m9q7x3w8za</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>t-aaaaaaaaaaaaa</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>
      </TxInfAndSts>
      <TxInfAndSts>
        <OrgnlEndToEndId>t-bbbbbbbbbbbbb</OrgnlEndToEndId>
        <TxSts>ACSC</TxSts>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
`

func TestReadPain002(t *testing.T) {
	validateXMLIfPresent(t, schemaFile(t, "pain.002.001.11.xsd"), []byte(statusReport))
	rep, err := ReadPain002(strings.NewReader(statusReport))
	if err != nil {
		t.Fatal(err)
	}
	if rep.MessageID != "b-4k2m9q7x3w8za" || rep.GroupRejected {
		t.Errorf("report %+v", rep)
	}
	if len(rep.Rejected) != 1 || rep.Rejected[0] != (Rejection{"t-aaaaaaaaaaaaa", "AC04"}) {
		t.Errorf("rejected %+v, want t-aaaaaaaaaaaaa with AC04", rep.Rejected)
	}
}

func TestReadPain002GroupRejected(t *testing.T) {
	doc := `<Document><CstmrPmtStsRpt><OrgnlGrpInfAndSts><OrgnlMsgId>b-1</OrgnlMsgId><GrpSts>RJCT</GrpSts>
<StsRsnInf><Rsn><Cd>DU01</Cd></Rsn></StsRsnInf></OrgnlGrpInfAndSts></CstmrPmtStsRpt></Document>`
	rep, err := ReadPain002(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.GroupRejected || rep.GroupReason != "DU01" || rep.MessageID != "b-1" {
		t.Errorf("report %+v", rep)
	}
}

func TestReadPain002RejectsOtherFiles(t *testing.T) {
	for name, doc := range map[string]string{
		"pain.001":  `<Document><CstmrCdtTrfInitn><GrpHdr><MsgId>x</MsgId></GrpHdr></CstmrCdtTrfInitn></Document>`,
		"not XML":   `message_id,end_to_end_id`,
		"truncated": `<Document><CstmrPmtStsRpt><OrgnlGrpInfAndSts><OrgnlMsgId>b-1`,
	} {
		if _, err := ReadPain002(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: read as a status report", name)
		}
	}
}

// validateXMLIfPresent validates a fixture when xmllint is installed, so
// the fixture is known to be a real pain.002, and does not skip otherwise.
func validateXMLIfPresent(t *testing.T, schema string, doc []byte) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err == nil {
		validateXML(t, schema, doc)
	}
}

func TestWriteCSVNeutralizesFormulas(t *testing.T) {
	b := testBatch()
	names := []string{`=HYPERLINK("http://127.0.0.1/x","click")`, "+1+1", "-2+3", "@SUM(A1:A2)", "\tTab", "\rReturn"}
	b.Payments = nil
	for i, name := range names {
		b.Payments = append(b.Payments, Payment{EndToEndID: fmt.Sprintf("t-%013d", i), Participant: fmt.Sprintf("p-%d", i),
			Creditor: Party{Name: name, IBAN: "GB29NWBK60161331926819"}, Amount: 100, Remittance: name})
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		row := rows[i+1]
		if row[3] != "'"+name {
			t.Errorf("creditor name %q written as %q, want a leading quote", name, row[3])
		}
		if row[8] != "'"+name {
			t.Errorf("remittance %q written as %q, want a leading quote", name, row[8])
		}
	}
}

func TestWriteCSVKeepsPlainCells(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, testBatch()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "'") {
		t.Errorf("plain cells were quoted:\n%s", buf.String())
	}
}
