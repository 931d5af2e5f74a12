package registry

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/release"
)

// v2 is a major revision of the default form that adds licensing to third
// parties, written here as a test fixture.
func v2Document() consent.Document {
	d := consent.DefaultDocument()
	d.Version, d.Revision, d.Supersedes = "v2", consent.RevisionMajor, "v1"
	d.ChangedPurposes = []string{"commercial.third-party"}
	d.ThirdPartyTransfer = true
	d.Summary += "\nNew: companies may license your recordings to other companies."
	return d
}

// A minor revision may change the wording only: one that changes a choice
// of the form is rejected.
func TestMinorRevisionKeepsChoices(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	minor := consent.DefaultDocument()
	minor.Version, minor.Revision, minor.Supersedes = "v1.1", consent.RevisionMinor, "v1"
	minor.Summary += "\nClearer wording."
	changed := minor
	changed.Version, changed.ThirdPartyTransfer = "v1.2", true
	if _, err := r.AddDocument(ctx, changed); err == nil || !strings.Contains(err.Error(), "changes thirdPartyTransfer") {
		t.Errorf("minor revision allowing third parties: %v", err)
	}
	if _, err := r.AddDocument(ctx, minor); err != nil {
		t.Errorf("minor revision of the wording: %v", err)
	}
}

// TestConsentLifecycle runs a release through a withdrawal and an
// invalidation: the notices, their acknowledgement, the next major version,
// and verification of both bundles.
func TestConsentLifecycle(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.AddDocument(ctx, v2Document()); err != nil {
		t.Fatal(err)
	}
	var samples []SampleInput
	for i, p := range []string{"A", "B", "C"} {
		samples = append(samples, voiceSample(p, wavBytes(16000, 4000, byte(i)), 16000))
	}
	if _, err := r.Register(ctx, &Batch{Samples: samples}); err != nil {
		t.Fatal(err)
	}
	var grants = map[string]consent.Record{}
	for _, p := range []string{"A", "B", "C"} {
		rec, err := r.Grant(ctx, p, GrantInput{Document: "v1", Tiers: []string{"research", "commercial"}, Modalities: []string{"voice"}})
		if err != nil {
			t.Fatal(err)
		}
		grants[p] = rec
	}
	clk.advance(time.Hour)

	// C8 through the registry: v1 grants do not cover third-party licensing.
	third, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial.third-party", Out: filepath.Join(t.TempDir(), "third")})
	if err != nil {
		t.Fatal(err)
	}
	if third.Release.SampleCount != 0 || third.Trailer.Selection.Excluded[consent.ReasonNewDocument] != 3 {
		t.Fatalf("third-party release: %d samples, selection %+v", third.Release.SampleCount, third.Trailer.Selection)
	}

	first := filepath.Join(t.TempDir(), "first")
	rel1, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Licensee: "acme", Out: first})
	if err != nil {
		t.Fatal(err)
	}
	if rel1.Release.SampleCount != 3 || rel1.Release.Version != "1.0.0" {
		t.Fatalf("first release: %+v", rel1.Release)
	}
	clk.advance(time.Hour)

	// B withdraws commercial use; an ethics board voids C's grant.
	if _, err := r.Withdraw(ctx, "B", WithdrawInput{Tiers: []string{"commercial"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Invalidate(ctx, "C", grants["C"].ID, "ethics board", "signed without capacity"); err != nil {
		t.Fatal(err)
	}
	_, notices, err := r.ReleaseStatus(ctx, rel1.Release.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(notices) != 2 {
		t.Fatalf("%d notices, want 2: %+v", len(notices), notices)
	}
	reasons := map[string]string{}
	for _, n := range notices {
		reasons[n.Reason] = n.Action
	}
	if reasons[NoticeNarrowed] != ActionDelete || reasons[NoticeInvalidated] != ActionRetrain {
		t.Fatalf("notice reasons and actions %v", reasons)
	}

	// The licensee acknowledges; a second acknowledgement and a stranger's
	// are rejected.
	if _, err := r.Acknowledge(ctx, notices[0].ID, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Acknowledge(ctx, notices[0].ID, "acme"); err == nil {
		t.Error("second acknowledgement accepted")
	}
	if _, err := r.Acknowledge(ctx, notices[1].ID, "globex"); err == nil {
		t.Error("acknowledgement by another licensee accepted")
	}

	// The next release of the same selection is a new major version
	// without the revoked samples.
	clk.advance(time.Hour)
	second := filepath.Join(t.TempDir(), "second")
	rel2, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Licensee: "acme", Out: second})
	if err != nil {
		t.Fatal(err)
	}
	if rel2.Release.SampleCount != 1 || rel2.Release.Version != "2.0.0" || rel2.Release.Replaces != rel1.Release.ID {
		t.Fatalf("second release: %+v", rel2.Release)
	}

	// Both bundles verify: the first was lawful when it was built.
	for _, dir := range []string{first, second} {
		if _, err := release.Verify(dir, r.VerifierKey()); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
	}
	// Scanning again issues nothing new.
	if again, err := r.ScanNotices(ctx); err != nil || len(again) != 0 {
		t.Fatalf("scan after notices: %d new, %v", len(again), err)
	}
	if _, err := r.VerifyLog(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExpiredConsentNoticeFromScan(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("A", wavBytes(16000, 2000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	until := clk.now().Add(48 * time.Hour)
	if _, err := r.Grant(ctx, "A", GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}, Until: &until}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if _, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: filepath.Join(t.TempDir(), "b")}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.ScanNotices(ctx); err != nil || len(n) != 0 {
		t.Fatalf("scan before expiry: %v %v", n, err)
	}
	clk.advance(72 * time.Hour)
	n, err := r.ScanNotices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != 1 || n[0].Reason != NoticeExpired {
		t.Fatalf("scan after expiry: %+v", n)
	}
}

func TestGrantBeforeDocumentEffective(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("P1", wavBytes(16000, 1000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	doc := v2Document()
	doc.Effective = "2025-03-01"
	if _, err := r.AddDocument(ctx, doc); err != nil {
		t.Fatal(err)
	}
	early := GrantInput{Document: "v2", Tiers: []string{"research"}, Modalities: []string{"voice"}, SignedAt: day("2025-02-28")}
	if _, err := r.Grant(ctx, "P1", early); err == nil || !strings.Contains(err.Error(), "before document v2 came into use on 2025-03-01") {
		t.Fatalf("grant signed before the form existed: %v", err)
	}
	early.SignedAt = day("2025-03-01")
	if _, err := r.Grant(ctx, "P1", early); err != nil {
		t.Fatalf("grant signed on the first day: %v", err)
	}
}
