package fhirconsent

import (
	"errors"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/consent"
)

// consentR5JSON returns an active R5 Consent with the given id, decision
// and provisions (a JSON list).
func consentR5JSON(id, decision, provisions string) string {
	return `{"resourceType": "Consent", "id": "` + id + `", "status": "active", "date": "2024-01-01", "decision": "` + decision + `",
	  "policyBasis": {"reference": {"identifier": {"system": "` + IdentifierDocument + `", "value": "v1"}}},
	  "provision": ` + provisions + `}`
}

func TestParseRejectsBadInput(t *testing.T) {
	duo := func(code string) string {
		return `[{"system": "` + SystemPurpose + `", "code": "research"}, {"system": "` + SystemDUO + `", "code": "` + code + `"}]`
	}
	cases := []struct {
		name, raw string
		version   Version
		want      []string
	}{
		{"malformed JSON", `{"resourceType": "Consent", "status": }`, "", []string{"invalid JSON at byte"}},
		{"not JSON object", `[1, 2]`, "", []string{"expected a Consent or Bundle"}},
		{"element twice", `{"resourceType": "Consent", "id": "c1", "status": "active", "status": "inactive"}`, "", []string{`element "status" is given twice`}},
		{"not a Consent", `{"resourceType": "Patient", "id": "pat"}`, "", []string{"Patient", "resourceType", "not a Consent"}},
		{"not a Consent in a Bundle", `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Observation", "id": "o1"}}]}`, "",
			[]string{"Bundle.entry[0]", "resource.resourceType", `"Observation"`}},
		{"unknown version by profile", `{"resourceType": "Consent", "id": "v3", "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/Consent|3.0.2"]}, "status": "active"}`, "",
			[]string{"Consent/v3", "Consent.meta.profile[0]", "Consent|3.0.2", "unsupported FHIR version"}},
		{"mixed versions", `{"resourceType": "Consent", "id": "mix", "status": "active", "scope": {"text": "x"}, "decision": "permit"}`, "",
			[]string{"Consent/mix", "unknown FHIR version", "scope", "decision"}},
		{"no version clue", `{"resourceType": "Consent", "id": "bare", "status": "active"}`, "", []string{"Consent/bare", "pass --fhir r4 or --fhir r5"}},
		{"unknown DUO code", consentR5JSON("d1", "permit", `[{"purpose": `+duo("DUO:9999999")+`}]`), "",
			[]string{"Consent/d1", "Consent.provision[0].purpose[1].code", `"DUO:9999999"`, "unknown DUO code"}},
		{"DUO term of no listed purpose", consentR5JSON("d2", "permit", `[{"purpose": `+duo("DUO:0000043")+`}]`), "",
			[]string{"Consent/d2", "Consent.provision[0].purpose", `"DUO:0000043"`, "describes none of the purposes"}},
		{"DUO terms only", consentR5JSON("d3", "permit", `[{"purpose": [{"system": "`+SystemDUO+`", "code": "DUO:0000042"}]}]`), "",
			[]string{"Consent/d3", "Consent.provision[0].purpose", "only DUO terms"}},
		{"non-commercial with commercial", consentR5JSON("d4", "permit", `[{"purpose": [{"system": "`+SystemPurpose+`", "code": "commercial"}, {"system": "`+SystemDUO+`", "code": "DUO:0000046"}]}]`), "",
			[]string{"Consent/d4", `"DUO:0000046"`, "contradictory attributes", "commercial"}},
		{"unknown purpose code", consentR5JSON("p1", "permit", `[{"purpose": [{"system": "`+SystemPurpose+`", "code": "marketing"}]}]`), "",
			[]string{"Consent/p1", "Consent.provision[0].purpose[0].code", `"marketing"`, "unknown purpose"}},
		{"unknown purpose system", consentR5JSON("p2", "permit", `[{"purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]}]`), "",
			[]string{"Consent/p2", "Consent.provision[0].purpose[0].system", "v3-ActReason", "unknown purpose system"}},
		{"unknown modality", consentR5JSON("m1", "permit", `[{"documentType": [{"system": "`+SystemModality+`", "code": "eeg"}]}]`), "",
			[]string{"Consent/m1", "Consent.provision[0].documentType[0].code", `"eeg"`, "unknown modality"}},
		{"period ends before it starts", consentR5JSON("t1", "permit", `[{"period": {"start": "2025-03-01", "end": "2025-02-01"}}]`), "",
			[]string{"Consent/t1", "Consent.provision[0].period", "2025-03-01 to 2025-02-01", "ends before it starts"}},
		{"invalid dateTime", consentR5JSON("t2", "permit", `[{"period": {"start": "2025-13-01"}}]`), "",
			[]string{"Consent/t2", "Consent.provision[0].period", "2025-13-01"}},
		{"nested purposes outside the parent", consentR5JSON("n1", "permit", `[{"purpose": `+purposeJSON("research")+`, "provision": [{"purpose": `+purposeJSON("commercial")+`}]}]`), "",
			[]string{"Consent/n1", "Consent.provision[0].provision[0].purpose", `"commercial"`, "never applies"}},
		{"nested period outside the parent", consentR5JSON("n2", "permit", `[{"period": {"start": "2024-01-01", "end": "2024-12-31"}, "provision": [{"period": {"start": "2026-01-01"}}]}]`), "",
			[]string{"Consent/n2", "Consent.provision[0].provision[0].period", "never applies"}},
		{"unsupported element", consentR5JSON("u1", "permit", `[{"actor": [{"reference": {"display": "Org A"}}]}]`), "",
			[]string{"Consent/u1", "Consent.provision[0].actor", "unsupported element"}},
		{"modifier extension", strings.Replace(consentR5JSON("u2", "permit", `[]`), `"status"`, `"modifierExtension": [{"url": "http://example.org/x", "valueBoolean": true}], "status"`, 1), "",
			[]string{"Consent/u2", "Consent.modifierExtension"}},
		{"unknown status", strings.Replace(consentR5JSON("s1", "permit", `[]`), `"active"`, `"unknown"`, 1), "",
			[]string{"Consent/s1", "Consent.status", `"unknown"`}},
		{"R4 status in R5", strings.Replace(consentR5JSON("s2", "permit", `[]`), `"active"`, `"rejected"`, 1), "",
			[]string{"Consent/s2", "Consent.status", `"rejected"`, "invalid status for R5"}},
		{"missing decision", strings.Replace(consentR5JSON("s3", "permit", `[]`), `"decision": "permit",`, `"period": {"start": "2024-01-01"},`, 1), "",
			[]string{"Consent/s3", "Consent.decision", "missing"}},
		{"missing date", strings.Replace(consentR5JSON("s4", "permit", `[]`), `"date": "2024-01-01",`, ``, 1), "",
			[]string{"Consent/s4", "Consent.date", "missing"}},
		{"inactive without end", strings.Replace(consentR5JSON("s5", "permit", `[{"period": {"start": "2024-01-01"}}]`), `"active"`, `"inactive"`, 1), "",
			[]string{"Consent/s5", "Consent.provision[0].period.end", "inactive"}},
		{"guardian without extensions", strings.Replace(consentR5JSON("g1", "permit", `[]`), `"status"`, `"grantor": [{"type": "RelatedPerson", "display": "mother"}], "status"`, 1), "",
			[]string{"Consent/g1", "Consent.extension", "majority-month", "minor-assent"}},
		{"invalid assent", strings.Replace(consentR5JSON("g2", "permit", `[]`), `"status"`, `"grantor": [{"type": "RelatedPerson"}], "extension": [{"url": "`+ExtensionAssent+`", "valueCode": "maybe"}, {"url": "`+ExtensionMajority+`", "valueDate": "2030-01"}], "status"`, 1), "",
			[]string{"Consent/g2", "Consent.extension[0].valueCode", `"maybe"`, "invalid assent"}},
		{"R4 nested rule repeats its parent's type", `{"resourceType": "Consent", "id": "r4", "status": "active", "scope": {"text": "x"}, "category": [{"text": "x"}], "dateTime": "2024-01-01",
		  "provision": {"type": "permit", "provision": [{"type": "permit", "class": ` + modalityJSON("voice") + `}]}}`, "",
			[]string{"Consent/r4", "Consent.provision.provision[0].type", `"permit"`, "contradicts its parent"}},
		{"R4 nested rule without type", `{"resourceType": "Consent", "id": "r4b", "status": "active", "scope": {"text": "x"}, "category": [{"text": "x"}], "dateTime": "2024-01-01",
		  "provision": {"provision": [{"class": ` + modalityJSON("voice") + `}]}}`, "",
			[]string{"Consent/r4b", "Consent.provision.provision[0].type", "missing"}},
		{"R4 read as R5", `{"resourceType": "Consent", "id": "f", "status": "active", "scope": {"text": "x"}, "dateTime": "2024-01-01"}`, R5,
			[]string{"Consent/f", "Consent.scope", "unknown element"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.raw), tc.version)
			if err == nil {
				t.Fatalf("parse accepted:\n%s", tc.raw)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseErrorsAreInputErrors(t *testing.T) {
	_, err := Parse([]byte(consentR5JSON("m1", "permit", `[{"documentType": [{"system": "`+SystemModality+`", "code": "eeg"}]}]`)), "")
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v is not an *InputError", err)
	}
	if ie.Resource != "Consent/m1" || ie.Path != "Consent.provision[0].documentType[0].code" || ie.Value != "eeg" {
		t.Errorf("InputError %+v", ie)
	}
}

// TestConvertRejectsContradictoryConsents imports a permit and a deny of
// the same use over overlapping periods, as two Consents without nesting.
func TestConvertRejectsContradictoryConsents(t *testing.T) {
	permit := consentR5JSON("a", "permit", `[{"period": {"start": "2024-01-01", "end": "2039-12-31"}, "purpose": `+purposeJSON(purposesOfTier("research")...)+`, "documentType": `+modalityJSON("pressure")+`}]`)
	deny := consentR5JSON("b", "deny", `[{"period": {"start": "2030-01-01", "end": "2034-12-31"}, "purpose": `+purposeJSON(purposesOfTier("research")...)+`, "documentType": `+modalityJSON("pressure")+`}]`)
	raw := `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ` + permit + `}, {"resource": ` + deny + `}]}`
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	_, lib, versions := testDocuments()
	_, err = Convert(p.Consents, ConvertOptions{Library: lib, Documents: versions, Now: at("2100-01-01")})
	if err == nil {
		t.Fatal("contradictory consents accepted")
	}
	for _, w := range []string{"Consent/a", "Consent/b", "contradictory consents", "research/pressure", "from 2030-01-01"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

// TestConvertRejectsPartialTier imports a permit of one research purpose
// only, which no Steward grant can state.
func TestConvertRejectsPartialTier(t *testing.T) {
	raw := consentR5JSON("part", "permit", `[{"purpose": `+purposeJSON("research.health")+`}]`)
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	_, lib, versions := testDocuments()
	_, err = Convert(p.Consents, ConvertOptions{Library: lib, Documents: versions, Now: at("2100-01-01")})
	if err == nil || !strings.Contains(err.Error(), "cannot be represented") || !strings.Contains(err.Error(), "Consent/part") {
		t.Fatalf("error %v, want cannot be represented naming Consent/part", err)
	}
}

// TestConvertRejectsOtherForm imports a Consent whose signed form, by its
// SHA-256 in sourceAttachment, is not the form registered under the
// version it names.
func TestConvertRejectsOtherForm(t *testing.T) {
	raw := strings.Replace(consentR5JSON("other", "permit", `[{"purpose": `+purposeJSON(purposesOfTier("research")...)+`}]`), `"provision"`,
		`"sourceAttachment": [{"extension": [{"url": "`+extensionAlternateHash+`", "extension": [{"url": "algorithm", "valueCoding": {"code": "sha-256"}}, {"url": "hash", "valueString": "`+strings.Repeat("ab", 32)+`"}]}]}], "provision"`, 1)
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	_, lib, versions := testDocuments()
	_, err = Convert(p.Consents, ConvertOptions{Library: lib, Documents: versions, Now: at("2100-01-01")})
	if err == nil || !strings.Contains(err.Error(), "the signed form differs from consent document v1") {
		t.Fatalf("error %v, want the signed form differs", err)
	}
}

// TestConvertNamesUncoveredPurpose imports a permit of the whole commercial
// tier under v1, whose form does not allow licensing to third parties.
func TestConvertNamesUncoveredPurpose(t *testing.T) {
	raw := consentR5JSON("all", "permit", `[{"purpose": `+purposeJSON(purposesOfTier("commercial")...)+`}]`)
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	_, lib, versions := testDocuments()
	lib = consent.Library{"v1": lib["v1"]}
	_, err = Convert(p.Consents, ConvertOptions{Library: lib, Documents: versions[:1], Now: at("2100-01-01")})
	if err == nil || !strings.Contains(err.Error(), "no named document (v1) covers commercial.third-party") {
		t.Fatalf("error %v, want the uncovered purpose named", err)
	}
}

func TestConvertRejectsFutureSigning(t *testing.T) {
	p, err := Parse([]byte(consentR5JSON("future", "permit", `[]`)), "")
	if err != nil {
		t.Fatal(err)
	}
	_, lib, versions := testDocuments()
	_, err = Convert(p.Consents, ConvertOptions{Library: lib, Documents: versions, Now: at("2023-06-01")})
	if err == nil || !strings.Contains(err.Error(), "Consent/future") || !strings.Contains(err.Error(), "signed in the future") {
		t.Fatalf("error %v, want signed in the future naming Consent/future", err)
	}
}
