package ledger

import (
	"errors"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/participant"
)

// minimalPolicy is the smallest policy a data steward writes, in YAML.
const minimalPolicy = `id: rehab-2026
currency: EUR
perSample: {pressure: 500, sensor: 400, voice: 300, video: 800}
perUse: {commercial: 100, clinical: 50, research: 0}
royaltyShare: 0.10
benefits: [personal progress report]
`

func TestParsePolicyMinimal(t *testing.T) {
	p, err := ParsePolicy("policy.yaml", []byte(minimalPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "rehab-2026" || p.Currency != "EUR" || p.Version != 0 {
		t.Errorf("id, currency, version = %q, %q, %d", p.ID, p.Currency, p.Version)
	}
	if p.PerSample["pressure"] != 500 || p.PerUse["commercial"] != 100 {
		t.Errorf("rates %v %v", p.PerSample, p.PerUse)
	}
	if p.RoyaltyPPM() != 100_000 {
		t.Errorf("royalty share %v is %d ppm, want 100000", p.RoyaltyShare, p.RoyaltyPPM())
	}
	if p.Triggers.PerSample != TriggerPassedAndConsented || p.Triggers.PerUse != TriggerLicensedRelease || p.Triggers.Royalty != TriggerRevenueRecorded {
		t.Errorf("default triggers %+v", p.Triggers)
	}
	if p.Funder() != "clinic" {
		t.Errorf("funder %q", p.Funder())
	}
}

func TestParsePolicyJSON(t *testing.T) {
	raw := `{"id":"rehab-2026","version":3,"currency":"JPY","perSample":{"voice":30},"perUse":{},"royaltyShare":0.25,"payer":"site-a"}`
	p, err := ParsePolicy("p.json", []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 || p.Ref() != "rehab-2026@3" || p.Funder() != "clinic:site-a" {
		t.Errorf("version %d ref %s funder %s", p.Version, p.Ref(), p.Funder())
	}
}

func TestParsePolicyRejectsBadFields(t *testing.T) {
	cases := []struct {
		name, edit, field string
	}{
		{"negative rate", "perSample: {pressure: -5}", "field perSample/pressure"},
		{"unknown currency", "currency: EUX", "field currency"},
		{"lower-case currency", "currency: eur", "field currency"},
		{"share over 100 %", "royaltyShare: 1.5", "field royaltyShare"},
		{"negative share", "royaltyShare: -0.1", "field royaltyShare"},
		{"too many decimals", "royaltyShare: 0.1234567", "field royaltyShare"},
		{"unknown modality", "perSample: {smell: 5}", "field perSample"},
		{"unknown tier", "perUse: {military: 5}", "field perUse"},
		{"fractional amount", "perUse: {research: 2.5}", "field perUse/research"},
		{"unknown field", "rate: 5", "rate"},
		{"bonus without criterion", "bonuses: [{name: x, amount: 5}]", "field bonuses/0"},
		{"bonus with bad sex", "bonuses: [{name: x, amount: 5, sex: unknown}]", "field bonuses/0/sex"},
		{"repeated bonus", "bonuses: [{name: x, amount: 5, sex: female}, {name: x, amount: 6, sex: male}]", "field bonuses/1/name"},
		{"bad id", "id: Rehab 2026", "field id"},
		{"unknown trigger", "triggers: {perSample: registered}", "field triggers/perSample"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := strings.SplitN(c.edit, ":", 2)[0]
			var lines []string
			for _, l := range strings.Split(minimalPolicy, "\n") {
				if !strings.HasPrefix(l, key+":") {
					lines = append(lines, l)
				}
			}
			lines = append(lines, c.edit)
			_, err := ParsePolicy("p.yaml", []byte(strings.Join(lines, "\n")))
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePolicy: %v, want a *PolicyError", err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error does not name %q:\n%v", c.field, err)
			}
		})
	}
}

