package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/release"
)

// majorV2 is a consent document fixture: a major revision of the default v1
// form that adds licensing to third parties.
const majorV2 = `version: v2
title: Consent to use my rehabilitation recordings
language: en
revision: major
supersedes: v1
changedPurposes: [commercial.third-party]
tiers: [research, clinical, commercial]
modalities: [video, voice, sensor, pressure]
thirdPartyTransfer: true
derivatives: true
retentionYears: 10
summary: |
  As v1, and companies may also license your recordings to other companies.
text: |
  # Consent to use my rehabilitation recordings (version 2)

  Everything in version 1 applies. New: if you allow commercial use,
  companies may license your recordings to other companies.
`

var noticePattern = regexp.MustCompile(`notice (n-[a-z0-9]+) \(`)

// TestConsentLifecycleOnRealData runs documents v1 and v2, grants under v1,
// a release, a withdrawal and an invalidation, the revocation notices and
// their acknowledgement, release status on the old bundle, the next major
// release, a FHIR round trip into another registry, and verification of
// both bundles, on the PhysioNet gaitpdb recordings.
func TestConsentLifecycleOnRealData(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	pub := filepath.Join(c.dir, "log.pub")
	docs := t.TempDir()
	v2 := filepath.Join(docs, "consent-v2.yaml")
	if err := os.WriteFile(v2, []byte(majorV2), 0o644); err != nil {
		t.Fatal(err)
	}
	mustContain(t, c.run("consent", "document", "add", v2), "registered consent document v2 (major revision")
	mustContain(t, c.run("consent", "document", "list"), "v1", "v2", "changes commercial.third-party")
	// A form that revises v1 again forks it; the error names the file.
	fork := filepath.Join(docs, "consent-b1.yaml")
	if err := os.WriteFile(fork, []byte(strings.Replace(majorV2, "version: v2", "version: b1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustContain(t, c.fail("consent", "document", "add", fork), fork+": document b1 supersedes v1, which v2 already supersedes")

	start := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	for _, p := range []string{"GaPt03", "JuPt03", "SiPt02"} {
		out := c.run("consent", "grant", p, "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure", "--signed", start, "--from", start)
		mustContain(t, out, "note: form v1 was revised since; this grant does not cover commercial.third-party", "until the participant signs v2")
	}
	if out := c.run("consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research", "--modalities", "pressure", "--signed", start, "--from", start); strings.Contains(out, "note:") {
		t.Errorf("a research grant under v1 got a note about a commercial revision:\n%s", out)
	}
	out := c.run("consent", "show", "SiPt02")
	grant := regexp.MustCompile(`(c-[a-z0-9]+) grant permit`).FindStringSubmatch(out)
	if grant == nil {
		t.Fatalf("no grant in:\n%s", out)
	}

	// v1 grants do not cover what v2 added.
	third := filepath.Join(t.TempDir(), "third-party")
	mustContain(t, c.run("release", "build", "--purpose", "commercial.third-party", "--modality", "pressure", "--out", third),
		"0 of 7 samples", "purpose changed by a major revision not yet signed")

	bundle1 := filepath.Join(t.TempDir(), "release-1")
	out = c.run("release", "build", "--purpose", "commercial", "--modality", "pressure", "--licensee", "acme", "--out", bundle1, "--with-data")
	mustContain(t, out, "version 1.0.0: 4 of 7 samples")

	mustContain(t, c.fail("consent", "withdraw", "JuPt03", "--modalities", ""), "--modalities is empty")
	c.run("consent", "withdraw", "JuPt03", "--tiers", "commercial")
	c.run("consent", "invalidate", "SiPt02", grant[1], "--authority", "ethics board", "--reason", "signed without capacity")

	out = c.run("release", "status", bundle1)
	mustContain(t, out, "narrowed; delete 2 samples", "invalidated; delete-and-retrain 1 samples", "3 of 4 samples revoked since")
	notices := noticePattern.FindAllStringSubmatch(out, -1)
	if len(notices) != 2 {
		t.Fatalf("notices in:\n%s", out)
	}
	for _, n := range notices {
		mustContain(t, c.run("release", "ack", n[1], "--licensee", "acme"), "acknowledgement of "+n[1]+" by acme")
	}
	mustContain(t, c.run("release", "status", bundle1), "acknowledged by acme")

	// Verify of a folder whose build stopped before the bundle was written
	// names the release to export.
	stopped := filepath.Join(t.TempDir(), "stopped")
	if err := release.MarkPending(stopped, "r-stopped"); err != nil {
		t.Fatal(err)
	}
	mustContain(t, c.fail("verify", stopped, "--key", pub), "build of release r-stopped stopped before its bundle was written", "steward release export r-stopped")

	// A bundle whose manifest lost a sample is not the logged release.
	edited := filepath.Join(t.TempDir(), "edited")
	if err := os.CopyFS(edited, os.DirFS(bundle1)); err != nil {
		t.Fatal(err)
	}
	dropRevoked(t, filepath.Join(edited, "manifest.json"))
	mustContain(t, c.fail("release", "status", edited), "manifest digest", "differs from the", "steward release export")
	mustContain(t, c.fail("release", "ack", notices[0][1], "--licensee", "acme"), "already acknowledged")

	bundle2 := filepath.Join(t.TempDir(), "release-2")
	out = c.run("release", "build", "--purpose", "commercial", "--modality", "pressure", "--licensee", "acme", "--out", bundle2, "--with-data")
	mustContain(t, out, "version 2.0.0: 1 of 7 samples", "replaces r-", "consent withdrawn", "consent invalidated")

	for _, b := range []string{bundle1, bundle2} {
		mustContain(t, c.run("verify", b, "--key", pub), "verified", "attestation signed")
	}

	// FHIR export, then import into a second registry holding the same
	// recordings and consent documents: the decisions match at several
	// times.
	other := newCLI(t)
	other.run("init")
	other.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	other.run("consent", "document", "add", v2)
	for _, p := range []string{"GaPt03", "JuPt03", "SiPt02"} {
		file := filepath.Join(t.TempDir(), p+".json")
		c.run("consent", "export", p, "--fhir", "r5", "--out", file)
		if p == "SiPt02" {
			// Its only grant was invalidated: the export says so, and there
			// is nothing in force to import.
			mustContain(t, other.fail("consent", "import", file, "--participant", p), "nothing to import")
		} else {
			other.run("consent", "import", file, "--participant", p)
		}
		for _, at := range []string{start, time.Now().UTC().Format(time.RFC3339), time.Now().UTC().AddDate(1, 0, 0).Format(time.RFC3339)} {
			want := decisions(t, c, p, at)
			got := decisions(t, other, p, at)
			if got != want {
				t.Fatalf("%s at %s after the FHIR round trip:\n%s\nwant:\n%s", p, at, got, want)
			}
		}
	}
	c.run("log", "verify", "--content")
	other.run("log", "verify")

	// Erasing JuPt03 issues a third notice about samples already revoked:
	// each sample still counts once.
	c.run("erase", "JuPt03", "--yes")
	out = c.run("release", "status", bundle1)
	mustContain(t, out, "erased", "3 of 4 samples revoked since")
	if n := len(noticePattern.FindAllStringSubmatch(out, -1)); n != 3 {
		t.Fatalf("%d notices, want 3, in:\n%s", n, out)
	}
}

// dropRevoked rewrites a manifest without its first sample, keeping it
// valid JSON, as someone hiding a revoked sample from a status check would.
func dropRevoked(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(raw, []byte(`"samples": [`))
	if start < 0 {
		t.Fatalf("%s: no samples", path)
	}
	first := bytes.Index(raw[start:], []byte("\n    {"))
	if first < 0 {
		t.Fatalf("%s: no samples", path)
	}
	second := bytes.Index(raw[start+first+1:], []byte("\n    {"))
	if second < 0 {
		t.Fatalf("%s: fewer than two samples", path)
	}
	cut := append([]byte{}, raw[:start+first]...)
	cut = append(cut, raw[start+first+1+second:]...)
	if err := os.WriteFile(path, cut, 0o644); err != nil {
		t.Fatal(err)
	}
}
