package registry

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// TestErasureMovesMoneyToUnclaimed erases a participant who holds a posted
// balance, a pending payment and a payment the bank will return, and whose
// release later earns revenue. None of it stays on their account. All of it
// reaches the unclaimed account by logged transfers, and payouts never list
// them.
func TestErasureMovesMoneyToUnclaimed(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	addTestPolicy(t, r)
	samples := registerVoices(t, r, 110, "P1", "P2")
	clk.advance(time.Hour)
	for _, p := range []string{"P1", "P2"} {
		grantVoice(t, r, p)
		checkSample(t, r, samples[p], event.CheckPassed, "")
		if _, err := r.SetPayee(ctx, p, PayeeInput{Name: "Holder of " + p, IBAN: "GB29 NWBK 6016 1331 9268 19"}); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Hour)
	rel, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Licensee: "acme", Out: filepath.Join(t.TempDir(), "bundle")})
	if err != nil {
		t.Fatal(err)
	}

	// P1 is paid out, and the bank will reject that payment after the
	// erasure. P1 then earns another sample payment, still pending, and
	// the per-use payment of the release stays on their account.
	batch, err := r.CreatePayoutBatch(ctx, PayoutSpec{Debtor: testDebtor})
	if err != nil || batch.Batch.Payments != 2 {
		t.Fatalf("first batch %+v, %v", batch, err)
	}
	var p1Payment storage.PayoutPayment
	p1 := account(t, r, "participant:P1").ID
	for _, p := range batch.Payments {
		if ledger.ParticipantAccount(p.Participant) == p1 {
			p1Payment = p
		}
	}
	pending := registerVoices(t, r, 120, "P1")["P1"]
	if state := paymentState(t, r, pending); state != "pending" {
		t.Fatalf("new sample's payment is %s, want pending", state)
	}
	if _, _, err := r.Transfer(ctx, TransferRequest{Debit: "clinic", Credit: "participant:P1", Amount: 250, Currency: "EUR", Key: "bonus"}); err != nil {
		t.Fatal(err)
	}

	clk.advance(time.Hour)
	rep, err := r.Erase(ctx, "P1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.PaymentsVoided != 1 {
		t.Errorf("erasure voided %d pending payments, want 1", rep.PaymentsVoided)
	}
	if len(rep.Unclaimed) != 1 || rep.Unclaimed[0].Amount != 250 || rep.Unclaimed[0].Credit != ledger.Unclaimed {
		t.Errorf("erasure moved %+v, want EUR 2.50 to the unclaimed account", rep.Unclaimed)
	}
	if state := paymentState(t, r, pending); state != "voided" {
		t.Errorf("pending payment after the erasure is %s, want voided", state)
	}

	// Late credits: the bank returns P1's payout, and the release earns
	// revenue that P1 shares.
	returns, err := r.RejectPayments(ctx, batch.Batch.ID, []RejectedPayment{{EndToEndID: p1Payment.EndToEndID, Reason: "AC04"}})
	if err != nil || len(returns) != 1 {
		t.Fatalf("reject: %+v, %v", returns, err)
	}
	rev, err := r.RecordRevenue(ctx, RevenueRequest{Release: rel.Release.ID, Amount: 10000, Reference: "INV-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Unclaimed) != 1 || rev.Unclaimed[0].Amount != 500 {
		t.Errorf("revenue moved %+v to the unclaimed account, want P1's royalty of 500", rev.Unclaimed)
	}

	after := account(t, r, p1)
	if after.Balance() != 0 || after.Available() != 0 || after.CreditsPending != after.DebitsPending {
		t.Errorf("erased participant's account %+v, want nothing on it", after)
	}
	unclaimed := account(t, r, ledger.Unclaimed)
	if want := int64(250 + p1Payment.Amount + 500); unclaimed.Balance() != want {
		t.Errorf("unclaimed balance %d, want %d", unclaimed.Balance(), want)
	}
	st, err := r.Statement(ctx, rep.Participant)
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range st.Currencies {
		if !cs.Reconciles() {
			t.Errorf("statement of the erased participant does not reconcile: %+v", cs)
		}
	}

	// A release built after the erasure leaves the erased participant out,
	// so no per-use payment reaches them.
	clk.advance(time.Hour)
	later, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "commercial", Licensee: "globex", Out: filepath.Join(t.TempDir(), "later")})
	if err != nil {
		t.Fatal(err)
	}
	if later.Release.SampleCount != 1 {
		t.Errorf("release after the erasure has %d samples, want only P2's", later.Release.SampleCount)
	}

	// Payouts skip the erased participant, and no transfer may credit them.
	next, err := r.CreatePayoutBatch(ctx, PayoutSpec{Debtor: testDebtor})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range next.Skipped {
		if a.ID == p1 {
			t.Errorf("payout skips the erased participant with a balance of %d", a.Available())
		}
	}
	if _, _, err := r.Transfer(ctx, TransferRequest{Debit: "clinic", Credit: p1, Amount: 1, Currency: "EUR", Key: "late"}); err == nil || !strings.Contains(err.Error(), "was erased") {
		t.Errorf("transfer to the erased participant: %v, want a rejection", err)
	}
	if _, err := r.CheckSamples(ctx, []string{pending}, event.CheckPassed, ""); err == nil || !strings.Contains(err.Error(), "was erased") {
		t.Errorf("check of an erased participant's sample: %v, want a rejection", err)
	}
	if _, _, err := r.Transfer(ctx, TransferRequest{Debit: ledger.Unclaimed, Credit: "clinic", Amount: unclaimed.Balance(), Currency: "EUR", Key: "return-unclaimed"}); err != nil {
		t.Errorf("moving unclaimed money back to the clinic: %v", err)
	}
	verifyLedger(t, r)
	verifyRegistry(t, r)
}

