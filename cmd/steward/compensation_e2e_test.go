package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/storage/pgtest"
)

// compensationPolicy is the policy of the end-to-end tests, written for
// them: the rates of a rehabilitation study in euro cents, with a bonus for
// women with Parkinson's disease, whom the study recruits.
const compensationPolicy = `id: rehab-2026
currency: EUR
perSample: {pressure: 500, sensor: 400, voice: 300, video: 800}
perUse: {commercial: 100, clinical: 50, research: 0}
royaltyShare: 0.10
benefits: [personal progress report]
bonuses:
  - {name: women-parkinsons, amount: 150, sex: female, condition: parkinsons}
`

var registeredLine = regexp.MustCompile(`registered (\S+) \(sha256:[0-9a-f]+\) as (s-[0-9a-z]+) of (p-[0-9a-z]+)`)

// registeredSamples returns the sample id and pseudonym of each file an
// import registered, by file name.
func registeredSamples(out string) map[string][2]string {
	m := map[string][2]string{}
	for _, match := range registeredLine.FindAllStringSubmatch(out, -1) {
		m[match[1]] = [2]string{match[2], match[3]}
	}
	return m
}

// minorUnits parses a decimal amount with two decimals, such as -12.50,
// into minor units.
func minorUnits(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("amount %q does not have two decimals", s)
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return n
}

// ledgerAccounts parses steward ledger accounts into each account's
// balance and pending credits, in minor units.
func ledgerAccounts(t *testing.T, out string) map[string][2]int64 {
	t.Helper()
	m := map[string][2]int64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("ledger accounts line %q", line)
		}
		m[f[0]] = [2]int64{minorUnits(t, f[2]), minorUnits(t, f[3])}
	}
	return m
}

var statementSums = regexp.MustCompile(`earned (-?[0-9.]+), paid out (-?[0-9.]+), balance (-?[0-9.]+) \(available -?[0-9.]+\); pending (-?[0-9.]+)`)

