package fhirconsent

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// Hand-written fixtures use these short forms for codings.
func purposeJSON(codes ...string) string {
	var parts []string
	for _, c := range codes {
		parts = append(parts, `{"system": "`+SystemPurpose+`", "code": "`+c+`"}`)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func modalityJSON(codes ...string) string {
	var parts []string
	for _, c := range codes {
		parts = append(parts, `{"system": "`+SystemModality+`", "code": "`+c+`"}`)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func mustParseOne(t *testing.T, raw string) *Consent {
	t.Helper()
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	return p.Consents[0]
}

func at(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// nestedR5 permits research in 2020 to 2022, except health research and
// voice recordings, except (within voice) rehabilitation research, and
// except video of general research.
var nestedR5 = `{"resourceType": "Consent", "id": "nested", "status": "active", "date": "2019-12-01", "decision": "permit",
  "subject": {"identifier": {"system": "` + IdentifierPseudonym + `", "value": "p-1"}},
  "provision": [{
    "period": {"start": "2020-01-01", "end": "2022-12-31"},
    "purpose": ` + purposeJSON("research", "research.health", "research.rehabilitation") + `,
    "provision": [
      {"purpose": ` + purposeJSON("research.health") + `},
      {"documentType": ` + modalityJSON("voice") + `,
       "provision": [{"purpose": ` + purposeJSON("research.rehabilitation") + `}]},
      {"purpose": ` + purposeJSON("research") + `, "documentType": ` + modalityJSON("video") + `}
    ]}]}`

func TestEvaluateNestedProvisions(t *testing.T) {
	c := mustParseOne(t, nestedR5)
	cases := []struct {
		purpose, modality, when string
		want                    Decision
	}{
		{"research", "sensor", "2021-06-01", Permit},               // root only
		{"research.health", "sensor", "2021-06-01", Deny},          // first exception
		{"research", "voice", "2021-06-01", Deny},                  // second exception
		{"research.rehabilitation", "voice", "2021-06-01", Permit}, // exception to the exception
		{"research.health", "voice", "2021-06-01", Deny},           // siblings OR-ed: the first still applies
		{"research", "video", "2021-06-01", Deny},                  // both attributes of the third match
		{"research.rehabilitation", "video", "2021-06-01", Permit}, // only one attribute of the third matches
		{"research", "sensor", "2022-12-31", Permit},               // a date end includes its whole day
		{"research", "sensor", "2023-01-01", NotApplicable},        // after the period
		{"research", "sensor", "2019-12-31", NotApplicable},        // before the period
		{"commercial", "sensor", "2021-06-01", NotApplicable},      // purpose not listed
	}
	for _, tc := range cases {
		if got := Evaluate(c, tc.purpose, tc.modality, at(tc.when)); got != tc.want {
			t.Errorf("%s/%s at %s: %s, want %s", tc.purpose, tc.modality, tc.when, got, tc.want)
		}
	}
}

func TestEvaluateStatusAndSigning(t *testing.T) {
	base := `{"resourceType": "Consent", "id": "s", "status": "STATUS", "date": "2021-03-01", "decision": "deny",
	  "provision": [{"period": {"start": "2020-01-01", "end": "2024-12-31"}}]}`
	cases := map[string]Decision{"active": Deny, "inactive": Deny, "entered-in-error": NotApplicable, "draft": NotApplicable, "not-done": NotApplicable}
	for status, want := range cases {
		c := mustParseOne(t, strings.Replace(base, "STATUS", status, 1))
		if got := Evaluate(c, "clinical", "video", at("2022-01-01")); got != want {
			t.Errorf("status %s: %s, want %s", status, got, want)
		}
		if got := Evaluate(c, "clinical", "video", at("2021-02-28")); got != NotApplicable {
			t.Errorf("status %s before the date it was signed: %s, want not applicable", status, got)
		}
	}
}

func TestEvaluateGuardian(t *testing.T) {
	base := `{"resourceType": "Consent", "id": "g", "status": "active", "date": "2021-03-01", "decision": "permit",
	  "contained": [{"resourceType": "RelatedPerson", "id": "guardian", "patient": {"display": "child"}}],
	  "grantor": [{"reference": "#guardian"}],
	  "extension": [{"url": "` + ExtensionAssent + `", "valueCode": "ASSENT"}, {"url": "` + ExtensionMajority + `", "valueDate": "2030-04"}]}`
	given := mustParseOne(t, strings.Replace(base, "ASSENT", "given", 1))
	if got := Evaluate(given, "research", "voice", at("2030-03-31")); got != Permit {
		t.Errorf("before majority: %s, want permit", got)
	}
	if got := Evaluate(given, "research", "voice", at("2030-04-01")); got != NotApplicable {
		t.Errorf("from the majority month: %s, want not applicable", got)
	}
	refused := mustParseOne(t, strings.Replace(base, "ASSENT", "refused", 1))
	if got := Evaluate(refused, "research", "voice", at("2025-01-01")); got != NotApplicable {
		t.Errorf("assent refused: %s, want not applicable", got)
	}
}

// TestEvaluateR4Forms reads R4 both ways: a root rule with a type and its
// exceptions, and a root without a type that bounds typed rules.
func TestEvaluateR4Forms(t *testing.T) {
	typedRoot := `{"resourceType": "Consent", "id": "r4a", "status": "active", "scope": {"text": "research"}, "category": [{"text": "consent"}],
	  "dateTime": "2020-01-01T00:00:00Z",
	  "provision": {"type": "permit", "purpose": ` + purposeJSON("clinical", "clinical.quality") + `,
	    "provision": [{"type": "deny", "class": ` + modalityJSON("voice") + `}]}}`
	c := mustParseOne(t, typedRoot)
	if c.Version != R4 {
		t.Fatalf("version %s, want r4", c.Version)
	}
	if got := Evaluate(c, "clinical", "video", at("2021-01-01")); got != Permit {
		t.Errorf("typed root, video: %s, want permit", got)
	}
	if got := Evaluate(c, "clinical", "voice", at("2021-01-01")); got != Deny {
		t.Errorf("typed root, voice: %s, want deny", got)
	}

	untypedRoot := `{"resourceType": "Consent", "id": "r4b", "status": "active", "scope": {"text": "research"}, "category": [{"text": "consent"}],
	  "dateTime": "2020-01-01", "provision": {"period": {"start": "2020-01-01", "end": "2020-12-31"},
	    "provision": [
	      {"type": "permit", "purpose": ` + purposeJSON("research") + `},
	      {"type": "deny", "purpose": ` + purposeJSON("research") + `, "class": ` + modalityJSON("video") + `}]}}`
	c = mustParseOne(t, untypedRoot)
	if got := Evaluate(c, "research", "voice", at("2020-06-01")); got != Permit {
		t.Errorf("untyped root, voice: %s, want permit", got)
	}
	if got := Evaluate(c, "research", "video", at("2020-06-01")); got != Deny {
		t.Errorf("untyped root, video (rules of both types match, deny wins): %s, want deny", got)
	}
	if got := Evaluate(c, "research", "voice", at("2021-01-01")); got != NotApplicable {
		t.Errorf("untyped root after its period: %s, want not applicable", got)
	}
}

// TestConvertNestedDeny imports a permit with a nested, time-boxed deny
// (a record A permits research on pressure data from 2020 to 2040, and B
// denies it from 2030 to 2035): Decide denies in 2032 and permits in 2036.
func TestConvertNestedDeny(t *testing.T) {
	raw := `{"resourceType": "Consent", "id": "c2", "status": "active", "date": "2020-01-01", "decision": "permit",
	  "policyBasis": {"reference": {"identifier": {"system": "` + IdentifierDocument + `", "value": "v1"}}},
	  "provision": [{"period": {"start": "2020-01-01", "end": "2039-12-31"},
	    "purpose": ` + purposeJSON(purposesOfTier("research")...) + `, "documentType": ` + modalityJSON("pressure") + `,
	    "provision": [{"period": {"start": "2030-01-01", "end": "2034-12-31"}}]}]}`
	_, lib, versions := testDocuments()
	p, err := Parse([]byte(raw), "")
	if err != nil {
		t.Fatal(err)
	}
	records, err := Convert(p.Consents, ConvertOptions{Library: lib, Documents: versions, Now: at("2100-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range records {
		records[i].ID = "i" + string(rune('a'+i))
	}
	for when, want := range map[string]string{"2032-06-01": consent.Deny, "2036-06-01": consent.Permit, "2041-01-01": consent.Deny} {
		if got := consent.Decide(records, lib, "research.rehabilitation", "pressure", at(when)).Decision; got != want {
			t.Errorf("%s: %s, want %s (records %s)", when, got, want, dump(records))
		}
	}
}
