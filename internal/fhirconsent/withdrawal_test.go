package fhirconsent

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// TestWithdrawalImportsAsWithdrawal exports a grant and its withdrawal and
// checks that the import holds a withdrawal record again, and no deny.
func TestWithdrawalImportsAsWithdrawal(t *testing.T) {
	_, lib, versions := testDocuments()
	withdrawn := time.Date(2024, 6, 1, 10, 30, 0, 0, time.UTC)
	records := []consent.Record{
		{ID: "c-1", Participant: "p-1", Action: consent.ActionGrant, Decision: consent.Permit, Document: "v1", Tiers: []string{"research", "commercial"},
			Modalities: []string{"voice", "sensor"}, From: at("2024-01-01"), SignedAt: at("2024-01-01"), Method: "written", Seq: 10},
		{ID: "c-2", Participant: "p-1", Action: consent.ActionWithdraw, Tiers: []string{"research"}, Modalities: []string{"voice"},
			From: withdrawn, SignedAt: withdrawn, Method: "verbal-witnessed", Witness: "slp-2", Seq: 11},
	}
	for _, v := range []Version{R5, R4} {
		out, err := Export(testHistory(records), v)
		if err != nil {
			t.Fatal(err)
		}
		imported := importRecords(t, out, lib, versions)
		var withdrawals []consent.Record
		for _, r := range imported {
			switch {
			case r.Action == consent.ActionWithdraw:
				withdrawals = append(withdrawals, r)
			case r.Decision == consent.Deny:
				t.Errorf("%s: the withdrawal came back as a deny grant: %s", v, dump([]consent.Record{r}))
			}
		}
		if len(withdrawals) != 1 {
			t.Fatalf("%s: %d withdrawal records, want 1:%s", v, len(withdrawals), dump(imported))
		}
		w := withdrawals[0]
		if !w.From.Equal(withdrawn) || fmt.Sprint(w.Tiers) != "[research]" || fmt.Sprint(w.Modalities) != "[voice]" {
			t.Errorf("%s: withdrawal %s, want research/voice from %s", v, dump(withdrawals), withdrawn)
		}
		if w.Method != "verbal-witnessed" || w.Witness != "slp-2" {
			t.Errorf("%s: withdrawal method %q, witness %q, want verbal-witnessed by slp-2", v, w.Method, w.Witness)
		}
		if imported[0].Action != consent.ActionWithdraw {
			t.Errorf("%s: the first record is a %s, want the withdrawal, logged before the grants", v, imported[0].Action)
		}
	}
}

// withdrawalR5 withdraws the provision's purposes and modalities; the
// tests replace PROVISION.
const withdrawalR5 = `{"resourceType": "Consent", "id": "w1", "status": "active", "date": "2024-06-01", "decision": "deny",
  "category": [{"coding": [{"system": "` + SystemRecordAction + `", "code": "withdraw"}]}],
  "subject": {"identifier": {"system": "` + IdentifierPseudonym + `", "value": "p-1"}},
  "provision": [PROVISION]}`

func TestWithdrawalImportRejects(t *testing.T) {
	_, lib, versions := testDocuments()
	cases := map[string]struct{ provision, want string }{
		"part of a tier": {`{"purpose": ` + purposeJSON("research", "research.health") + `}`, "lists only some purposes of the research tier"},
		"with an end":    {`{"period": {"start": "2024-06-01", "end": "2024-12-31"}}`, "a withdrawal has no end"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			raw := strings.Replace(withdrawalR5, "PROVISION", tc.provision, 1)
			c := mustParseOne(t, raw)
			_, err := Convert([]*Consent{c}, ConvertOptions{Library: lib, Documents: versions, Now: at("2030-01-01")})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Consent/w1") {
				t.Errorf("convert: %v, want an error naming Consent/w1 that contains %q", err, tc.want)
			}
		})
	}
}

func TestParseRejectsUnknownRecordAction(t *testing.T) {
	raw := strings.Replace(strings.Replace(withdrawalR5, "PROVISION", `{}`, 1), `"code": "withdraw"`, `"code": "pause"`, 1)
	_, err := Parse([]byte(raw), "")
	if err == nil || !strings.Contains(err.Error(), "unknown record action") || !strings.Contains(err.Error(), `"pause"`) {
		t.Errorf("parse: %v, want an unknown record action naming pause", err)
	}
}

// TestWithdrawalContradictsGrant imports a permit that still holds after a
// withdrawal that neither excepts it: the file contradicts itself.
func TestWithdrawalContradictsGrant(t *testing.T) {
	_, lib, versions := testDocuments()
	grant := `{"resourceType": "Consent", "id": "g1", "status": "active", "date": "2024-01-01", "decision": "permit",
	  "policyBasis": {"reference": {"identifier": {"system": "` + IdentifierDocument + `", "value": "v1"}}},
	  "provision": [{"purpose": ` + purposeJSON(purposesOfTier("research")...) + `, "documentType": ` + modalityJSON("voice") + `}]}`
	withdrawal := strings.Replace(withdrawalR5, "PROVISION", `{"purpose": `+purposeJSON(purposesOfTier("research")...)+`, "documentType": `+modalityJSON("voice")+`}`, 1)
	_, err := Convert([]*Consent{mustParseOne(t, grant), mustParseOne(t, withdrawal)}, ConvertOptions{Library: lib, Documents: versions, Now: at("2030-01-01")})
	if err == nil || !strings.Contains(err.Error(), "contradictory consents") || !strings.Contains(err.Error(), "w1") {
		t.Errorf("convert: %v, want a contradiction naming the withdrawal", err)
	}
}