func TestParsePolicyRejectsBadSyntax(t *testing.T) {
	for name, raw := range map[string]string{"yaml": "id: [unclosed", "json": `{"id": `} {
		if _, err := ParsePolicy("p."+name, []byte(raw)); err == nil || !strings.Contains(err.Error(), "invalid "+strings.ToUpper(name)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A JSON policy that gives a field twice is rejected: encoding/json would
// keep the last value without a word.
func TestParsePolicyRejectsRepeatedField(t *testing.T) {
	raw := `{"id": "p", "currency": "EUR", "currency": "USD"}`
	if _, err := ParsePolicy("p.json", []byte(raw)); err == nil || !strings.Contains(err.Error(), "currency: is given twice") {
		t.Errorf("repeated field: %v", err)
	}
	if _, err := ParsePolicy("p.yaml", []byte("id: p\ncurrency: EUR\ncurrency: USD\n")); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("repeated YAML key: %v", err)
	}
}

func TestSampleAmount(t *testing.T) {
	raw := minimalPolicy + `perTask: {sustained-vowel: {voice: 350}}
bonuses:
  - {name: women-70s, amount: 200, sex: female, ageBand: 70-79}
  - {name: parkinsons, amount: 50, condition: parkinsons}
`
	p, err := ParsePolicy("p.yaml", []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	age := 74.0
	woman := participant.Attributes{Sex: "female", AgeYears: &age, Condition: "Parkinsons"}
	cases := []struct {
		modality, task string
		attrs          participant.Attributes
		want           int64
		parts          int
	}{
		{"pressure", "walk", participant.Attributes{}, 500, 1},
		{"voice", "sustained-vowel", participant.Attributes{}, 350, 1},
		{"voice", "reading", participant.Attributes{}, 300, 1},
		{"pressure", "walk", woman, 750, 3},
		{"video", "walk", participant.Attributes{Sex: "male", AgeYears: &age}, 800, 1},
	}
	for _, c := range cases {
		got, detail := p.SampleAmount(c.modality, c.task, c.attrs)
		if got != c.want || len(detail) != c.parts {
			t.Errorf("SampleAmount(%s, %s, %+v) = %d with %v, want %d in %d parts", c.modality, c.task, c.attrs, got, detail, c.want, c.parts)
		}
		var sum int64
		for _, d := range detail {
			sum += d.Amount
		}
		if sum != got {
			t.Errorf("parts %v sum to %d, not %d", detail, sum, got)
		}
	}
}

func TestRoyaltyPercent(t *testing.T) {
	for share, want := range map[float64]string{0.10: "10 %", 0.125: "12.5 %", 0: "0 %", 1: "100 %", 0.000001: "0.0001 %"} {
		if got := (Policy{RoyaltyShare: share}).RoyaltyPercent(); got != want {
			t.Errorf("RoyaltyPercent(%v) = %q, want %q", share, got, want)
		}
	}
}

func TestRoyaltyPool(t *testing.T) {
	p := Policy{RoyaltyShare: 0.10}
	for _, c := range []struct{ revenue, want int64 }{{100000, 10000}, {99999, 9999}, {9, 0}, {0, 0}} {
		if got := p.RoyaltyPool(c.revenue); got != c.want {
			t.Errorf("RoyaltyPool(%d) = %d, want %d", c.revenue, got, c.want)
		}
	}
	full := Policy{RoyaltyShare: 1}
	if got := full.RoyaltyPool(1<<62 + 7); got != 1<<62+7 {
		t.Errorf("a share of 1 keeps %d of %d", got, int64(1<<62+7))
	}
}

func TestPolicyDigestStable(t *testing.T) {
	a, _ := ParsePolicy("a.yaml", []byte(minimalPolicy))
	b, _ := ParsePolicy("b.json", []byte(`{"royaltyShare":0.1,"perUse":{"research":0,"clinical":50,"commercial":100},"id":"rehab-2026","currency":"EUR","perSample":{"video":800,"voice":300,"sensor":400,"pressure":500},"benefits":["personal progress report"]}`))
	da, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := b.Digest()
	if da != db {
		t.Errorf("the same policy in YAML and JSON has digests %s and %s", da, db)
	}
}
