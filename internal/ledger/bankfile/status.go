package bankfile

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// StatusReport is a bank's pain.002 customer payment status report about a
// batch, reduced to the statuses Steward acts on.
type StatusReport struct {
	// MessageID is the message id of the batch the report is about.
	MessageID string
	// Rejected lists the rejected payments by end-to-end id with the
	// bank's reason code, such as AC04 for a closed account.
	Rejected []Rejection
	// GroupRejected is true when the bank rejected the whole batch. Then
	// Rejected is empty unless the report also lists the payments.
	GroupRejected bool
	GroupReason   string
}

// Rejection is one rejected payment.
type Rejection struct {
	EndToEndID string
	Reason     string
}

// rejected is the ISO 20022 status code of a rejection (external code set
// ExternalPaymentTransactionStatus1Code).
const rejected = "RJCT"

// ReadPain002 reads a pain.002 payment status report of any version from
// 001.001.03 on: the elements it reads have kept their names, and the
// namespace is not checked. Statuses other than RJCT (accepted, pending)
// change nothing in Steward and are skipped.
func ReadPain002(r io.Reader) (StatusReport, error) {
	var doc struct {
		Report struct {
			Group struct {
				MessageID string       `xml:"OrgnlMsgId"`
				Status    string       `xml:"GrpSts"`
				Reasons   []reasonInfo `xml:"StsRsnInf"`
			} `xml:"OrgnlGrpInfAndSts"`
			Instructions []struct {
				Status       string       `xml:"PmtInfSts"`
				Reasons      []reasonInfo `xml:"StsRsnInf"`
				Transactions []struct {
					EndToEndID string       `xml:"OrgnlEndToEndId"`
					Status     string       `xml:"TxSts"`
					Reasons    []reasonInfo `xml:"StsRsnInf"`
				} `xml:"TxInfAndSts"`
			} `xml:"OrgnlPmtInfAndSts"`
		} `xml:"CstmrPmtStsRpt"`
	}
	dec := xml.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		return StatusReport{}, fmt.Errorf("read pain.002 status report: %w", err)
	}
	g := doc.Report.Group
	if g.MessageID == "" {
		return StatusReport{}, fmt.Errorf("read pain.002 status report: no CstmrPmtStsRpt/OrgnlGrpInfAndSts/OrgnlMsgId: is this a pain.002 file?")
	}
	rep := StatusReport{MessageID: strings.TrimSpace(g.MessageID)}
	if strings.TrimSpace(g.Status) == rejected {
		rep.GroupRejected, rep.GroupReason = true, firstReason(g.Reasons)
	}
	for _, pi := range doc.Report.Instructions {
		instructionRejected := strings.TrimSpace(pi.Status) == rejected
		if instructionRejected && len(pi.Transactions) == 0 {
			// A rejected payment information block without transactions
			// rejects all of them; Steward writes one block per batch.
			rep.GroupRejected, rep.GroupReason = true, firstReason(pi.Reasons)
		}
		for _, tx := range pi.Transactions {
			if strings.TrimSpace(tx.Status) != rejected {
				continue
			}
			reason := firstReason(tx.Reasons)
			if reason == "" {
				reason = firstReason(pi.Reasons)
			}
			rep.Rejected = append(rep.Rejected, Rejection{EndToEndID: strings.TrimSpace(tx.EndToEndID), Reason: reason})
		}
	}
	return rep, nil
}

type reasonInfo struct {
	Code        string `xml:"Rsn>Cd"`
	Proprietary string `xml:"Rsn>Prtry"`
}

func firstReason(infos []reasonInfo) string {
	for _, ri := range infos {
		if c := strings.TrimSpace(ri.Code); c != "" {
			return c
		}
		if p := strings.TrimSpace(ri.Proprietary); p != "" {
			return p
		}
	}
	return ""
}
