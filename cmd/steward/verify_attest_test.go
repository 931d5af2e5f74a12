package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/synth"
)

// TestVerifyChecksAttestation builds a bundle with the CLI, then checks that
// steward verify reports the attestation and names what failed in each
// tampered copy.
func TestVerifyChecksAttestation(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	dir := t.TempDir()
	var rows []string
	for i := 0; i < 2; i++ {
		name := fmt.Sprintf("imu%d.tsv", i)
		writeFile(t, filepath.Join(dir, name), func(f *os.File) error { return synth.IMU(f, 100, 5, i) })
		rows = append(rows, fmt.Sprintf(`{"path":%q,"participant":"P%d","modality":"sensor","format":"tsv","samplingRate":100,"channels":6,"timeUnit":"s","collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":"2025-01-01T00:00:00Z","protocol":"walk","labelSchemaVersion":"1","consentVersion":"v1"}`, name, i))
	}
	manifest := filepath.Join(dir, "m.jsonl")
	if err := os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run("ingest", manifest)
	for i := 0; i < 2; i++ {
		c.run("consent", "grant", fmt.Sprintf("P%d", i), "--document", "v1", "--tiers", "research", "--modalities", "sensor")
	}
	good := filepath.Join(t.TempDir(), "bundle")
	c.run("release", "build", "--purpose", "research", "--out", good, "--with-data")
	pub := filepath.Join(c.dir, "log.pub")
	// Ten files: manifest, two licences, two datasheets, metadata,
	// checkpoint and log entries, plus the two recordings.
	mustContain(t, c.run("verify", good, "--key", pub), "attestation signed by", "covers all 10 files")

	for name, tc := range map[string]struct {
		edit func(dir string)
		want string
	}{
		"unknown payload type": {func(d string) {
			editJSON(t, filepath.Join(d, "attestation.dsse.json"), func(m map[string]any) { m["payloadType"] = "text/plain" })
		}, `unknown payload type "text/plain"`},
		"no signature": {func(d string) {
			editJSON(t, filepath.Join(d, "attestation.dsse.json"), func(m map[string]any) { m["signatures"] = []any{} })
		}, "carries no signature"},
		"unknown key": {func(d string) {
			editJSON(t, filepath.Join(d, "attestation.dsse.json"), func(m map[string]any) {
				m["signatures"].([]any)[0].(map[string]any)["keyid"] = "intruder.example+01234567"
			})
		}, `signature 1 is by the unknown key "intruder.example+01234567"`},
		"edited metadata": {func(d string) {
			editJSON(t, filepath.Join(d, "metadata.json"), func(m map[string]any) { m["version"] = "9.0.0" })
		}, "metadata.json was modified"},
		"edited ODRL licence": {func(d string) {
			editJSON(t, filepath.Join(d, "licence.jsonld"), func(m map[string]any) { m["@graph"] = []any{} })
		}, "licence.jsonld was modified"},
		"edited datasheet page": {func(d string) {
			os.WriteFile(filepath.Join(d, "datasheet.html"), []byte("<p>all clear</p>"), 0o644)
		}, "datasheet.html was modified"},
		"extra file": {func(d string) {
			os.WriteFile(filepath.Join(d, "extra.csv"), []byte("a,b\n"), 0o644)
		}, "extra.csv is in the bundle but not a subject of attestation.dsse.json"},
	} {
		t.Run(name, func(t *testing.T) {
			copyDir := filepath.Join(t.TempDir(), "bundle")
			if err := os.CopyFS(copyDir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			tc.edit(copyDir)
			mustContain(t, c.fail("verify", copyDir, "--key", pub), tc.want)
		})
	}
}
