package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/steward-rehab/steward/internal/release"
)

// releaseWithDocuments registers two voice samples with research consent
// and builds a release for a licensee, with data.
func releaseWithDocuments(t *testing.T, terms release.Terms) (*Registry, *clock, *ReleaseResult, string) {
	t.Helper()
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	batch := &Batch{Samples: []SampleInput{
		voiceSample("P017", wavBytes(16000, 1600, 1), 16000),
		voiceSample("P018", wavBytes(16000, 800, 2), 16000),
	}}
	if _, err := r.Register(ctx, batch); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	for _, p := range []string{"P017", "P018"} {
		if _, err := r.Grant(ctx, p, GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}}); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Hour)
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research.rehabilitation", Licensee: "acme", Out: out, WithData: true, Terms: terms})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk, res, out
}

func TestReleaseBundleCarriesSignedDocuments(t *testing.T) {
	ctx := context.Background()
	r, _, res, out := releaseWithDocuments(t, release.Terms{})

	for _, name := range release.Documents {
		if _, ok := res.Trailer.Documents[name]; !ok {
			t.Errorf("manifest trailer lacks the digest of %s", name)
		}
		raw, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if release.Digest(raw) != res.Trailer.Documents[name] {
			t.Errorf("%s in the bundle differs from the digest the manifest commits to", name)
		}
		stored, err := r.readDocument(ctx, res.Release.ID, name)
		if err != nil {
			t.Fatalf("%s is not in the blob store: %v", name, err)
		}
		if !bytes.Equal(stored, raw) {
			t.Errorf("stored %s differs from the bundle's", name)
		}
	}

	rep, err := release.Verify(out, r.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(out, "*"))
	if err != nil {
		t.Fatal(err)
	}
	// Top-level files but the attestation, plus log/entries.jsonl and two
	// data files, less the two folders.
	if want := len(files) - 1 + 1 + 2 - 2; rep.Attested != want {
		t.Errorf("%d files attested, want %d", rep.Attested, want)
	}

	licence, err := os.ReadFile(filepath.Join(out, release.LicenceJSONLDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Agreement"`, release.LicenseeIRI(r.Origin(), "acme"), "2030-05-01T11:00:00Z"} {
		if !strings.Contains(string(licence), want) {
			t.Errorf("licence.jsonld lacks %s", want)
		}
	}

	var env dsse.Envelope
	raw, _ := os.ReadFile(filepath.Join(out, release.AttestationFile))
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.VerifierKey(), env.Signatures[0].KeyID+"+") {
		t.Errorf("attestation key id %s is not that of log.pub %s", env.Signatures[0].KeyID, r.VerifierKey())
	}
}

