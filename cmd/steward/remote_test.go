package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/synth"
)

// The tests in this file run commands through --server and compare their
// output with the same command on the local registry.

func TestConsentShowRemoteMatchesLocal(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	c.run("consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure,sensor")
	c.run("consent", "withdraw", "GaPt03", "--tiers", "commercial")
	steward := strings.TrimSpace(c.run("token", "issue", "--role", "steward", "--org", "gaitpdb"))
	url, _, _ := startServer(t, c)

	at := "2030-01-01T00:00:00Z"
	local := c.run("consent", "show", "GaPt03", "--at", at)
	remote := c.runRemote(url, steward, "consent", "show", "GaPt03", "--at", at)
	if strings.Contains(remote, "#0 ") {
		t.Errorf("consent show --server prints log index 0:\n%s", remote)
	}
	if remote != local {
		t.Errorf("consent show --server differs from the local command\nlocal:\n%s\nremote:\n%s", local, remote)
	}
}

// TestCompensationThroughServer runs every compensation command through
// --server: the writes as an admin, steward or participant token, and
// each read both ways, whose outputs must be equal.
func TestCompensationThroughServer(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(compensationPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	samples := registeredSamples(c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb")))
	admin := strings.TrimSpace(c.run("token", "issue", "--role", "admin"))
	steward := strings.TrimSpace(c.run("token", "issue", "--role", "steward", "--org", "gaitpdb"))
	other := strings.TrimSpace(c.run("token", "issue", "--role", "steward", "--org", "elsewhere"))
	auditor := strings.TrimSpace(c.run("token", "issue", "--role", "auditor"))
	participant := strings.TrimSpace(c.run("token", "issue", "--role", "participant", "--participant", "GaPt03"))
	url, _, _ := startServer(t, c)

	// Policies: an admin registers, a steward and an auditor read.
	mustContain(t, c.runRemote(url, admin, "policy", "add", policyFile), "registered policy rehab-2026@1")
	mustContain(t, c.runRemote(url, admin, "policy", "add", policyFile), "registered already, unchanged")
	mustContain(t, c.failRemote(url, steward, "policy", "add", policyFile), "403")
	sameOutput(t, c, url, steward, "policy", "list")
	sameOutput(t, c, url, auditor, "policy", "show", "rehab-2026@1")

	// Data checks: a steward checks its organisation's samples only.
	c.run("consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure")
	gapt03 := samples["GaPt03_01.txt"][0]
	mustContain(t, c.runRemote(url, steward, "sample", "pass", gapt03), gapt03+" passed; payment of EUR", "posted")
	mustContain(t, c.failRemote(url, other, "sample", "pass", gapt03), "404", `unknown sample "`+gapt03+`" in organisation "elsewhere"`)
	mustContain(t, c.failRemote(url, participant, "sample", "pass", gapt03), "403")
	mustContain(t, c.runRemote(url, steward, "sample", "reject", samples["JuPt03_02.txt"][0], "--reason", "signal dropouts"), "rejected")

	// The ledger: an admin posts, an auditor reads and verifies.
	out := c.runRemote(url, admin, "ledger", "transfer", "--from", "clinic", "--to", "participant:GaPt03", "--amount", "250", "--currency", "EUR", "--key", "bonus-1")
	mustContain(t, out, "posted: EUR 2.50 from clinic to participant:p-")
	mustContain(t, c.runRemote(url, admin, "ledger", "transfer", "--from", "clinic", "--to", "participant:GaPt03", "--amount", "250", "--currency", "EUR", "--key", "bonus-1"), "already posted with this key")
	mustContain(t, c.failRemote(url, admin, "ledger", "transfer", "--from", "clinic", "--to", "participant:GaPt03", "--amount", "999", "--currency", "EUR", "--key", "bonus-1"), "409")
	mustContain(t, c.failRemote(url, steward, "ledger", "transfer", "--from", "clinic", "--to", "participant:GaPt03", "--amount", "1", "--currency", "EUR", "--key", "bonus-2"), "403")
	mustContain(t, c.runRemote(url, admin, "ledger", "settle"), "pending payments decided")
	sameOutput(t, c, url, auditor, "ledger", "accounts")
	sameOutput(t, c, url, auditor, "ledger", "verify")

	// Revenue of a licensed release.
	bundle := filepath.Join(t.TempDir(), "release")
	out = c.run("release", "build", "--purpose", "commercial", "--licensee", "acme", "--out", bundle)
	release := regexp.MustCompile(`release (r-[0-9a-z]+)`).FindStringSubmatch(out)[1]
	mustContain(t, c.runRemote(url, admin, "revenue", "record", release, "10000", "--reference", "INV-1"), "revenue v-", "royalty pool EUR 10.00")
	mustContain(t, c.runRemote(url, admin, "revenue", "record", release, "10000", "--reference", "INV-1"), "recorded before with this reference")

	// Bank details: the participant sets their own, the IBAN is masked
	// unless asked for whole.
	mustContain(t, c.runRemote(url, participant, "payee", "set", "me", "--name", "=HYPERLINK(\"x\")", "--iban", "GB29 NWBK 6016 1331 9268 19"), "bank details of p-", "stored")
	mustContain(t, c.failRemote(url, participant, "payee", "set", "GaPt05", "--name", "Ada", "--iban", "GB29 NWBK 6016 1331 9268 19"), "403")
	sameOutput(t, c, url, steward, "payee", "show", "GaPt03", "--full")
	if masked := c.runRemote(url, steward, "payee", "show", "GaPt03"); strings.Contains(masked, "NWBK60161331926819") {
		t.Errorf("payee show without --full prints the whole IBAN: %s", masked)
	}

	// Payouts: an admin makes a batch and writes its files, an auditor
	// lists batches.
	pain := filepath.Join(dir, "payouts.xml")
	out = c.runRemote(url, admin, "payout", "export", "--format", "pain.001", "--out", pain, "--debtor-name", "Rehab Clinic", "--debtor-iban", "DE89370400440532013000")
	mustContain(t, out, "payments, EUR", "recorded as sent at log index", "pain.001 file of batch b-")
	batch := regexp.MustCompile(`batch (b-[0-9a-z]+)`).FindStringSubmatch(out)[1]
	csvFile := filepath.Join(dir, "payouts.csv")
	c.runRemote(url, admin, "payout", "export", "--batch", batch, "--format", "csv", "--out", csvFile)
	localCSV := filepath.Join(dir, "local.csv")
	c.run("payout", "export", "--batch", batch, "--format", "csv", "--out", localCSV)
	remoteBytes, _ := os.ReadFile(csvFile)
	localBytes, _ := os.ReadFile(localCSV)
	if !bytes.Equal(remoteBytes, localBytes) || !bytes.Contains(remoteBytes, []byte(`'=HYPERLINK`)) {
		t.Errorf("the CSV through the server differs from the local one or keeps the formula:\n%s\n%s", remoteBytes, localBytes)
	}
	mustContain(t, c.failRemote(url, auditor, "payout", "export", "--batch", batch, "--format", "csv", "--out", csvFile), "403")
	payment := regexp.MustCompile(`(t-[0-9a-z]+)`).FindString(c.runRemote(url, auditor, "payout", "list"))
	mustContain(t, c.runRemote(url, admin, "payout", "reject", batch, "--payments", payment, "--reason", "AC04"), "returned by transfer")
	sameOutput(t, c, url, auditor, "payout", "list")

	// Statements: the participant reads their own.
	local, remote := c.run("statement", "GaPt03"), c.runRemote(url, participant, "statement", "me")
	if local != remote {
		t.Errorf("statement through the server differs from the local one\nlocal:\n%s\nremote:\n%s", local, remote)
	}
	mustContain(t, remote, "payout t-", "returned", "royalty of revenue v-")
	mustContain(t, c.failRemote(url, participant, "statement", "GaPt05"), "403")
	mustContain(t, c.runRemote(url, participant, "payee", "erase", "me"), "deleted")
}

// sameOutput runs a command locally and through the server and fails when
// the outputs differ.
func sameOutput(t *testing.T, c *cli, url, token string, args ...string) {
	t.Helper()
	local := c.run(args...)
	remote := c.runRemote(url, token, args...)
	if local != remote {
		t.Errorf("steward %s: the output through the server differs from the local one\nlocal:\n%s\nremote:\n%s", strings.Join(args, " "), local, remote)
	}
}

func TestLocalCommandsRejectServer(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	backup := filepath.Join(t.TempDir(), "backup")
	for _, args := range [][]string{
		{"init"},
		{"backup", backup},
		{"restore", backup, filepath.Join(t.TempDir(), "restored")},
		{"migrate"},
		{"demo", "--dir", filepath.Join(t.TempDir(), "demo")},
		{"serve", "--listen", "127.0.0.1:0"},
	} {
		stderr := c.failRemote("http://127.0.0.1:9", "stw_x", args...)
		mustContain(t, stderr, "steward "+args[0]+" works on a registry folder on this machine", "without --server")
	}
	if _, err := os.Stat(backup); err == nil {
		t.Error("backup --server wrote a backup of the local registry")
	}
}

// TestIngestNotesThroughServer registers a file again with other metadata,
// and imports the data of an erased participant again, through --server:
// both print what the local command prints.
func TestIngestNotesThroughServer(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	admin := strings.TrimSpace(c.run("token", "issue", "--role", "admin"))
	url, _, _ := startServer(t, c)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "v.wav"), func(f *os.File) error { return synth.Vowel(f, 16000, 1, 1) })
	row := `{"path":"v.wav","participant":"P1","modality":"voice","format":"wav","samplingRate":16000,"collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":null,"protocol":"p","labelSchemaVersion":"1","consentVersion":"v1"}` + "\n"
	first := filepath.Join(dir, "first.jsonl")
	again := filepath.Join(dir, "again.jsonl")
	os.WriteFile(first, []byte(row), 0o644)
	os.WriteFile(again, []byte(strings.Replace(row, `"protocol":"p"`, `"protocol":"reading"`, 1)), 0o644)

	c.runRemote(url, admin, "ingest", first)
	mustContain(t, c.runRemote(url, admin, "ingest", again), "other values of protocol; the first registration's values are kept")
	mustContain(t, c.run("ingest", again), "other values of protocol; the first registration's values are kept")

	c.run("erase", "P1", "--yes")
	mustContain(t, c.runRemote(url, admin, "ingest", first), "skipped: first.jsonl line 1: its participant asked to be erased")
	mustContain(t, c.run("ingest", first), "skipped: first.jsonl line 1: its participant asked to be erased")
}
