package release

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/steward-rehab/steward/internal/ledger"
)

func compensatedHeader() Header {
	h := odrlHeader("acme")
	h.Purpose, h.Tier = "commercial", "commercial"
	p := ledger.Policy{ID: "rehab-2026", Version: 2, Currency: "EUR", PerUse: map[string]int64{"commercial": 125}, RoyaltyShare: 0.1}
	h.Compensation = NewCompensation(p, "sha256:abc", 7, "commercial")
	return h
}

func TestLicenceJSONLDStatesPayAmount(t *testing.T) {
	h := compensatedHeader()
	attribution := []Attribution{{Dataset: "gaitpdb", Samples: 3}, {Dataset: "gaitndd", Samples: 1}}
	raw, err := NewLicenceJSONLD(h, Trailer{Attribution: attribution}, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := expandOffline(t, raw)
	agreements := nodesOfType(nodes, odrl+"Agreement")
	if len(agreements) != 1 {
		t.Fatalf("%d agreements, want 1", len(agreements))
	}
	use := ruleByAction(t, agreements[0], "permission", odrl+"use")
	var compensate map[string]any
	for _, d := range use[odrl+"duty"].([]any) {
		duty := d.(map[string]any)
		if hasID(duty[odrl+"action"], odrl+"compensate") {
			compensate = duty
		}
	}
	if compensate == nil {
		t.Fatal("no compensate duty")
	}
	amount := constraintOn(t, compensate, odrl+"payAmount", odrl+"eq")
	// Four samples at EUR 1.25 each.
	if v := values(amount[odrl+"rightOperand"]); len(v) != 1 || v[0] != "5.00" {
		t.Errorf("pay amount %v, want 5.00", v)
	}
	if !hasID(amount[odrl+"unit"], CurrencyIRI("EUR")) {
		t.Errorf("pay amount unit %v, want %s", amount[odrl+"unit"], CurrencyIRI("EUR"))
	}
	if _, ok := amount[odrl+"rightOperandReference"]; ok {
		t.Error("the pay amount still refers to the policy")
	}
}

func TestLicenceStatesCompensation(t *testing.T) {
	h := compensatedHeader()
	raw, err := NewLicence(h, Trailer{Attribution: []Attribution{{Dataset: "gaitpdb", Samples: 4}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	var l Licence
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	c := l.Compensation
	if c == nil || c.Policy != "rehab-2026@2" || c.PerUse != "1.25" || c.TotalMinor != 500 || c.Total != "5.00" || c.Samples != 4 || c.RoyaltyShare != 0.1 {
		t.Errorf("licence compensation %+v", c)
	}
	h.Compensation = nil
	raw, _ = NewLicence(h, Trailer{}).Encode()
	var plain Licence
	if json.Unmarshal(raw, &plain); plain.Compensation != nil {
		t.Error("a release without terms states compensation")
	}
}

func TestManifestRoundTripsCompensation(t *testing.T) {
	m := Manifest{Header: compensatedHeader()}
	m.Samples = []Sample{{ID: "s-1", Evidence: Evidence{Registration: 3, Consent: []uint64{4}, Compensation: []uint64{5, 6, 9}}}}
	raw, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var got []Sample
	h, _, err := DecodeManifest(bytes.NewReader(raw), func(_ Header, s Sample) error { got = append(got, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if h.Compensation == nil || !reflect.DeepEqual(*h.Compensation, *m.Header.Compensation) {
		t.Errorf("header compensation %+v, want %+v", h.Compensation, m.Header.Compensation)
	}
	if len(got) != 1 || len(got[0].Evidence.Compensation) != 3 || got[0].Evidence.Compensation[2] != 9 {
		t.Errorf("samples %+v", got)
	}
}
