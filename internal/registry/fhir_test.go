package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/fhirconsent"
	"github.com/steward-rehab/steward/internal/storage"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fhirTestRegistry returns a registry with documents v1 and v2 and the
// participant P017, who has one voice sample.
func fhirTestRegistry(t *testing.T) (*Registry, *clock) {
	t.Helper()
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.AddDocument(ctx, v2Document()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("P017", wavBytes(16000, 4000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	return r, clk
}

// buildHistory records grants (permit and deny, expiring, by a guardian,
// under v1 and v2), a withdrawal and an invalidation for P017.
func buildHistory(t *testing.T, r *Registry, clk *clock) {
	t.Helper()
	ctx := context.Background()
	until := day("2027-01-01")
	steps := []GrantInput{
		// The guardian consents while the participant is a minor; from
		// March 2024 on they consent themselves.
		{Document: "v1", Tiers: []string{"clinical"}, Modalities: []string{"video", "voice"}, SignedAt: day("2024-02-01"),
			Guardian: true, Assent: consent.AssentGiven, MajorityMonth: "2024-03"},
		{Document: "v1", Tiers: []string{"research", "commercial"}, Modalities: []string{"voice", "sensor"}, SignedAt: day("2024-03-01")},
		{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"pressure"}, From: day("2024-06-01"), Until: &until, SignedAt: day("2024-05-20"), Witness: "slp-2"},
		{Document: "v2", Tiers: []string{"commercial"}, Modalities: []string{"video"}, SignedAt: day("2024-07-01")},
		{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"pressure"}, Deny: true, From: day("2025-01-01"), Until: &until, SignedAt: day("2024-12-01")},
	}
	for i, in := range steps {
		if _, err := r.Grant(ctx, "P017", in); err != nil {
			t.Fatalf("grant %d: %v", i, err)
		}
	}

	// Commercial voice use is withdrawn, granted again, voided, and
	// granted once more.
	clk.advance(24 * time.Hour)
	if _, err := r.Withdraw(ctx, "P017", WithdrawInput{Tiers: []string{"commercial"}, Modalities: []string{"voice"}, At: day("2025-09-01")}); err != nil {
		t.Fatal(err)
	}
	clk.advance(24 * time.Hour)
	later, err := r.Grant(ctx, "P017", GrantInput{Document: "v2", Tiers: []string{"commercial"}, Modalities: []string{"voice"}, From: day("2025-10-01")})
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if _, err := r.Invalidate(ctx, "P017", later.ID, "ethics board", "signed without capacity"); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if _, err := r.Grant(ctx, "P017", GrantInput{Document: "v2", Tiers: []string{"commercial"}, Modalities: []string{"voice"}, From: day("2025-11-01")}); err != nil {
		t.Fatal(err)
	}
}

func sameDecisions(t *testing.T, a, b *Registry, refA, refB string) {
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
	for at := day("2024-01-01"); at.Before(day("2028-01-01")); at = at.Add(97 * time.Hour) {
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

func TestFHIRExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, clk := fhirTestRegistry(t)
	buildHistory(t, src, clk)

	for _, v := range []fhirconsent.Version{fhirconsent.R5, fhirconsent.R4} {
		out, err := src.ExportConsentFHIR(ctx, "P017", v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if strings.Contains(string(out), "P017") {
			t.Errorf("%s: export contains the source id P017", v)
		}
		again, err := src.ExportConsentFHIR(ctx, "P017", v)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(out) {
			t.Errorf("%s: two exports of one history differ", v)
		}

		dst, dstClock := fhirTestRegistry(t)
		dstClock.t = clk.t
		res, err := dst.ImportConsent(ctx, out, ImportOptions{Participant: "P017"})
		if err != nil {
			t.Fatalf("%s: import: %v", v, err)
		}
		if len(res.Records) == 0 || res.Consents == 0 {
			t.Fatalf("%s: import recorded %d records from %d consents", v, len(res.Records), res.Consents)
		}
		sameDecisions(t, src, dst, "P017", "P017")
		if _, err := dst.VerifyLog(ctx); err != nil {
			t.Fatalf("%s: log after import: %v", v, err)
		}
	}
}

func TestFHIRExportStatuses(t *testing.T) {
	ctx := context.Background()
	r, clk := fhirTestRegistry(t)
	buildHistory(t, r, clk)
	out, err := r.ExportConsentFHIR(ctx, "P017", fhirconsent.R5)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status": "entered-in-error"`, `"code": "NULLIFY"`, `"code": "withdraw"`, `"code": "WIT"`, `"reference": "#guardian"`, r.Origin()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lacks %s", want)
		}
	}
}

func logSize(t *testing.T, r *Registry) uint64 {
	t.Helper()
	var size uint64
	err := r.store.View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		size, err = tx.LogSize(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return size
}

func TestFHIRImportRejectsWholeFile(t *testing.T) {
	ctx := context.Background()
	src, clk := fhirTestRegistry(t)
	buildHistory(t, src, clk)
	out, err := src.ExportConsentFHIR(ctx, "P017", fhirconsent.R5)
	if err != nil {
		t.Fatal(err)
	}

	dst, dstClock := fhirTestRegistry(t)
	dstClock.t = clk.t
	before := logSize(t, dst)
	cases := map[string]struct {
		file []byte
		opts ImportOptions
		want string
	}{
		"unknown document":              {[]byte(strings.ReplaceAll(string(out), `"value": "v2"`, `"value": "v9"`)), ImportOptions{Participant: "P017"}, `"v9": unknown consent document`},
		"unknown participant":           {out, ImportOptions{Participant: "P999"}, `unknown participant "P999"`},
		"pseudonym of another registry": {out, ImportOptions{}, "names no participant of this registry"},
		"unknown fallback":              {out, ImportOptions{Participant: "P017", Document: "v7"}, `unknown consent document "v7"`},
		"bad DUO code":                  {[]byte(strings.Replace(string(out), `"code": "DUO:0000046"`, `"code": "DUO:9999999"`, 1)), ImportOptions{Participant: "P017"}, `"DUO:9999999": unknown DUO code`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := dst.ImportConsent(ctx, tc.file, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if after := logSize(t, dst); after != before {
				t.Fatalf("log grew from %d to %d entries after a rejected import", before, after)
			}
		})
	}
}
