package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/ledger/bankfile"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

// testPolicy pays 300 per voice sample, 100 per commercial use and 10 % of
// licence revenue. It was written for these tests.
const testPolicy = `id: rehab-2026
currency: EUR
perSample: {pressure: 500, sensor: 400, voice: 300, video: 800}
perUse: {commercial: 100, clinical: 50, research: 0}
royaltyShare: 0.10
benefits: [personal progress report]
`

var testDebtor = bankfile.Party{Name: "Steward Rehab Clinic", IBAN: "DE89370400440532013000"}

func addTestPolicy(t *testing.T, r *Registry) storage.StoredPolicy {
	t.Helper()
	p, err := ledger.ParsePolicy("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	stored, added, err := r.AddPolicy(context.Background(), p)
	if err != nil || !added {
		t.Fatalf("add policy: %v, added %v", err, added)
	}
	return stored
}

// registerVoices registers one voice sample per participant and returns the
// sample ids by participant.
func registerVoices(t *testing.T, r *Registry, seed byte, participants ...string) map[string]string {
	t.Helper()
	b := &Batch{}
	for i, p := range participants {
		b.Samples = append(b.Samples, voiceSample(p, wavBytes(16000, 4000, seed+byte(i)), 16000))
	}
	rep, err := r.Register(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, s := range rep.Samples {
		out[participants[i]] = s.Sample
	}
	return out
}

// paymentState returns the state of a sample's per-sample payment.
func paymentState(t *testing.T, r *Registry, sample string) string {
	t.Helper()
	var state string
	err := r.Store().View(context.Background(), func(tx storage.ReadTx) error {
		comps, err := tx.SampleCompensations(context.Background(), []string{sample})
		if c, ok := comps[sample]; ok {
			state = c.State()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func grantVoice(t *testing.T, r *Registry, participant string) {
	t.Helper()
	_, err := r.Grant(context.Background(), participant, GrantInput{Document: "v1", Tiers: []string{"research", "commercial"}, Modalities: []string{"voice"}})
	if err != nil {
		t.Fatal(err)
	}
}

func checkSample(t *testing.T, r *Registry, sample, outcome, reason string) CheckResult {
	t.Helper()
	res, err := r.CheckSamples(context.Background(), []string{sample}, outcome, reason)
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func TestPerSampleTriggers(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	addTestPolicy(t, r)
	samples := registerVoices(t, r, 10, "P1", "P2", "P3", "P4")
	for p, s := range samples {
		if got := paymentState(t, r, s); got != StatePending {
			t.Fatalf("%s: payment %q after registration, want pending", p, got)
		}
	}

	clk.advance(time.Hour)
	grantVoice(t, r, "P1")
	grantVoice(t, r, "P3")
	// Consent alone posts nothing: the sample is not checked yet.
	if got := paymentState(t, r, samples["P1"]); got != StatePending {
		t.Errorf("P1 after consent before checks: %s, want pending", got)
	}
	if res := checkSample(t, r, samples["P1"], event.CheckPassed, ""); res.Payment != StatePosted || res.Amount != 300 || !res.Changed {
		t.Errorf("P1 passed with consent: %+v, want posted 300", res)
	}
	if res := checkSample(t, r, samples["P3"], event.CheckRejected, "signal clipped"); res.Payment != StateVoided {
		t.Errorf("P3 rejected: %+v, want voided", res)
	}
	// Consent may arrive after the check.
	if res := checkSample(t, r, samples["P2"], event.CheckPassed, ""); res.Payment != StatePending {
		t.Errorf("P2 passed without consent: %+v, want pending", res)
	}
	grantVoice(t, r, "P2")
	if got := paymentState(t, r, samples["P2"]); got != StatePosted {
		t.Errorf("P2 after consent: %s, want posted", got)
	}
	// A withdrawal before the payment is posted voids it.
	grantVoice(t, r, "P4")
	if _, err := r.Withdraw(ctx, "P4", WithdrawInput{}); err != nil {
		t.Fatal(err)
	}
	if got := paymentState(t, r, samples["P4"]); got != StateVoided {
		t.Errorf("P4 after withdrawal: %s, want voided", got)
	}
	// A withdrawal after posting changes nothing.
	if _, err := r.Withdraw(ctx, "P1", WithdrawInput{}); err != nil {
		t.Fatal(err)
	}
	if got := paymentState(t, r, samples["P1"]); got != StatePosted {
		t.Errorf("P1 after a late withdrawal: %s, want posted", got)
	}

	// The same check again logs nothing; a rejection is final.
	if res := checkSample(t, r, samples["P2"], event.CheckPassed, ""); res.Changed {
		t.Errorf("second pass of P2 logged a check")
	}
	if _, err := r.CheckSamples(ctx, []string{samples["P3"]}, event.CheckPassed, ""); err == nil || !strings.Contains(err.Error(), "final") {
		t.Errorf("passing a rejected sample: %v, want an error saying a rejection is final", err)
	}
	if _, err := r.CheckSamples(ctx, []string{samples["P2"]}, event.CheckRejected, ""); err == nil {
		t.Error("a rejection without a reason was accepted")
	}
	if _, err := r.CheckSamples(ctx, []string{"s-nothing"}, event.CheckPassed, ""); !IsNotFound(err) {
		t.Errorf("unknown sample: %v", err)
	}

	verifyLedger(t, r)
	verifyRegistry(t, r)
}

// TestSettleWhenConsentBegins grants consent that begins next week: the
// payment stays pending until then, and ledger settle posts it. A partial
// withdrawal that leaves a tier in force voids nothing.
func TestSettleWhenConsentBegins(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	addTestPolicy(t, r)
	samples := registerVoices(t, r, 30, "P1", "P2")
	nextWeek := clk.now().Add(7 * 24 * time.Hour)
	if _, err := r.Grant(ctx, "P1", GrantInput{Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}, From: nextWeek}); err != nil {
		t.Fatal(err)
	}
	checkSample(t, r, samples["P1"], event.CheckPassed, "")
	if got := paymentState(t, r, samples["P1"]); got != StatePending {
		t.Fatalf("payment before the consent begins: %s, want pending", got)
	}
	if n, err := r.SettlePending(ctx); err != nil || n != 0 {
		t.Fatalf("settle before the consent begins: %d decided, %v", n, err)
	}
	clk.advance(8 * 24 * time.Hour)
	if n, err := r.SettlePending(ctx); err != nil || n != 1 {
		t.Fatalf("settle after the consent began: %d decided, %v; want 1", n, err)
	}
	if got := paymentState(t, r, samples["P1"]); got != StatePosted {
		t.Errorf("payment after settling: %s, want posted", got)
	}

	grantVoice(t, r, "P2")
	if _, err := r.Withdraw(ctx, "P2", WithdrawInput{Tiers: []string{"commercial"}}); err != nil {
		t.Fatal(err)
	}
	if got := paymentState(t, r, samples["P2"]); got != StatePending {
		t.Errorf("payment after withdrawing one of two tiers: %s, want pending", got)
	}
	verifyLedger(t, r)
}

// TestSampleBeforePolicy registers a sample before any policy exists: it
// has no payment until its data checks pass, which reserve one under the
// policy then in force.
func TestSampleBeforePolicy(t *testing.T) {
	r, _ := newTestRegistry(t)
	samples := registerVoices(t, r, 40, "P1")
	if got := paymentState(t, r, samples["P1"]); got != "" {
		t.Fatalf("payment %q without a policy", got)
	}
	addTestPolicy(t, r)
	grantVoice(t, r, "P1")
	if res := checkSample(t, r, samples["P1"], event.CheckPassed, ""); res.Payment != StatePosted || res.Amount != 300 {
		t.Errorf("check after the policy: %+v, want posted 300", res)
	}
	verifyLedger(t, r)
}

func TestAddPolicyVersions(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	first := addTestPolicy(t, r)
	if first.Policy.Version != 1 {
		t.Fatalf("first version %d", first.Policy.Version)
	}
	p, _ := ledger.ParsePolicy("p.yaml", []byte(testPolicy))
	again, added, err := r.AddPolicy(ctx, p)
	if err != nil || added || again.EventIndex != first.EventIndex {
		t.Errorf("the same policy again: added %v, %v", added, err)
	}
	p.PerSample["voice"] = 350
	second, added, err := r.AddPolicy(ctx, p)
	if err != nil || !added || second.Policy.Version != 2 {
		t.Fatalf("changed policy: version %d, added %v, %v", second.Policy.Version, added, err)
	}
	p.Version = 1
	if _, _, err := r.AddPolicy(ctx, p); err == nil {
		t.Error("other terms under an existing version were accepted")
	}
	got, err := r.PolicyByRef(ctx, "rehab-2026")
	if err != nil || got.Policy.Version != 2 {
		t.Errorf("newest version %+v, %v", got.Policy, err)
	}

	// Versions only go up: the newest registered policy is in force.
	p.Version, p.PerSample["voice"] = 5, 400
	if _, _, err := r.AddPolicy(ctx, p); err != nil {
		t.Fatalf("version 5: %v", err)
	}
	p.Version, p.PerSample["voice"] = 3, 450
	if _, _, err := r.AddPolicy(ctx, p); err == nil || !strings.Contains(err.Error(), "older than the registered version 5") {
		t.Errorf("version 3 after version 5: %v", err)
	}
}

// TestLicensedReleaseAndRoyalties builds a licensed release under a
// policy, verifies its payment evidence offline and splits revenue.
func TestLicensedReleaseAndRoyalties(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	addTestPolicy(t, r)
	samples := registerVoices(t, r, 60, "P1", "P2", "P3", "P4")
	clk.advance(time.Hour)
	for _, p := range []string{"P1", "P2", "P3"} {
		grantVoice(t, r, p)
		checkSample(t, r, samples[p], event.CheckPassed, "")
	}
	grantVoice(t, r, "P4") // consented, but its data checks are pending

	clk.advance(time.Hour)
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Licensee: "acme", Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.SampleCount != 3 || res.Trailer.Selection.Excluded[ExcludedUnchecked] != 1 {
		t.Fatalf("release of %d samples, selection %+v", res.Release.SampleCount, res.Trailer.Selection)
	}
	vrep, err := release.Verify(out, r.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if vrep.Compensated != 3 || vrep.CompensationPolicy != "rehab-2026@1" {
		t.Errorf("verify: %d samples compensated under %q", vrep.Compensated, vrep.CompensationPolicy)
	}
	acme := account(t, r, ledger.LicenseeAccount("acme"))
	if acme.Balance() != -300 {
		t.Errorf("licensee balance %d after 3 uses of 100, want -300", acme.Balance())
	}

	// 10 % of 10003 is 1000.3, so the pool is 1000: 334, 333 and 333 for
	// three equal contributors, and 9003 for the platform.
	rev, err := r.RecordRevenue(ctx, RevenueRequest{Release: res.Release.ID, Amount: 10003, Reference: "INV-1"})
	if err != nil {
		t.Fatal(err)
	}
	if rev.Revenue.RoyaltyPool != 1000 || rev.Platform.Amount != 9003 || len(rev.Royalties) != 3 {
		t.Fatalf("revenue %+v, platform %d, %d royalties", rev.Revenue, rev.Platform.Amount, len(rev.Royalties))
	}
	var parts []int64
	for _, t := range rev.Royalties {
		parts = append(parts, t.Amount)
	}
	if !reflect.DeepEqual(parts, []int64{334, 333, 333}) {
		t.Errorf("royalty parts %v in order of participant, want [334 333 333]", parts)
	}
	again, err := r.RecordRevenue(ctx, RevenueRequest{Release: res.Release.ID, Amount: 10003, Reference: "INV-1"})
	if err != nil || !again.Repeated || again.Revenue.ID != rev.Revenue.ID || len(again.Royalties) != 3 {
		t.Errorf("the same reference again: %+v, %v", again, err)
	}
	if _, err := r.RecordRevenue(ctx, RevenueRequest{Release: res.Release.ID, Amount: 5000, Reference: "INV-1"}); !IsKeyConflict(err) {
		t.Errorf("the same reference with another amount: %v, want a key conflict", err)
	}

	// An export after later events carries the same evidence.
	exported := filepath.Join(t.TempDir(), "export")
	if err := r.ExportRelease(ctx, res.Release.ID, exported, false); err != nil {
		t.Fatal(err)
	}
	if vrep, err := release.Verify(exported, r.VerifierKey()); err != nil || vrep.Compensated != 3 {
		t.Errorf("exported bundle: %v, %d samples compensated", err, vrep.Compensated)
	}

	// Each payment event is evidence the verifier needs: without one of
	// them in log/entries.jsonl the bundle fails.
	var m release.Manifest
	if _, _, err := release.DecodeManifest(openFile(t, filepath.Join(out, release.ManifestFile)), func(h release.Header, s release.Sample) error {
		m.Samples = append(m.Samples, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evidence := m.Samples[0].Evidence.Compensation
	if len(evidence) != 3 {
		t.Fatalf("evidence of %s: %v, want reserve, post and use", m.Samples[0].ID, evidence)
	}
	for i, idx := range evidence {
		tampered := filepath.Join(t.TempDir(), "bundle")
		if err := os.CopyFS(tampered, os.DirFS(out)); err != nil {
			t.Fatal(err)
		}
		dropEntry(t, filepath.Join(tampered, release.EntriesFile), idx)
		_, err := release.Verify(tampered, r.VerifierKey())
		if err == nil || !strings.Contains(err.Error(), "compensation event") {
			t.Errorf("bundle without payment event %d (%d of 3): %v, want a missing compensation event", idx, i+1, err)
		}
	}

	verifyLedger(t, r)
	verifyRegistry(t, r)
}

// TestM8IdempotencyKey posts 500 with key K, then 700 with K, then 500
// with K: the second is a conflict and changes nothing, the third returns
// the first.
func TestM8IdempotencyKey(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	req := TransferRequest{Debit: "clinic", Credit: "platform", Amount: 500, Currency: "EUR", Key: "K"}
	first, repeated, err := r.Transfer(ctx, req)
	if err != nil || repeated {
		t.Fatalf("first posting: %v, repeated %v", err, repeated)
	}
	size := logSize(t, r)

	req.Amount = 700
	if _, _, err := r.Transfer(ctx, req); !IsKeyConflict(err) {
		t.Fatalf("K with 700: %v, want a key conflict", err)
	}
	if logSize(t, r) != size || account(t, r, ledger.Platform).Balance() != 500 {
		t.Error("the conflicting posting changed the log or the balance")
	}

	req.Amount = 500
	third, repeated, err := r.Transfer(ctx, req)
	if err != nil || !repeated || third.ID != first.ID || third.EventIndex != first.EventIndex {
		t.Fatalf("K with 500 again: %+v, repeated %v, %v; want transfer %s", third, repeated, err, first.ID)
	}
	if logSize(t, r) != size || account(t, r, ledger.Platform).Balance() != 500 {
		t.Error("the repeated posting changed the log or the balance")
	}
	verifyLedger(t, r)
}

func TestTransferRejectsOverdraft(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	registerVoices(t, r, 80, "P1")
	if _, _, err := r.Transfer(ctx, TransferRequest{Debit: "clinic", Credit: "participant:P1", Amount: 100, Currency: "EUR", Key: "fund"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Transfer(ctx, TransferRequest{Debit: "participant:P1", Credit: "payable", Amount: 80, Currency: "EUR", Key: "a"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := r.Transfer(ctx, TransferRequest{Debit: "participant:P1", Credit: "payable", Amount: 80, Currency: "EUR", Key: "b"})
	if !IsInsufficientFunds(err) {
		t.Fatalf("second 80 from 100: %v, want insufficient funds", err)
	}
	for _, bad := range []TransferRequest{
		{Debit: "clinic", Credit: "participant:nobody", Amount: 1, Currency: "EUR", Key: "c"},
		{Debit: "clinic", Credit: "bank", Amount: 1, Currency: "EUR", Key: "d"},
		{Debit: "clinic", Credit: "platform", Amount: 1, Currency: "EUX", Key: "e"},
		{Debit: "clinic", Credit: "platform", Amount: 1, Currency: "EUR"},
		{Debit: "clinic", Credit: "platform", Amount: 0, Currency: "EUR", Key: "f"},
		{Debit: "platform", Credit: "platform", Amount: 1, Currency: "EUR", Key: "g"},
	} {
		if _, _, err := r.Transfer(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	verifyLedger(t, r)
}

// TestPayoutBatches pays two participants, exports the batch twice, takes
// a bank rejection and pays the rejected amount in the next batch.
func TestPayoutBatches(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	addTestPolicy(t, r)
	samples := registerVoices(t, r, 90, "P1", "P2", "P3")
	clk.advance(time.Hour)
	for _, p := range []string{"P1", "P2", "P3"} {
		grantVoice(t, r, p)
		checkSample(t, r, samples[p], event.CheckPassed, "")
	}
	for p, iban := range map[string]string{"P1": "GB29 NWBK 6016 1331 9268 19", "P2": "FR14 2004 1010 0505 0001 3M02 606"} {
		if _, err := r.SetPayee(ctx, p, PayeeInput{Name: "Holder of " + p, IBAN: iban}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.SetPayee(ctx, "P3", PayeeInput{Name: "X", IBAN: "GB28NWBK60161331926819"}); err == nil {
		t.Error("an IBAN with wrong check digits was accepted")
	}

	res, err := r.CreatePayoutBatch(ctx, PayoutSpec{Debtor: testDebtor})
	if err != nil {
		t.Fatal(err)
	}
	if res.Batch.Payments != 2 || res.Batch.Total != 600 || len(res.Skipped) != 1 {
		t.Fatalf("batch %+v, skipped %v", res.Batch, res.Skipped)
	}
	file1, err := r.PayoutFile(ctx, res.Batch.ID)
	if err != nil {
		t.Fatal(err)
	}
	file2, err := r.PayoutFile(ctx, res.Batch.ID)
	if err != nil || !reflect.DeepEqual(file1, file2) {
		t.Fatalf("the batch file differs when written again: %v", err)
	}
	// Nothing is due until something is earned or returned.
	if empty, err := r.CreatePayoutBatch(ctx, PayoutSpec{Debtor: testDebtor}); err != nil || empty.Batch.ID != "" {
		t.Fatalf("second batch %+v, %v; want none", empty, err)
	}

	var p2 storage.PayoutPayment
	for _, p := range res.Payments {
		if p.Amount == 300 && strings.HasPrefix(p.CreditorIBAN, "FR") {
			p2 = p
		}
	}
	returns, err := r.RejectPayments(ctx, res.Batch.ID, []RejectedPayment{{EndToEndID: p2.EndToEndID, Reason: "AC04"}})
	if err != nil || len(returns) != 1 || returns[0].Return.Amount != 300 {
		t.Fatalf("reject: %+v, %v", returns, err)
	}
	again, err := r.RejectPayments(ctx, res.Batch.ID, []RejectedPayment{{EndToEndID: p2.EndToEndID, Reason: "AC04"}})
	if err != nil || !again[0].Repeated || again[0].Return.ID != returns[0].Return.ID {
		t.Errorf("second rejection %+v, %v", again, err)
	}
	if _, err := r.RejectPayments(ctx, res.Batch.ID, []RejectedPayment{{EndToEndID: "t-unknown"}}); err == nil {
		t.Error("rejecting a payment not in the batch succeeded")
	}

	st, err := r.Statement(ctx, "P2")
	if err != nil {
		t.Fatal(err)
	}
	cs := st.Currencies[0]
	if cs.Account.Balance() != 300 || cs.PaidOut != 0 || !cs.Reconciles() {
		t.Errorf("P2 after the return: %+v", cs)
	}
	next, err := r.CreatePayoutBatch(ctx, PayoutSpec{Debtor: testDebtor})
	if err != nil || next.Batch.Payments != 1 || next.Batch.Total != 300 {
		t.Fatalf("batch after the return %+v, %v", next.Batch, err)
	}
	for _, p := range []string{"P1", "P2", "P3"} {
		st, err := r.Statement(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range st.Currencies {
			if !cs.Reconciles() {
				t.Errorf("%s: statement earned %d, pending %d, paid out %d does not reconcile with %+v", p, cs.Earned, cs.Pending, cs.PaidOut, cs.Account)
			}
		}
	}

	// Erasing the bank details keeps the payments but not the file.
	if _, err := r.ErasePayee(ctx, "P1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PayoutFile(ctx, res.Batch.ID); err == nil || !strings.Contains(err.Error(), "erased") {
		t.Errorf("file of a batch with erased details: %v", err)
	}

	// A return that states no reason is recorded as reason not specified.
	for _, p := range res.Payments {
		if p.EndToEndID == p2.EndToEndID {
			continue
		}
		unexplained, err := r.RejectPayments(ctx, res.Batch.ID, []RejectedPayment{{EndToEndID: p.EndToEndID}})
		if err != nil {
			t.Fatal(err)
		}
		if got := unexplained[0].Return.Reason; got != ReasonNotSpecified {
			t.Errorf("return without a reason recorded reason %q, want %s", got, ReasonNotSpecified)
		}
	}
	verifyLedger(t, r)
	verifyRegistry(t, r)
}

// TestLedgerVerifyFindsTampering edits the ledger tables behind the
// registry's back; each edit must be reported.
func TestLedgerVerifyFindsTampering(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		sql  string
		want string
	}{
		"balance edited":     {"UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id LIKE 'participant:%'", "its transfers give"},
		"amount edited":      {"UPDATE ledger_transfers SET amount = amount + 1 WHERE trigger_name = 'adjustment'", "differs from event"},
		"transfer removed":   {"DELETE FROM ledger_transfers WHERE trigger_name = 'adjustment'", "does not hold"},
		"transfer forged":    {"UPDATE ledger_transfers SET event_idx = 1 WHERE trigger_name = 'adjustment'", "not a ledger.transfer event"},
		"revenue split lost": {"UPDATE ledger_revenue SET royalty_pool = royalty_pool + 1", "royalty pool"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, clk := newTestRegistry(t)
			addTestPolicy(t, r)
			samples := registerVoices(t, r, 120, "P1")
			clk.advance(time.Hour)
			grantVoice(t, r, "P1")
			checkSample(t, r, samples["P1"], event.CheckPassed, "")
			if _, _, err := r.Transfer(ctx, TransferRequest{Debit: "clinic", Credit: "participant:P1", Amount: 50, Currency: "EUR", Key: "bonus"}); err != nil {
				t.Fatal(err)
			}
			res, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Licensee: "acme", Out: filepath.Join(t.TempDir(), "b")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.RecordRevenue(ctx, RevenueRequest{Release: res.Release.ID, Amount: 1000, Reference: "INV"}); err != nil {
				t.Fatal(err)
			}
			verifyLedger(t, r)

			db := r.Store().(*sqlstore.Store).DB()
			if _, err := db.ExecContext(ctx, c.sql); err != nil {
				t.Fatal(err)
			}
			_, err = r.VerifyLedger(ctx)
			var ve *LedgerVerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("verify after the edit: %v, want a LedgerVerificationError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("verify after the edit did not report %q:\n%v", c.want, err)
			}
		})
	}
}

func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// dropEntry removes the line of one event from a bundle's entries file.
func dropEntry(t *testing.T, path string, index uint64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		var e release.EntryProof
		if json.Unmarshal([]byte(line), &e) == nil && e.Index == index {
			continue
		}
		kept = append(kept, line)
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func verifyLedger(t *testing.T, r *Registry) *LedgerReport {
	t.Helper()
	rep, err := r.VerifyLedger(context.Background())
	if err != nil {
		t.Fatalf("verify ledger: %v", err)
	}
	return rep
}

func account(t *testing.T, r *Registry, id string) ledger.Account {
	t.Helper()
	var a ledger.Account
	err := r.Store().View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		if kind, ref, _ := ledger.ParseAccount(id); kind == ledger.KindParticipant {
			p, err := r.resolve(context.Background(), tx, ref)
			if err != nil {
				return err
			}
			id = ledger.ParticipantAccount(p.Pseudonym)
		}
		a, err = tx.Account(context.Background(), id, "EUR")
		return err
	})
	if err != nil {
		t.Fatalf("account %s: %v", id, err)
	}
	return a
}
