package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/release"
)

// A build killed after its release committed leaves the marker beside the
// output folder. Building into that folder again must point at export
// instead of logging the selection, and its per-use payments, once more.
func TestInterruptedBuildPointsAtExport(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("A", wavBytes(16000, 4000, 1), 16000)}}); err != nil {
		t.Fatal(err)
	}
	grantVoice(t, r, "A")
	clk.advance(time.Hour)
	out := filepath.Join(t.TempDir(), "rel")
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Licensee: "acme", Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := release.Pending(out); id != "" {
		t.Fatalf("a finished build left the marker for %s", id)
	}

	// The state a SIGKILL between commit and bundle leaves behind.
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := release.MarkPending(out, res.Release.ID); err != nil {
		t.Fatal(err)
	}
	before := logSize(t, r)
	_, err = r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Licensee: "acme", Out: out})
	if err == nil || !strings.Contains(err.Error(), "steward release export "+res.Release.ID) {
		t.Fatalf("build into the interrupted folder: %v, want a pointer to export", err)
	}
	if after := logSize(t, r); after != before {
		t.Errorf("the refused build grew the log from %d to %d entries", before, after)
	}

	// The killed write also left its staging folder.
	staging := filepath.Join(filepath.Dir(out), ".rel.steward-staging")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staging, "manifest.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Export writes the bundle, clears the marker and the staging folder.
	if err := r.ExportRelease(ctx, res.Release.ID, out, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(staging); err == nil {
		t.Error("the staging folder of the killed write is still there")
	}
	if id, _ := release.Pending(out); id != "" {
		t.Errorf("export left the marker for %s", id)
	}
	if _, err := release.Verify(out, r.VerifierKey()); err != nil {
		t.Errorf("verify the exported bundle: %v", err)
	}

	// A marker whose release never committed is stale and goes away.
	stale := filepath.Join(t.TempDir(), "stale")
	if err := release.MarkPending(stale, "r-neverlogged"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Licensee: "acme", Out: stale}); err != nil {
		t.Fatalf("build past a stale marker: %v", err)
	}
	if id, _ := release.Pending(stale); id != "" {
		t.Errorf("stale marker for %s left behind", id)
	}
}
