package release

import (
	"strings"
	"testing"
	"time"
)

const odrl = odrlNamespace

func odrlHeader(licensee string) Header {
	return Header{
		Release: "r-1", Origin: "steward.example/lab", Purpose: "research.rehabilitation", Tier: "research",
		Modalities: []string{"voice"}, BuiltAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), Licensee: licensee,
	}
}

// ruleByAction returns the rule of a policy property whose action is the
// given IRI.
func ruleByAction(t *testing.T, policy map[string]any, property, action string) map[string]any {
	t.Helper()
	list, _ := policy[odrl+property].([]any)
	for _, e := range list {
		rule, _ := e.(map[string]any)
		if hasID(rule[odrl+"action"], action) {
			return rule
		}
	}
	t.Fatalf("no %s with action %s in %v", property, action, policy["@id"])
	return nil
}

// constraintOn returns the constraint of a rule with the given left operand
// and operator.
func constraintOn(t *testing.T, rule map[string]any, left, operator string) map[string]any {
	t.Helper()
	list, _ := rule[odrl+"constraint"].([]any)
	for _, e := range list {
		c, _ := e.(map[string]any)
		if hasID(c[odrl+"leftOperand"], left) && hasID(c[odrl+"operator"], operator) {
			return c
		}
	}
	t.Fatalf("no constraint %s %s in rule %v", left, operator, rule)
	return nil
}

