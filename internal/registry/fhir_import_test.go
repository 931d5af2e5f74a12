package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/fhirconsent"
)

// compareOnGrid fails when two participants' histories decide any purpose
// and modality differently at any of the times, and when neither permits
// anything, which would prove nothing.
func compareOnGrid(t *testing.T, a, b *Registry, refA, refB string, times []time.Time) {
	t.Helper()
	ctx := context.Background()
	_, ra, liba, err := a.ConsentHistory(ctx, refA)
	if err != nil {
		t.Fatal(err)
	}
	_, rb, libb, err := b.ConsentHistory(ctx, refB)
	if err != nil {
		t.Fatal(err)
	}
	permits := 0
	for _, at := range times {
		for _, p := range consent.Purposes() {
			for _, m := range fhirconsent.Modalities {
				want := consent.Decide(ra, liba, p.Code, m, at)
				got := consent.Decide(rb, libb, p.Code, m, at)
				if got.Decision != want.Decision {
					t.Fatalf("%s/%s at %s: imported %s, original %s", p.Code, m, at.Format(time.RFC3339), got.Decision, want.Decision)
				}
				if want.Permitted() {
					permits++
				}
			}
		}
	}
	if permits == 0 {
		t.Fatal("the history permits nothing, so the comparison proves nothing")
	}
}

// everyFewDays returns times from 2024 to 2029, 97 hours apart, so that
// they fall at every hour of the day over the years.
func everyFewDays() []time.Time {
	var out []time.Time
	for at := day("2024-01-01"); at.Before(day("2029-01-01")); at = at.Add(97 * time.Hour) {
		out = append(out, at)
	}
	return out
}

// TestFHIRImportKeepsFutureBehaviour exports a history with a withdrawal,
// imports it, then records the same new grant on both registries: the
// imported participant must be permitted again wherever the original is.
func TestFHIRImportKeepsFutureBehaviour(t *testing.T) {
	ctx := context.Background()
	for _, v := range []fhirconsent.Version{fhirconsent.R5, fhirconsent.R4} {
		t.Run(string(v), func(t *testing.T) {
			src, clk := fhirTestRegistry(t)
			buildHistory(t, src, clk)
			clk.advance(24 * time.Hour)
			if _, err := src.Withdraw(ctx, "P017", WithdrawInput{Tiers: []string{"research", "commercial"}, Modalities: []string{"voice", "sensor"}}); err != nil {
				t.Fatal(err)
			}
			out, err := src.ExportConsentFHIR(ctx, "P017", v)
			if err != nil {
				t.Fatal(err)
			}

			dst, dstClock := fhirTestRegistry(t)
			dstClock.t = clk.t
			res, err := dst.ImportConsent(ctx, out, ImportOptions{Participant: "P017"})
			if err != nil {
				t.Fatal(err)
			}
			withdrawals := 0
			for _, rec := range res.Records {
				if rec.Action == consent.ActionWithdraw {
					withdrawals++
				}
			}
			if withdrawals != 2 {
				t.Errorf("import recorded %d withdrawals, want the 2 of the history", withdrawals)
			}
			compareOnGrid(t, src, dst, "P017", "P017", everyFewDays())

			// The same grant, a day later, on both.
			clk.advance(24 * time.Hour)
			dstClock.t = clk.t
			again := GrantInput{Document: "v2", Tiers: []string{"research", "commercial"}, Modalities: []string{"voice", "sensor"}, From: day("2024-01-01")}
			for _, r := range []*Registry{src, dst} {
				if _, err := r.Grant(ctx, "P017", again); err != nil {
					t.Fatal(err)
				}
			}
			compareOnGrid(t, src, dst, "P017", "P017", append(everyFewDays(), clk.t, clk.t.Add(time.Hour)))
			_, records, lib, err := dst.ConsentHistory(ctx, "P017")
			if err != nil {
				t.Fatal(err)
			}
			if d := consent.Decide(records, lib, "research", "voice", clk.t.Add(time.Hour)); !d.Permitted() {
				t.Errorf("imported participant after the new grant: %s, want permit", d.Decision)
			}
		})
	}
}

func TestFHIRImportTwiceChangesNothing(t *testing.T) {
	ctx := context.Background()
	src, clk := fhirTestRegistry(t)
	buildHistory(t, src, clk)
	out, err := src.ExportConsentFHIR(ctx, "P017", fhirconsent.R5)
	if err != nil {
		t.Fatal(err)
	}
	dst, dstClock := fhirTestRegistry(t)
	dstClock.t = clk.t
	first, err := dst.ImportConsent(ctx, out, ImportOptions{Participant: "P017"})
	if err != nil {
		t.Fatal(err)
	}
	before := logSize(t, dst)

	second, err := dst.ImportConsent(ctx, out, ImportOptions{Participant: "P017"})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Records) != 0 || len(second.Unchanged) != first.Consents {
		t.Errorf("second import: %d records, %d of %d consents unchanged; want none and all", len(second.Records), len(second.Unchanged), first.Consents)
	}
	if after := logSize(t, dst); after != before {
		t.Errorf("the second import grew the log from %d to %d entries", before, after)
	}

	// The same content with other whitespace is the same resource.
	reindented := strings.ReplaceAll(string(out), "\n  ", "\n    ")
	if res, err := dst.ImportConsent(ctx, []byte(reindented), ImportOptions{Participant: "P017"}); err != nil || len(res.Records) != 0 {
		t.Errorf("reindented import: %v, %d records", err, len(res.Records))
	}

	// A changed resource under the same id is an error that names it.
	var changedID string
	parsed, err := fhirconsent.Parse(out, "")
	if err != nil {
		t.Fatal(err)
	}
	changedID = parsed.Consents[1].ID
	changed := strings.Replace(string(out), `"date": "2024-03-01"`, `"date": "2024-03-02"`, 1)
	if changed == string(out) {
		t.Fatal("the fixture has no Consent dated 2024-03-01 to change")
	}
	_, err = dst.ImportConsent(ctx, []byte(changed), ImportOptions{Participant: "P017"})
	if err == nil || !strings.Contains(err.Error(), changedID) || !strings.Contains(err.Error(), "other content") {
		t.Errorf("changed resource: %v, want an error naming %s", err, changedID)
	}
	if after := logSize(t, dst); after != before {
		t.Errorf("the rejected import grew the log from %d to %d entries", before, after)
	}

	// Importing into the registry the file came from changes nothing: the
	// Consents are the participant's own records.
	size := logSize(t, src)
	res, err := src.ImportConsent(ctx, out, ImportOptions{})
	if err != nil || len(res.Records) != 0 {
		t.Errorf("import into the source registry: %v, %d records", err, len(res.Records))
	}
	if after := logSize(t, src); after != size {
		t.Errorf("importing its own export grew the source log from %d to %d entries", size, after)
	}
}

