package server

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/release"
)

// TestAuditorVerifiesReleaseOffline downloads a release bundle with an
// auditor token and verifies it with the log's public key alone.
func TestAuditorVerifiesReleaseOffline(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	auditor := h.client(registry.RoleAuditor)

	releases, err := auditor.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(releases) != 2 {
		t.Fatalf("the auditor lists %d releases, want both", len(releases))
	}
	for _, rel := range releases {
		dir := filepath.Join(t.TempDir(), rel.ID)
		if err := auditor.ExportRelease(ctx, rel.ID, dir, false); err != nil {
			t.Fatalf("export %s as auditor: %v", rel.ID, err)
		}
		rep, err := release.Verify(dir, h.reg.VerifierKey())
		if err != nil {
			t.Fatalf("verify %s offline: %v", rel.ID, err)
		}
		if rep.Samples != rel.SampleCount || rep.DataPresent {
			t.Errorf("release %s verified %d samples (data present %v), want %d and no data", rel.ID, rep.Samples, rep.DataPresent, rel.SampleCount)
		}
	}

	// Recordings stay with licensees: an auditor gets the bundle without them.
	err = auditor.ExportRelease(ctx, h.releases["acme"], filepath.Join(t.TempDir(), "with-data"), true)
	if status := statusOf(err); status != http.StatusForbidden {
		t.Errorf("auditor export with data: %v, want 403", err)
	}
}