func TestLicenceJSONLDExpandsOffline(t *testing.T) {
	h := odrlHeader("")
	raw, err := NewLicenceJSONLD(h, Trailer{Attribution: []Attribution{{Dataset: "gaitpdb", Citation: "Frenkel-Toledo 2005", Licence: "ODC-By-1.0", Samples: 3}}}, Terms{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := expandOffline(t, raw)

	offers := nodesOfType(nodes, odrl+"Offer")
	if len(offers) != 1 {
		t.Fatalf("%d offers, want 1", len(offers))
	}
	if n := len(nodesOfType(nodes, odrl+"Agreement")); n != 0 {
		t.Fatalf("%d agreements for a release without licensee, want 0", n)
	}
	offer := offers[0]
	releaseIRI := "https://steward.example/lab/releases/r-1"
	if offer["@id"] != releaseIRI+"/policy/offer" {
		t.Errorf("offer uid %v", offer["@id"])
	}
	if !hasID(offer[odrl+"profile"], ProfileIRI) {
		t.Errorf("profile %v", offer[odrl+"profile"])
	}
	if !hasID(offer[odrl+"conflict"], odrl+"prohibit") {
		t.Errorf("conflict %v, want odrl:prohibit", offer[odrl+"conflict"])
	}

	use := ruleByAction(t, offer, "permission", odrl+"use")
	if !hasID(use[odrl+"target"], releaseIRI) {
		t.Errorf("use target %v", use[odrl+"target"])
	}
	if !hasID(use[odrl+"assigner"], "https://steward.example/lab") {
		t.Errorf("use assigner %v", use[odrl+"assigner"])
	}
	if !hasID(constraintOn(t, use, odrl+"purpose", odrl+"isA")[odrl+"rightOperand"], PurposeIRI("research.rehabilitation")) {
		t.Error("purpose constraint does not name the Steward purpose")
	}
	duo := constraintOn(t, use, odrl+"purpose", odrl+"isAllOf")[odrl+"rightOperand"]
	for _, want := range []string{"http://purl.obolibrary.org/obo/DUO_0000006", "http://purl.obolibrary.org/obo/DUO_0000046"} {
		if !hasID(duo, want) {
			t.Errorf("DUO constraint %v lacks %s", duo, want)
		}
	}
	end := constraintOn(t, use, odrl+"dateTime", odrl+"lteq")[odrl+"rightOperand"].([]any)[0].(map[string]any)
	if end["@value"] != "2030-06-01T12:00:00Z" || end["@type"] != xsdNamespace+"dateTime" {
		t.Errorf("end date %v, want 2030-06-01T12:00:00Z typed xsd:dateTime (five years after the build)", end)
	}

	duties, _ := use[odrl+"duty"].([]any)
	byAction := map[string]map[string]any{}
	for _, d := range duties {
		duty := d.(map[string]any)
		byAction[ids(duty[odrl+"action"])[0]] = duty
	}
	attribute := byAction[odrl+"attribute"]
	if attribute == nil {
		t.Fatal("no attribute duty")
	}
	party := attribute[odrl+"attributedParty"].([]any)[0].(map[string]any)
	if v := values(party["http://schema.org/name"]); len(v) != 1 || v[0] != "gaitpdb" {
		t.Errorf("attributed party name %v", v)
	}
	// Without a compensation policy at the build there is no amount, so
	// no payment duty either.
	if byAction[odrl+"compensate"] != nil {
		t.Error("compensate duty without compensation terms")
	}
	deletion := byAction[odrl+"delete"]
	if deletion == nil {
		t.Fatal("no delete duty")
	}
	if !hasID(constraintOn(t, deletion, odrl+"event", odrl+"gt")[odrl+"rightOperand"], ProfileNamespace+"revocationNotice") {
		t.Error("delete duty is not tied to a revocation notice")
	}

	derive := ruleByAction(t, offer, "permission", odrl+"derive")
	var next bool
	for _, d := range derive[odrl+"duty"].([]any) {
		duty := d.(map[string]any)
		if hasID(duty[odrl+"action"], odrl+"nextPolicy") && hasID(duty[odrl+"target"], offer["@id"].(string)) {
			next = true
		}
	}
	if !next {
		t.Error("derive permission has no nextPolicy duty naming the offer")
	}

	distribute := ruleByAction(t, offer, "prohibition", odrl+"distribute")
	if !hasID(distribute[odrl+"target"], releaseIRI+"/data") {
		t.Errorf("distribute prohibition target %v", distribute[odrl+"target"])
	}
	ruleByAction(t, offer, "prohibition", ProfileNamespace+"reidentify")
	var defined bool
	for _, n := range nodesOfType(nodes, odrl+"Action") {
		if n["@id"] == ProfileNamespace+"reidentify" && hasID(n[odrl+"includedIn"], odrl+"use") {
			defined = true
		}
	}
	if !defined {
		t.Error("the reidentify action is not defined in the document")
	}
}

func TestLicenceJSONLDAgreementNamesLicensee(t *testing.T) {
	until := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	raw, err := NewLicenceJSONLD(odrlHeader("acme labs"), Trailer{}, Terms{Until: until})
	if err != nil {
		t.Fatal(err)
	}
	nodes := expandOffline(t, raw)
	agreements := nodesOfType(nodes, odrl+"Agreement")
	if len(agreements) != 1 {
		t.Fatalf("%d agreements, want 1", len(agreements))
	}
	if n := len(nodesOfType(nodes, odrl+"Offer")); n != 1 {
		t.Fatalf("%d offers, want 1", n)
	}
	use := ruleByAction(t, agreements[0], "permission", odrl+"use")
	if !hasID(use[odrl+"assignee"], "https://steward.example/lab/licensees/acme%20labs") {
		t.Errorf("assignee %v", use[odrl+"assignee"])
	}
	for _, property := range []string{"permission", "prohibition"} {
		for _, r := range agreements[0][odrl+property].([]any) {
			if rule := r.(map[string]any); !hasID(rule[odrl+"assignee"], "https://steward.example/lab/licensees/acme%20labs") {
				t.Errorf("%s %v has no assignee", property, rule[odrl+"action"])
			}
		}
	}
	end := values(constraintOn(t, use, odrl+"dateTime", odrl+"lteq")[odrl+"rightOperand"])
	if len(end) != 1 || end[0] != "2027-01-01T00:00:00Z" {
		t.Errorf("end date %v, want the supplied 2027-01-01T00:00:00Z", end)
	}
}

func TestLicenseeIRIKeepsAbsoluteIRI(t *testing.T) {
	for licensee, want := range map[string]string{
		"https://acme.example/": "https://acme.example/",
		"urn:uuid:1234":         "urn:uuid:1234",
		"acme":                  "https://o.example/licensees/acme",
		"a/b":                   "https://o.example/licensees/a%2Fb",
	} {
		if got := LicenseeIRI("o.example", licensee); got != want {
			t.Errorf("LicenseeIRI(%q) = %q, want %q", licensee, got, want)
		}
	}
}

func TestLicenceJSONLDRejectsUnknownPurpose(t *testing.T) {
	h := odrlHeader("")
	h.Purpose = "marketing"
	if _, err := NewLicenceJSONLD(h, Trailer{}, Terms{}); err == nil || !strings.Contains(err.Error(), `"marketing"`) {
		t.Fatalf("err %v, want unknown purpose", err)
	}
}