func TestFHIRImportChecksSubject(t *testing.T) {
	ctx := context.Background()
	r, clk := fhirTestRegistry(t)
	buildHistory(t, r, clk)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("P018", wavBytes(16000, 4000, 2), 16000)}}); err != nil {
		t.Fatal(err)
	}
	p017, _, _, err := r.ConsentHistory(ctx, "P017")
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.ExportConsentFHIR(ctx, "P017", fhirconsent.R5)
	if err != nil {
		t.Fatal(err)
	}
	before := logSize(t, r)

	// The export names P017 by pseudonym: it may not become P018's.
	_, err = r.ImportConsent(ctx, out, ImportOptions{Participant: "P018"})
	if err == nil || !strings.Contains(err.Error(), p017.Pseudonym) || !strings.Contains(err.Error(), "P018") {
		t.Errorf("import of P017's consent for P018: %v, want an error naming both", err)
	}

	// A subject named by source id, in another system's identifier.
	bySource := `{"resourceType": "Consent", "id": "ext-1", "status": "active", "date": "2025-01-02", "decision": "permit",
	  "subject": {"identifier": {"system": "urn:example:mrn", "value": "P017"}},
	  "policyBasis": {"reference": {"identifier": {"system": "` + fhirconsent.IdentifierDocument + `", "value": "v1"}}},
	  "provision": [{"purpose": [{"system": "` + fhirconsent.SystemPurpose + `", "code": "research"}, {"system": "` + fhirconsent.SystemPurpose + `", "code": "research.health"}, {"system": "` + fhirconsent.SystemPurpose + `", "code": "research.rehabilitation"}]}]}`
	_, err = r.ImportConsent(ctx, []byte(bySource), ImportOptions{Participant: "P018"})
	if err == nil || !strings.Contains(err.Error(), "names participant P017") || !strings.Contains(err.Error(), "P018") {
		t.Errorf("import of a Consent about P017 for P018: %v, want an error naming both", err)
	}
	if after := logSize(t, r); after != before {
		t.Errorf("rejected imports grew the log from %d to %d entries", before, after)
	}
	res, err := r.ImportConsent(ctx, []byte(bySource), ImportOptions{})
	if err != nil || res.Participant != p017.Pseudonym || len(res.Records) == 0 {
		t.Errorf("import by source id without --participant: %v, participant %s, want %s", err, res.Participant, p017.Pseudonym)
	}

	// A subject that names no participant here leaves the choice to
	// --participant.
	unknown := strings.Replace(strings.Replace(bySource, `"value": "P017"`, `"value": "MRN-0042"`, 1), `"id": "ext-1"`, `"id": "ext-2"`, 1)
	res, err = r.ImportConsent(ctx, []byte(unknown), ImportOptions{Participant: "P018"})
	if err != nil || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "MRN-0042") {
		t.Errorf("import with an unknown subject for P018: %v, notes %v", err, res)
	}
}

// A steward scoped to one organisation may not import another
// organisation's participant's consent, for them or for its own.
func TestImportConsentOtherOrganisation(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	batch := &Batch{Samples: []SampleInput{
		withNamespace(voiceSample("A", wavBytes(16000, 4000, 1), 16000), "clinic-a"),
		withNamespace(voiceSample("B", wavBytes(16000, 4000, 2), 16000), "clinic-b"),
	}}
	if _, err := r.Register(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Grant(ctx, "clinic-a:A", GrantInput{Document: "v1", Tiers: []string{"commercial"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	out, err := r.ExportConsentFHIR(ctx, "clinic-a:A", fhirconsent.R5)
	if err != nil {
		t.Fatal(err)
	}
	before := logSize(t, r)

	if _, err := r.ImportConsent(ctx, out, ImportOptions{Participant: "clinic-b:B", Namespace: "clinic-b"}); err == nil || !strings.Contains(err.Error(), "not clinic-b:B for whom it is imported") {
		t.Errorf("import of clinic-a's consent for clinic-b's participant: %v", err)
	}
	if _, err := r.ImportConsent(ctx, out, ImportOptions{Namespace: "clinic-b"}); err == nil || !strings.Contains(err.Error(), "no participant your organisation manages") {
		t.Errorf("import of clinic-a's consent by clinic-b: %v", err)
	}
	if after := logSize(t, r); after != before {
		t.Errorf("rejected imports grew the log from %d to %d entries", before, after)
	}
}
