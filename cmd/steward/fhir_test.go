package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/synth"
)

// ingestSensor registers one generated IMU recording for each participant.
func ingestSensor(t *testing.T, c *cli, participants ...string) {
	t.Helper()
	dir := t.TempDir()
	var rows []string
	for i, p := range participants {
		name := fmt.Sprintf("imu%d.tsv", i)
		writeFile(t, filepath.Join(dir, name), func(f *os.File) error { return synth.IMU(f, 100, 5, i) })
		rows = append(rows, fmt.Sprintf(`{"path":%q,"participant":%q,"modality":"sensor","format":"tsv","samplingRate":100,"channels":6,"timeUnit":"s","collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":"2025-01-01T00:00:00Z","protocol":"walk","labelSchemaVersion":"1","consentVersion":"v1"}`, name, p))
	}
	manifest := filepath.Join(dir, "m.jsonl")
	if err := os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run("ingest", manifest)
}

func TestConsentFHIRExportImport(t *testing.T) {
	src := newCLI(t)
	src.run("init")
	ingestSensor(t, src, "P1")
	src.run("consent", "grant", "P1", "--document", "v1", "--tiers", "research,commercial", "--modalities", "sensor,voice", "--signed", "2024-01-10")
	src.run("consent", "grant", "P1", "--document", "v1", "--tiers", "commercial", "--modalities", "sensor", "--deny", "--signed", "2024-02-01", "--until", "2030-12-31")
	src.run("consent", "withdraw", "P1", "--tiers", "research", "--modalities", "voice", "--witness", "slp-2")

	dir := t.TempDir()
	for _, v := range []string{"r5", "r4"} {
		file := filepath.Join(dir, "p1-"+v+".json")
		src.run("consent", "export", "P1", "--fhir", v, "--out", file)
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, string(raw), `"resourceType": "Bundle"`, `"code": "withdraw"`, `"code": "WIT"`)
		if strings.Contains(string(raw), "P1\"") {
			t.Fatalf("%s export names the source id P1", v)
		}
		if stdout := src.run("consent", "export", "P1", "--fhir", v); stdout != string(raw) {
			t.Fatalf("%s: export to standard output differs from --out", v)
		}

		dst := newCLI(t)
		dst.run("init")
		ingestSensor(t, dst, "Q1")
		out := dst.run("consent", "import", file, "--participant", "Q1")
		mustContain(t, out, "imported 3 consents of p-", "grant records and 1 withdrawals", "withdraw [research] [voice]")
		for _, at := range []string{"2024-01-15", "2024-03-01", "2031-06-01"} {
			want := decisions(t, src, "P1", at)
			if got := decisions(t, dst, "Q1", at); got != want {
				t.Fatalf("%s at %s: imported decisions\n%s\noriginal\n%s", v, at, got, want)
			}
		}
		mustContain(t, dst.run("consent", "import", file, "--participant", "Q1"), "nothing changed")

		// A new grant applies after the import as it does on the original.
		dst.run("consent", "grant", "Q1", "--document", "v1", "--tiers", "research", "--modalities", "voice")
		if got, want := decisions(t, dst, "Q1", "2031-06-01"), decisions(t, src, "P1", "2031-06-01"); got == want {
			t.Fatalf("%s: the test needs the grant to change the decisions", v)
		}
	}
	src.run("consent", "grant", "P1", "--document", "v1", "--tiers", "research", "--modalities", "voice")
	for _, v := range []string{"r5", "r4"} {
		dst := newCLI(t)
		dst.run("init")
		ingestSensor(t, dst, "Q1")
		dst.run("consent", "import", filepath.Join(dir, "p1-"+v+".json"), "--participant", "Q1")
		dst.run("consent", "grant", "Q1", "--document", "v1", "--tiers", "research", "--modalities", "voice")
		if got, want := decisions(t, dst, "Q1", "2031-06-01"), decisions(t, src, "P1", "2031-06-01"); got != want {
			t.Fatalf("%s after the same new grant: imported decisions\n%s\noriginal\n%s", v, got, want)
		}
	}
}

// decisions returns the decision table of steward consent show.
func decisions(t *testing.T, c *cli, participant, at string) string {
	t.Helper()
	out := c.run("consent", "show", participant, "--at", at)
	_, table, ok := strings.Cut(out, "decisions at")
	if !ok {
		t.Fatalf("consent show printed no decisions:\n%s", out)
	}
	return table
}

func TestConsentFHIRImportRejects(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	ingestSensor(t, c, "P1")
	dir := t.TempDir()
	before := c.run("log", "checkpoint")
	cases := map[string]struct {
		body string
		want []string
	}{
		"malformed JSON": {`{"resourceType": "Consent",`, []string{"invalid JSON"}},
		"not a Consent":  {`{"resourceType": "Patient", "id": "x"}`, []string{"resourceType", "not a Consent"}},
		"period ends before it starts": {`{"resourceType": "Consent", "id": "c1", "status": "active", "date": "2024-01-01", "decision": "permit",
			"provision": [{"period": {"start": "2025-01-01", "end": "2024-01-01"}}]}`, []string{"Consent/c1", "Consent.provision[0].period", "ends before it starts"}},
		"unknown modality": {`{"resourceType": "Consent", "id": "c2", "status": "active", "date": "2024-01-01", "decision": "permit",
			"provision": [{"documentType": [{"system": "https://steward-rehab.github.io/fhir/CodeSystem/modality", "code": "eeg"}]}]}`, []string{"Consent/c2", "documentType[0].code", `"eeg"`, "unknown modality"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if err := os.WriteFile(file, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			stderr := c.fail("consent", "import", file, "--participant", "P1")
			mustContain(t, stderr, tc.want...)
		})
	}
	if after := c.run("log", "checkpoint"); after != before {
		t.Fatalf("rejected imports changed the log:\nbefore %s\nafter %s", before, after)
	}
}