func TestReleaseTermsSetEndDate(t *testing.T) {
	until := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	_, _, _, out := releaseWithDocuments(t, release.Terms{Until: until})
	raw, err := os.ReadFile(filepath.Join(out, release.LicenceJSONLDFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"2026-12-31T00:00:00Z"`) {
		t.Error("licence.jsonld does not carry the supplied end date")
	}
	sheet, _ := os.ReadFile(filepath.Join(out, release.DatasheetFile))
	if !strings.Contains(string(sheet), "Use is permitted until 2026-12-31T00:00:00Z.") {
		t.Error("datasheet does not carry the supplied end date")
	}
}

// copyBundle copies a bundle folder so each tampering starts clean.
func copyBundle(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestVerifyDetectsTamperedDocuments(t *testing.T) {
	r, _, _, out := releaseWithDocuments(t, release.Terms{})
	flip := func(dir, name string) {
		p := filepath.Join(dir, name)
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.Replace(raw, []byte("e"), []byte("E"), 1)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		tamper func(dir string)
		want   []string
	}{
		{"licence.jsonld changed", func(d string) { flip(d, release.LicenceJSONLDFile) },
			[]string{"licence.jsonld was modified", "licence.jsonld: digest"}},
		{"metadata.json changed", func(d string) { flip(d, release.MetadataFile) },
			[]string{"metadata.json was modified", "metadata.json: digest"}},
		{"datasheet.html changed", func(d string) { flip(d, release.DatasheetHTMLFile) },
			[]string{"datasheet.html was modified", "datasheet.html: digest"}},
		{"metadata.json removed", func(d string) { os.Remove(filepath.Join(d, release.MetadataFile)) },
			[]string{"metadata.json: open", "subject metadata.json is missing from the bundle"}},
		{"attestation removed", func(d string) { os.Remove(filepath.Join(d, release.AttestationFile)) },
			[]string{"attestation.dsse.json: missing"}},
		{"attestation signature changed", func(d string) {
			p := filepath.Join(d, release.AttestationFile)
			var env dsse.Envelope
			raw, _ := os.ReadFile(p)
			json.Unmarshal(raw, &env)
			sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
			sig[0] ^= 1
			env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			raw, _ = json.Marshal(env)
			os.WriteFile(p, raw, 0o644)
		}, []string{"signature 1 is not a valid signature by the log key"}},
		{"file added", func(d string) { os.WriteFile(filepath.Join(d, "README.txt"), []byte("hi"), 0o644) },
			[]string{"README.txt is in the bundle but not a subject of attestation.dsse.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyBundle(t, out)
			c.tamper(dir)
			_, err := release.Verify(dir, r.VerifierKey())
			var ve *release.VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("err %v, want a verification error", err)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestExportSignsNewCheckpoint(t *testing.T) {
	ctx := context.Background()
	r, clk, res, first := releaseWithDocuments(t, release.Terms{})

	// A later change grows the log, so the export's proofs and attestation
	// are against a newer checkpoint.
	clk.advance(time.Hour)
	if _, err := r.Register(ctx, &Batch{Samples: []SampleInput{voiceSample("P019", wavBytes(16000, 400, 3), 16000)}}); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "export")
	if err := r.ExportRelease(ctx, res.Release.ID, second, false); err != nil {
		t.Fatal(err)
	}
	rep, err := release.Verify(second, r.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if rep.CheckpointSize <= res.Checkpoint.Size {
		t.Errorf("export is against checkpoint %d, not newer than the build's %d", rep.CheckpointSize, res.Checkpoint.Size)
	}
	for _, name := range release.Documents {
		a, _ := os.ReadFile(filepath.Join(first, name))
		b, _ := os.ReadFile(filepath.Join(second, name))
		if !bytes.Equal(a, b) {
			t.Errorf("exported %s differs from the built one", name)
		}
	}

	// The attestation of one export does not pass for the other.
	raw, _ := os.ReadFile(filepath.Join(first, release.AttestationFile))
	if err := os.WriteFile(filepath.Join(second, release.AttestationFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := release.Verify(second, r.VerifierKey()); err == nil || !strings.Contains(err.Error(), "predicate checkpoint size") {
		t.Fatalf("err %v, want a checkpoint mismatch", err)
	}
}

func TestExportWithoutStoredDocuments(t *testing.T) {
	ctx := context.Background()
	r, _, res, _ := releaseWithDocuments(t, release.Terms{})
	// A release built before licence.jsonld, datasheet.html and metadata.json
	// existed has none of them in the blob store.
	for _, name := range exportedDocuments {
		if err := r.blobs.Delete(ctx, releaseDocumentKey(res.Release.ID, name)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "export")
	if err := r.ExportRelease(ctx, res.Release.ID, out, false); err != nil {
		t.Fatal(err)
	}
	for _, name := range exportedDocuments {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s exported although it is not stored", name)
		}
	}
	// This release's manifest lists their digests, so verification names
	// each missing one.
	_, err := release.Verify(out, r.VerifierKey())
	for _, name := range exportedDocuments {
		if err == nil || !strings.Contains(err.Error(), name+": open") {
			t.Errorf("verification error %v does not name the missing %s", err, name)
		}
	}
}

func TestReleaseRejectsPastEndDate(t *testing.T) {
	r, clk := newTestRegistry(t)
	past := clk.now().Add(-time.Hour)
	_, err := r.BuildRelease(context.Background(), ReleaseSpec{Purpose: "research", Out: filepath.Join(t.TempDir(), "out"), Terms: release.Terms{Until: past}})
	if err == nil || !strings.Contains(err.Error(), "--until") {
		t.Fatalf("a licence that ended an hour ago: %v", err)
	}
}

// TestReleaseChecksOutputFirst builds releases to folders that cannot be
// written: each fails before anything is logged.
func TestReleaseChecksOutputFirst(t *testing.T) {
	r, _ := newTestRegistry(t)
	ctx := context.Background()
	size := func() uint64 {
		cp, err := r.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cp.Size
	}
	before := size()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for out, want := range map[string]string{
		full:                                  "exists and is not empty",
		file:                                  "is a file, not a folder",
		filepath.Join(file, "bundle"):         "cannot create its parent folder",
		filepath.Join("/proc", "nope", "out"): "cannot create its parent folder",
	} {
		_, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: out})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--out %s: %v, want %q", out, err, want)
		}
	}
	if _, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Modalities: []string{"voice", "voice"}, Out: filepath.Join(t.TempDir(), "x")}); err == nil || !strings.Contains(err.Error(), "modality voice is given twice") {
		t.Errorf("modality twice: %v", err)
	}
	if after := size(); after != before {
		t.Errorf("the log grew from %d to %d entries", before, after)
	}
}

// TestVerifyEmptyReleaseChecksHeader verifies a release that holds no
// sample: its compensation terms and consent documents are still checked
// and reported.
func TestVerifyEmptyReleaseChecksHeader(t *testing.T) {
	r, _ := newTestRegistry(t)
	addTestPolicy(t, r)
	out := filepath.Join(t.TempDir(), "empty")
	res, err := r.BuildRelease(context.Background(), ReleaseSpec{Purpose: "commercial", Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.SampleCount != 0 {
		t.Fatalf("%d samples, want none", res.Release.SampleCount)
	}
	rep, err := release.Verify(out, r.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.CompensationSummary(); !strings.Contains(got, "0 of 0 samples paid under compensation policy") {
		t.Errorf("summary %q", got)
	}
}