// TestCompensationOnRealData registers the public gait datasets under a
// policy, passes and rejects samples, licenses a release, records revenue,
// pays out twice with a bank rejection between, and reconciles every
// participant's statement with the ledger to the minor unit.
func TestCompensationOnRealData(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(compensationPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	mustContain(t, c.run("policy", "add", policyFile), "registered policy rehab-2026@1")

	// Bad policies name the field and change nothing.
	before := c.run("log", "verify")
	for edit, field := range map[string]string{
		"perSample: {pressure: -5}": "field perSample/pressure",
		"currency: EUX":             "field currency",
		"royaltyShare: 1.5":         "field royaltyShare",
		"perUse: {military: 1}":     `unknown tier "military"`,
		"perSample: {smell: 1}":     `unknown modality "smell"`,
	} {
		key := strings.SplitN(edit, ":", 2)[0]
		var lines []string
		for _, l := range strings.Split(compensationPolicy, "\n") {
			if !strings.HasPrefix(l, key+":") {
				lines = append(lines, l)
			}
		}
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte(strings.Join(append(lines, edit), "\n")), 0o644)
		mustContain(t, c.fail("policy", "add", bad), field)
	}
	if after := c.run("log", "verify"); after != before {
		t.Fatalf("a rejected policy changed the log:\nbefore: %safter:  %s", before, after)
	}

	samples := registeredSamples(c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb")))
	for name, s := range registeredSamples(c.run("import", "wfdb", sharedData(t, "physionet-gaitndd"))) {
		samples[name] = s
	}
	for _, name := range []string{"GaPt03_01.txt", "JuPt03_02.txt", "SiPt02_01.txt", "park1.hea", "control1.hea"} {
		if _, ok := samples[name]; !ok {
			t.Fatalf("%s was not registered: %v", name, samples)
		}
	}

	// Three participants consent to commercial use of pressure data; one
	// of them only after their sample is checked.
	c.run("consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure")
	c.run("consent", "grant", "JuPt03", "--document", "v1", "--tiers", "commercial", "--modalities", "pressure")
	c.run("consent", "grant", "park1", "--document", "v1", "--tiers", "commercial", "--modalities", "pressure,sensor")
	out := c.run("sample", "pass", samples["GaPt03_01.txt"][0], samples["JuPt03_02.txt"][0], samples["SiPt02_01.txt"][0], samples["park1.hea"][0])
	mustContain(t, out, samples["GaPt03_01.txt"][0]+" passed; payment of EUR", "posted", samples["SiPt02_01.txt"][0]+" passed; payment of EUR 6.50 pending")
	mustContain(t, c.run("sample", "reject", samples["control1.hea"][0], "--reason", "signal dropouts"), "rejected; payment of", "voided")
	mustContain(t, c.fail("sample", "pass", samples["control1.hea"][0]), "rejection is final")
	c.run("consent", "grant", "SiPt02", "--document", "v1", "--tiers", "commercial", "--modalities", "pressure")
	mustContain(t, c.run("statement", "SiPt02"), "posted", "sample "+samples["SiPt02_01.txt"][0], "policy rehab-2026@1", "bonus.women-parkinsons")

	// A licensed release includes only paid samples, and its licence
	// states the terms.
	bundle := filepath.Join(t.TempDir(), "release")
	out = c.run("release", "build", "--purpose", "commercial", "--licensee", "acme", "--out", bundle)
	mustContain(t, out, "release r-")
	releaseID := regexp.MustCompile(`release (r-[0-9a-z]+)`).FindStringSubmatch(out)[1]
	included := regexp.MustCompile(`: (\d+) of \d+ samples`).FindStringSubmatch(out)[1]
	if included == "0" {
		t.Fatalf("the release is empty:\n%s", out)
	}
	out = c.run("verify", bundle, "--key", filepath.Join(c.dir, "log.pub"))
	mustContain(t, out, included+" of "+included+" samples paid under compensation policy rehab-2026@1")
	licence, err := os.ReadFile(filepath.Join(bundle, "licence.json"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(licence), `"policy": "rehab-2026@1"`, `"perUse": "1.00"`)
	ld, _ := os.ReadFile(filepath.Join(bundle, "licence.jsonld"))
	mustContain(t, string(ld), `"@value": "`+included+`.00"`, "currency-EUR")
	if strings.Contains(string(ld), "/compensation-policy") {
		t.Error("licence.jsonld still refers to the policy instead of stating the amount")
	}

	out = c.run("revenue", "record", releaseID, "9999", "--reference", "INV-2026-001")
	mustContain(t, out, "royalty pool EUR 9.99", "platform share EUR 90.00")
	mustContain(t, c.run("revenue", "record", releaseID, "9999", "--reference", "INV-2026-001"), "recorded before with this reference")
	mustContain(t, c.fail("revenue", "record", releaseID, "5000", "--reference", "INV-2026-001"), "idempotency key conflict")

	// Bank details, then the payout batch, exported twice.
	c.run("payee", "set", "GaPt03", "--name", "Ga Participant", "--iban", "GB29 NWBK 6016 1331 9268 19")
	c.run("payee", "set", "JuPt03", "--name", "Ju Participant", "--iban", "FR1420041010050500013M02606")
	c.run("payee", "set", "park1", "--name", "Park Participant", "--iban", "NO9386011117947")
	mustContain(t, c.fail("payee", "set", "SiPt02", "--name", "X", "--iban", "DE89370400440532013001"), "check digits")
	debtor := []string{"--debtor-name", "Steward Rehab Clinic", "--debtor-iban", "DE89370400440532013000"}
	first := filepath.Join(dir, "batch.xml")
	out = c.run(append([]string{"payout", "export", "--format", "pain.001", "--out", first}, debtor...)...)
	mustContain(t, out, "3 payments", "skipped participant:"+samples["SiPt02_01.txt"][1])
	batchID := regexp.MustCompile(`batch (b-[0-9a-z]+)`).FindStringSubmatch(out)[1]
	validatePain001(t, first)
	mustContain(t, c.run(append([]string{"payout", "export", "--format", "pain.001", "--out", filepath.Join(dir, "again.xml")}, debtor...)...),
		"nothing to pay", "the newest batch is "+batchID, "steward payout export --batch "+batchID)

	// A write killed half-way leaves its temporary file; the next write to
	// the same path replaces and removes it.
	again := filepath.Join(dir, "batch-again.xml")
	stale := filepath.Join(dir, ".batch-again.xml.steward-payout")
	if err := os.WriteFile(stale, []byte("<Document>cut off"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.run("payout", "export", "--batch", batchID, "--format", "pain.001", "--out", again)
	if _, err := os.Stat(stale); err == nil {
		t.Error("the temporary file of a killed write is still there")
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(again)
	if string(a) != string(b) {
		t.Error("writing the batch file again gave another file")
	}

	// The bank rejects JuPt03's payment; the next batch pays it again.
	payments := regexp.MustCompile(`(t-[0-9a-z]+)\s+(p-[0-9a-z]+)\s+([0-9.]+)\s+sent`).FindAllStringSubmatch(c.run("payout", "list"), -1)
	var rejected string
	for _, p := range payments {
		if p[2] == samples["JuPt03_02.txt"][1] {
			rejected = p[1]
		}
	}
	if rejected == "" {
		t.Fatalf("no payment to JuPt03 in %v", payments)
	}
	mustContain(t, c.run("payout", "reject", batchID, "--payments", rejected, "--reason", "AC04"), "returned by transfer")
	mustContain(t, c.run("payout", "list"), "returned")
	c.run("payee", "set", "JuPt03", "--name", "Ju Participant", "--iban", "BE68 5390 0754 7034")
	mustContain(t, c.run(append([]string{"payout", "export", "--format", "csv", "--out", filepath.Join(dir, "batch2.csv")}, debtor...)...), "1 payments")

	// Every statement reconciles with the ledger to the minor unit, and the
	// ledger and the log verify.
	accounts := ledgerAccounts(t, c.run("ledger", "accounts"))
	var total, participants int64
	for id, a := range accounts {
		total += a[0]
		if strings.HasPrefix(id, "participant:") {
			participants += a[0]
		}
	}
	if total != 0 {
		t.Errorf("the balances of all accounts add up to %d, not 0", total)
	}
	var statements int64
	for _, participant := range []string{"GaPt03", "JuPt03", "SiPt02", "park1", "control1"} {
		out := c.run("statement", participant)
		m := statementSums.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("statement of %s has no sums:\n%s", participant, out)
		}
		earned, paidOut, balance, pending := minorUnits(t, m[1]), minorUnits(t, m[2]), minorUnits(t, m[3]), minorUnits(t, m[4])
		account := accounts["participant:"+regexp.MustCompile(`participant (p-[0-9a-z]+)`).FindStringSubmatch(out)[1]]
		if earned-paidOut != balance || balance != account[0] || pending != account[1] {
			t.Errorf("statement of %s (earned %d, paid out %d, balance %d, pending %d) does not reconcile with its account %v:\n%s",
				participant, earned, paidOut, balance, pending, account, out)
		}
		if strings.Contains(out, "warning") {
			t.Errorf("statement of %s warns:\n%s", participant, out)
		}
		statements += balance
	}
	if statements != participants {
		t.Errorf("the statements' balances add up to %d, the participant accounts to %d", statements, participants)
	}
	mustContain(t, c.run("ledger", "verify"), "ledger verified", "EUR: debits equal credits")
	mustContain(t, c.run("log", "verify", "--content"), "log verified")
}

// validatePain001 validates a file against the pain.001.001.10 XSD that
// github.com/moov-io/iso20022 ships, or skips without xmllint.
func validatePain001(t *testing.T, path string) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Log("xmllint is not installed, so the pain.001 file is not validated: install the Debian package libxml2-utils")
		return
	}
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moov-io/iso20022").Output()
	if err != nil {
		t.Fatalf("find module github.com/moov-io/iso20022: %v", err)
	}
	xsd := filepath.Join(strings.TrimSpace(string(dir)), "docs", "specifications", "payments_initiation_11", "pain.001.001.10_1.xsd")
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, path).CombinedOutput(); err != nil {
		t.Fatalf("xmllint rejects %s: %v\n%s", path, err, out)
	}
}

// TestM4ConcurrentTransfers funds the platform account with 100 and runs
// two steward processes at once that each move 80 out of it: one posts,
// the other is rejected as insufficient funds, and 20 remain. It runs on
// SQLite and, with STEWARD_TEST_POSTGRES, on PostgreSQL.
func TestM4ConcurrentTransfers(t *testing.T) {
	engines := map[string]func(t *testing.T) []string{
		"sqlite":   func(t *testing.T) []string { return nil },
		"postgres": func(t *testing.T) []string { return []string{"--db", pgtest.URL(t)} },
	}
	for name, initArgs := range engines {
		t.Run(name, func(t *testing.T) {
			c := newCLI(t)
			c.run(append([]string{"init"}, initArgs(t)...)...)
			c.run("ledger", "transfer", "--from", "clinic", "--to", "platform", "--amount", "100", "--currency", "EUR", "--key", "fund")

			var procs []*exec.Cmd
			var outputs []*strings.Builder
			for _, key := range []string{"a", "b"} {
				cmd := c.command("ledger", "transfer", "--from", "platform", "--to", "payable", "--amount", "80", "--currency", "EUR", "--key", key)
				out := &strings.Builder{}
				cmd.Stdout, cmd.Stderr = out, out
				procs, outputs = append(procs, cmd), append(outputs, out)
			}
			for _, p := range procs {
				if err := p.Start(); err != nil {
					t.Fatal(err)
				}
			}
			posted, rejected := 0, 0
			for i, p := range procs {
				err := p.Wait()
				switch {
				case err == nil && strings.Contains(outputs[i].String(), "posted"):
					posted++
				case err != nil && strings.Contains(outputs[i].String(), "insufficient funds"):
					rejected++
				default:
					t.Errorf("process %d: %v\n%s", i, err, outputs[i])
				}
			}
			if posted != 1 || rejected != 1 {
				t.Errorf("%d posted and %d rejected, want one of each", posted, rejected)
			}
			if balance := ledgerAccounts(t, c.run("ledger", "accounts"))["platform"][0]; balance != 20 {
				t.Errorf("platform balance %d, want 20", balance)
			}
			c.run("ledger", "verify")
		})
	}
}

// TestM8IdempotencyKeyCLI posts 500 with key K, 700 with K and 500 with K
// again: the second is a conflict that changes nothing, the third returns
// the first transfer.
func TestM8IdempotencyKeyCLI(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	transfer := func(amount string) []string {
		return []string{"ledger", "transfer", "--from", "clinic", "--to", "platform", "--amount", amount, "--currency", "EUR", "--key", "K"}
	}
	out := c.run(transfer("500")...)
	id := regexp.MustCompile(`transfer (t-[0-9a-z]+) posted`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("first posting:\n%s", out)
	}
	before := c.run("log", "verify")
	mustContain(t, c.fail(transfer("700")...), "idempotency key conflict", "EUR 5.00", "EUR 7.00")
	if after := c.run("log", "verify"); after != before {
		t.Errorf("the conflicting posting changed the log:\nbefore: %safter:  %s", before, after)
	}
	mustContain(t, c.run(transfer("500")...), "transfer "+id[1]+" already posted with this key")
	if balance := ledgerAccounts(t, c.run("ledger", "accounts"))["platform"][0]; balance != 500 {
		t.Errorf("platform balance %d, want 500", balance)
	}
}
