package registry

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/release"
)

// majorRevision returns a major revision of the default form that changes
// the given purposes.
func majorRevision(version, supersedes string, changed ...string) consent.Document {
	d := consent.DefaultDocument()
	d.Version, d.Revision, d.Supersedes = version, consent.RevisionMajor, supersedes
	d.ChangedPurposes = changed
	d.Summary += "\nChanged in " + version + ": " + strings.Join(changed, ", ") + "."
	return d
}

// grantCommercialVoice registers a voice sample of participant and records
// their grant of the commercial tier for voice under v1.
func grantCommercialVoice(t *testing.T, r *Registry, participant string, seed byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample(participant, wavBytes(16000, 4000, seed), 16000)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Grant(ctx, participant, GrantInput{Document: "v1", Tiers: []string{"commercial"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
}

// A release for a broad purpose includes a participant who has not signed
// the revision of a narrower purpose. Its licence must not allow that use,
// and verify must reach the same list from the bundle alone.
func TestReleaseLicenceExcludedPurposes(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.AddDocument(ctx, majorRevision("v2", "v1", "commercial.product")); err != nil {
		t.Fatal(err)
	}
	samples := []SampleInput{
		voiceSample("A", wavBytes(16000, 4000, 1), 16000),
		voiceSample("B", wavBytes(16000, 4000, 2), 16000),
	}
	if _, err := r.Register(ctx, &Batch{Samples: samples}); err != nil {
		t.Fatal(err)
	}
	for p, doc := range map[string]string{"A": "v1", "B": "v2"} {
		if _, err := r.Grant(ctx, p, GrantInput{Document: doc, Tiers: []string{"commercial"}, Modalities: []string{"voice"}}); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Hour)

	productUse := "training and evaluating models in commercial products and services"
	check := func(name string, wantExcluded []string, wantProduct bool) {
		t.Helper()
		out := filepath.Join(t.TempDir(), name)
		res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Out: out})
		if err != nil {
			t.Fatal(err)
		}
		if res.Release.SampleCount != 2 {
			t.Fatalf("%s: %d samples, want 2", name, res.Release.SampleCount)
		}
		if !slices.Equal(res.Trailer.ExcludedPurposes, wantExcluded) {
			t.Errorf("%s: excluded purposes %v, want %v", name, res.Trailer.ExcludedPurposes, wantExcluded)
		}
		var lic release.Licence
		raw, err := os.ReadFile(filepath.Join(out, release.LicenceFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &lic); err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(lic.AllowedUses, productUse); got != wantProduct {
			t.Errorf("%s: licence allows product use: %v, want %v (%v)", name, got, wantProduct, lic.AllowedUses)
		}
		prohibited := strings.Join(lic.ProhibitedUses, "\n")
		ld, err := os.ReadFile(filepath.Join(out, release.LicenceJSONLDFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"commercial.product", "commercial.third-party"} {
			want := slices.Contains(wantExcluded, code)
			if got := strings.Contains(prohibited, "("+code+")"); got != want {
				t.Errorf("%s: licence.json prohibits %s: %v, want %v", name, code, got, want)
			}
			if got := strings.Contains(string(ld), release.PurposeIRI(code)); got != want {
				t.Errorf("%s: licence.jsonld names %s: %v, want %v", name, code, got, want)
			}
		}
		if _, err := release.Verify(out, r.VerifierKey()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A signed v1, and v2 changed its product purpose. Neither form allows
	// licensing to third parties.
	check("before", []string{"commercial.product", "commercial.third-party"}, false)

	// Once A signs v2, every participant permits product use.
	if _, err := r.Grant(ctx, "A", GrantInput{Document: "v2", Tiers: []string{"commercial"}, Modalities: []string{"voice"}}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	check("after", []string{"commercial.third-party"}, true)
}

// A major revision takes effect when it is registered, so its notices are
// issued in the same transaction, not at the next scan.
func TestMajorRevisionIssuesNotices(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	grantCommercialVoice(t, r, "A", 1)
	clk.advance(time.Hour)
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial.product", Out: filepath.Join(t.TempDir(), "rel")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.SampleCount != 1 {
		t.Fatalf("release has %d samples, want 1", res.Release.SampleCount)
	}
	clk.advance(time.Hour)

	if _, err := r.AddDocument(ctx, majorRevision("v2", "v1", "commercial.product")); err != nil {
		t.Fatal(err)
	}
	_, notices, err := r.ReleaseStatus(ctx, res.Release.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 {
		t.Fatalf("%d notices after the revision, want 1", len(notices))
	}
	if notices[0].Reason != NoticeRevised {
		t.Errorf("notice reason %q, want %q", notices[0].Reason, NoticeRevised)
	}
	if issued, err := r.ScanNotices(ctx); err != nil || len(issued) != 0 {
		t.Errorf("scan after the revision issued %d notices (%v), want 0", len(issued), err)
	}
	if _, err := r.VerifyLog(ctx); err != nil {
		t.Errorf("log verify: %v", err)
	}
}

// Each form has one line of revisions: a second revision of the same
// version is rejected and names the newest one to revise.
func TestRevisionOfRevisedDocumentRejected(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.AddDocument(ctx, majorRevision("v2", "v1", "research")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddDocument(ctx, majorRevision("v3", "v2", "research")); err != nil {
		t.Fatal(err)
	}
	_, err := r.AddDocument(ctx, majorRevision("b1", "v1", "research"))
	if err == nil {
		t.Fatal("a second revision of v1 was accepted")
	}
	if !strings.Contains(err.Error(), "v2 already supersedes") {
		t.Errorf("error %q does not name the existing revision", err)
	}
	if !strings.Contains(err.Error(), "revise the newest version, v3") {
		t.Errorf("error %q does not name the newest version", err)
	}
}

// A major revision that cannot be signed before its effective date would
// stop use at once, so it is rejected until that date.
func TestMajorRevisionEffectiveLaterRejected(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	v2 := majorRevision("v2", "v1", "research")
	v2.Effective = clk.now().AddDate(0, 0, 2).Format(time.DateOnly)
	if _, err := r.AddDocument(ctx, v2); err == nil || !strings.Contains(err.Error(), "register it on or after "+v2.Effective) {
		t.Errorf("major revision effective in two days: %v", err)
	}
	clk.advance(72 * time.Hour)
	if _, err := r.AddDocument(ctx, v2); err != nil {
		t.Errorf("the same revision once effective: %v", err)
	}
}

// A revision of a narrower purpose ends the licence of a broader release
// that allowed it, so that release gets a notice too. A release built
// after the revision already prohibits the purpose and gets none.
func TestNarrowerRevisionNoticesBroadRelease(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	grantCommercialVoice(t, r, "A", 1)
	clk.advance(time.Hour)
	before, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Out: filepath.Join(t.TempDir(), "before")})
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)

	if _, err := r.AddDocument(ctx, majorRevision("v2", "v1", "commercial.product")); err != nil {
		t.Fatal(err)
	}
	_, notices, err := r.ReleaseStatus(ctx, before.Release.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || notices[0].Reason != NoticeRevised {
		t.Fatalf("notices on the commercial release after the product revision: %+v, want one revised", notices)
	}

	clk.advance(time.Hour)
	after, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Out: filepath.Join(t.TempDir(), "after")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(after.Trailer.ExcludedPurposes, "commercial.product") {
		t.Fatalf("release after the revision excludes %v", after.Trailer.ExcludedPurposes)
	}
	clk.advance(time.Hour)
	if _, err := r.AddDocument(ctx, majorRevision("v3", "v2", "commercial.product")); err != nil {
		t.Fatal(err)
	}
	if _, notices, err := r.ReleaseStatus(ctx, after.Release.ID); err != nil || len(notices) != 0 {
		t.Errorf("notices on a release that already prohibited product use: %+v, %v", notices, err)
	}
	if _, err := r.VerifyLog(ctx); err != nil {
		t.Errorf("log verify: %v", err)
	}
}
