package release

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

func TestCoverageExcludesUnpermittedPurposes(t *testing.T) {
	v1 := consent.DefaultDocument()
	v2 := consent.DefaultDocument()
	v2.Version, v2.Revision, v2.Supersedes = "v2", consent.RevisionMajor, "v1"
	v2.ChangedPurposes = []string{"commercial.product"}
	v2.ThirdPartyTransfer = true
	lib := consent.Library{"v1": v1.Terms(), "v2": v2.Terms()}
	signed := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	grant := func(who, doc string, modalities ...string) []consent.Record {
		return []consent.Record{{ID: who + doc, Participant: who, Action: consent.ActionGrant, Decision: consent.Permit,
			Document: doc, Tiers: []string{"commercial"}, Modalities: modalities, From: signed, SignedAt: signed}}
	}
	at := signed.Add(time.Hour)
	commercial, _ := consent.LookupPurpose("commercial")

	all := NewCoverage(commercial, lib, at)
	all.Add("A", "voice", grant("A", "v2", "voice"))
	all.Add("B", "voice", grant("B", "v2", "voice"))
	if got := all.Excluded(); got != nil {
		t.Errorf("every participant signed v2: excluded %v", got)
	}

	// A's voice grant is under v2 and the pressure grant under v1: the decision is
	// per modality, whatever order the samples come in.
	mixed := NewCoverage(commercial, lib, at)
	history := append(grant("A", "v2", "voice"), grant("A", "v1", "pressure")...)
	mixed.Add("A", "voice", history)
	mixed.Add("B", "voice", grant("B", "v2", "voice"))
	mixed.Add("A", "pressure", history)
	want := []string{"commercial.product", "commercial.third-party"}
	if got := mixed.Excluded(); !slices.Equal(got, want) {
		t.Errorf("excluded %v, want %v", got, want)
	}

	// A leaf purpose has nothing narrower to exclude.
	product, _ := consent.LookupPurpose("commercial.product")
	leaf := NewCoverage(product, lib, at)
	leaf.Add("A", "pressure", history)
	if got := leaf.Excluded(); got != nil {
		t.Errorf("leaf purpose: excluded %v", got)
	}
}

func TestCheckExcludedPurposes(t *testing.T) {
	rep := &Report{}
	checkExcludedPurposes([]string{"commercial.product"}, nil, rep)
	if rep.OK() || !strings.Contains(rep.Problems[0], "excludedPurposes lists none, but the bundled consent histories exclude commercial.product") {
		t.Errorf("a licence allowing an unpermitted use passed: %v", rep.Problems)
	}
	rep = &Report{}
	checkExcludedPurposes(nil, []string{"commercial.third-party"}, rep)
	if rep.OK() {
		t.Error("a licence prohibiting a permitted use passed")
	}
	rep = &Report{}
	checkExcludedPurposes([]string{"commercial.product"}, []string{"commercial.product"}, rep)
	if !rep.OK() {
		t.Errorf("matching lists: %v", rep.Problems)
	}
}

// BenchmarkCoverage measures the work a release build adds per included
// participant and modality: one decision for each narrower purpose.
func BenchmarkCoverage(b *testing.B) {
	v1 := consent.DefaultDocument()
	v1.ThirdPartyTransfer = true
	lib := consent.Library{"v1": v1.Terms()}
	signed := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	var history []consent.Record
	for i := range 10 {
		at := signed.Add(time.Duration(i) * 24 * time.Hour)
		history = append(history, consent.Record{ID: "g" + string(rune('a'+i)), Participant: "A", Action: consent.ActionGrant,
			Decision: consent.Permit, Document: "v1", Tiers: []string{"research", "commercial"},
			Modalities: []string{"voice", "pressure"}, From: at, SignedAt: at})
	}
	commercial, _ := consent.LookupPurpose("commercial")
	c := NewCoverage(commercial, lib, signed.Add(365*24*time.Hour))
	participants := []string{"A", "B"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Alternate participants so that every call decides.
		c.Add(participants[i%2], "voice", history)
	}
	if got := c.Excluded(); got != nil {
		b.Fatalf("excluded %v", got)
	}
}

// A licence allows the uses of its purpose and narrower ones, and the
// general uses of broader ones, but never a use of a sibling purpose.
func TestLicenceUsesFollowPurpose(t *testing.T) {
	care := "developing and validating tools for the care of patients"
	quality := "clinical quality improvement"
	product := "training and evaluating models in commercial products and services"
	development := "research and development by the licensee"
	analysis := "non-commercial scientific analysis"
	for _, c := range []struct {
		purpose  string
		excluded []string
		want     []string
		absent   []string
	}{
		{"clinical", nil, []string{care, quality}, nil},
		{"clinical", []string{"clinical.quality"}, []string{care}, []string{quality}},
		{"clinical.quality", nil, []string{quality}, []string{care}},
		{"commercial", nil, []string{product, development}, nil},
		{"commercial", []string{"commercial.product"}, []string{development}, []string{product}},
		{"commercial.third-party", nil, []string{development}, []string{product}},
		{"research.rehabilitation", nil, []string{analysis}, nil},
	} {
		tier, _ := consent.TierFor(c.purpose)
		lic := NewLicence(Header{Purpose: c.purpose, Tier: tier}, Trailer{ExcludedPurposes: c.excluded})
		for _, use := range c.want {
			if !slices.Contains(lic.AllowedUses, use) {
				t.Errorf("%s excluding %v: %q not allowed", c.purpose, c.excluded, use)
			}
		}
		for _, use := range c.absent {
			if slices.Contains(lic.AllowedUses, use) {
				t.Errorf("%s excluding %v: %q allowed", c.purpose, c.excluded, use)
			}
		}
	}
}