func TestErasureRevokesTokens(t *testing.T) {
	ctx := context.Background()
	r, clk := newTestRegistry(t)
	registerVoices(t, r, 130, "P1", "P2")
	api, err := r.IssueToken(ctx, TokenSpec{Role: RoleParticipant, Participant: "P1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.IssueToken(ctx, TokenSpec{Role: RoleParticipant, Participant: "P2"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := r.IssueSignInLink(ctx, "P1", api.Token.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	session, err := r.ExchangeSignIn(ctx, link.Secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	unused, err := r.IssueSignInLink(ctx, "P1", api.Token.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	clk.advance(time.Minute)
	rep, err := r.Erase(ctx, "P1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.TokensRevoked != 3 {
		t.Errorf("erasure revoked %d tokens, want the API token, the session and the unused link", rep.TokensRevoked)
	}
	if _, err := r.Authenticate(ctx, api.Secret, storage.TokenAPI); err != ErrUnauthenticated {
		t.Errorf("API token after erasure: %v, want ErrUnauthenticated", err)
	}
	if _, err := r.Authenticate(ctx, session.Secret, storage.TokenSession); err != ErrUnauthenticated {
		t.Errorf("session after erasure: %v, want ErrUnauthenticated", err)
	}
	if _, err := r.ExchangeSignIn(ctx, unused.Secret, time.Hour); err != ErrUnauthenticated {
		t.Errorf("sign-in link after erasure: %v, want ErrUnauthenticated", err)
	}
	if _, err := r.Authenticate(ctx, other.Secret, storage.TokenAPI); err != nil {
		t.Errorf("another participant's token after the erasure: %v", err)
	}
	if _, err := r.IssueToken(ctx, TokenSpec{Role: RoleParticipant, Participant: rep.Participant}); err == nil || !strings.Contains(err.Error(), "was erased") {
		t.Errorf("token for the erased participant: %v, want a rejection", err)
	}

	// The API token's revocation is logged with its reason, in the
	// erasure's transaction, so both are in the log before either is seen.
	var revoked event.AccessRevoked
	found := false
	err = r.Store().View(ctx, func(tx storage.ReadTx) error {
		size, err := tx.LogSize(ctx)
		if err != nil {
			return err
		}
		return tx.Entries(ctx, rep.EventIndex, size, func(_ uint64, entry []byte) error {
			e, err := event.Decode(entry)
			if err != nil || e.Type != event.TypeAccessRevoked {
				return err
			}
			found = true
			return e.DecodeData(&revoked)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found || revoked.Token != api.Token.ID || revoked.Reason != "participant erased" {
		t.Errorf("access.revoked after the erasure: found %v, %+v", found, revoked)
	}
	verifyRegistry(t, r)
}
