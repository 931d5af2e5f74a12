package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// ledgerTests are the conformance tests of the ledger, compensation and
// payout contracts.
var ledgerTests = []struct {
	name string
	fn   func(*testing.T, storage.Store)
}{
	{"LedgerTransfers", testLedgerTransfers},
	{"LedgerRejectsOverdraft", testLedgerRejectsOverdraft},
	{"LedgerResolutions", testLedgerResolutions},
	{"LedgerConcurrentDebits", testLedgerConcurrentDebits},
	{"LedgerTransfersAcrossPages", testLedgerTransfersAcrossPages},
	{"CompensationRecords", testCompensationRecords},
	{"Payouts", testPayouts},
	{"ErasureDeletesPayee", testErasureDeletesPayee},
}

// eventIndexes hands out distinct event indexes, which the transfer table
// requires to be unique, to the transfers a test makes.
var eventIndexes atomic.Uint64

// Transfer returns a transfer of amount EUR minor units with key and id
// derived from name.
func Transfer(name, phase, debit, credit string, amount int64) ledger.Transfer {
	return ledger.Transfer{
		ID: "t-" + name, Key: "key-" + name, Phase: phase, Debit: debit, Credit: credit, Amount: amount, Currency: "EUR",
		Trigger: ledger.TriggerAdjustment, At: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), EventIndex: 1000 + eventIndexes.Add(1),
	}
}

func insertTransfers(ctx context.Context, s storage.Store, transfers ...ledger.Transfer) error {
	return s.Update(ctx, func(tx storage.Tx) error { return tx.InsertTransfers(ctx, transfers) })
}

func account(t *testing.T, s storage.Store, id string) ledger.Account {
	t.Helper()
	var a ledger.Account
	err := s.View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		a, err = tx.Account(context.Background(), id, "EUR")
		return err
	})
	if err != nil {
		t.Fatalf("account %s: %v", id, err)
	}
	return a
}

func testLedgerTransfers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	p := ledger.ParticipantAccount("p-a")
	reserve := Transfer("reserve", ledger.PhasePending, ledger.Clinic, p, 500)
	reserve.Trigger, reserve.Sample, reserve.Policy = ledger.TriggerSample, "s-1", "rehab@1"
	reserve.Detail = []ledger.Component{{Name: "perSample.voice", Amount: 300}, {Name: "bonus.x", Amount: 200}}
	other := Transfer("other", ledger.PhasePending, ledger.Clinic, p, 300)
	other.Trigger, other.Sample = ledger.TriggerSample, "s-2"
	post := Transfer("post", ledger.PhasePost, ledger.Clinic, p, 500)
	post.Pending, post.Trigger, post.Sample = reserve.ID, ledger.TriggerSample, "s-1"
	use := Transfer("use", ledger.PhasePosted, ledger.LicenseeAccount("acme"), p, 100)
	use.Trigger, use.Release, use.Sample = ledger.TriggerUse, "r-1", "s-1"

	// The reserve and its post go in one batch, the rest in another.
	if err := insertTransfers(ctx, s, reserve, other, post); err != nil {
		t.Fatal(err)
	}
	if err := insertTransfers(ctx, s, use); err != nil {
		t.Fatal(err)
	}

	got := account(t, s, p)
	want := ledger.Account{ID: p, Currency: "EUR", CreditsPending: 300, CreditsPosted: 600}
	if got != want {
		t.Errorf("participant account %+v, want %+v", got, want)
	}
	if clinic := account(t, s, ledger.Clinic); clinic.Balance() != -500 || clinic.DebitsPending != 300 || !clinic.MayGoNegative {
		t.Errorf("clinic account %+v", clinic)
	}
	err := s.View(ctx, func(tx storage.ReadTx) error {
		byKey, err := tx.TransfersByKey(ctx, []string{"key-reserve", "key-use", "key-absent"})
		if err != nil {
			return err
		}
		if len(byKey) != 2 || byKey["key-reserve"].ID != reserve.ID || !ledger.SameRequest(byKey["key-reserve"], reserve) {
			return fmt.Errorf("by key: %+v", byKey)
		}
		if r := byKey["key-reserve"]; !r.At.Equal(reserve.At) || r.EventIndex != reserve.EventIndex || len(r.Detail) != 2 {
			return fmt.Errorf("reserve read back as %+v", r)
		}
		if _, err := tx.Transfer(ctx, "t-absent"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing transfer: %v", err)
		}
		comp, err := tx.SampleCompensations(ctx, []string{"s-1", "s-2", "s-3"})
		if err != nil {
			return err
		}
		if len(comp) != 2 || comp["s-1"].State() != ledger.PhasePosted || comp["s-1"].Resolution.ID != post.ID || comp["s-2"].State() != ledger.PhasePending {
			return fmt.Errorf("sample compensations %+v", comp)
		}
		var ids []string
		collect := func(tr ledger.Transfer) error { ids = append(ids, tr.ID); return nil }
		if err := tx.Transfers(ctx, storage.TransferFilter{Account: p}, collect); err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[t-reserve t-other t-post t-use]" {
			return fmt.Errorf("transfers of the participant in log order: %v", ids)
		}
		ids = nil
		if err := tx.Transfers(ctx, storage.TransferFilter{Unresolved: true}, collect); err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[t-other]" {
			return fmt.Errorf("unresolved transfers: %v", ids)
		}
		ids = nil
		if err := tx.Transfers(ctx, storage.TransferFilter{Release: "r-1", Trigger: ledger.TriggerUse}, collect); err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[t-use]" {
			return fmt.Errorf("use transfers of r-1: %v", ids)
		}
		n := 0
		if err := tx.Accounts(ctx, func(ledger.Account) error { n++; return nil }); err != nil {
			return err
		}
		if n != 3 {
			return fmt.Errorf("%d accounts, want 3", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testLedgerRejectsOverdraft posts 80 from an account holding 100 twice:
// the second fails, and the failed transaction leaves nothing behind.
func testLedgerRejectsOverdraft(t *testing.T, s storage.Store) {
	ctx := context.Background()
	p := ledger.ParticipantAccount("p-a")
	if err := insertTransfers(ctx, s, Transfer("fund", ledger.PhasePosted, ledger.Clinic, p, 100)); err != nil {
		t.Fatal(err)
	}
	if err := insertTransfers(ctx, s, Transfer("first", ledger.PhasePosted, p, ledger.Payable, 80)); err != nil {
		t.Fatal(err)
	}
	err := insertTransfers(ctx, s, Transfer("second", ledger.PhasePosted, p, ledger.Payable, 80))
	if !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("second debit of 80: %v, want ErrInsufficientFunds", err)
	}
	// A batch that dips below zero part way also fails, even though it
	// ends above zero.
	err = insertTransfers(ctx, s, Transfer("dip", ledger.PhasePosted, p, ledger.Payable, 30), Transfer("refill", ledger.PhasePosted, ledger.Clinic, p, 50))
	if !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("batch dipping below zero: %v, want ErrInsufficientFunds", err)
	}
	// A pending debit reserves: 20 available, a pending 15 leaves 5.
	if err := insertTransfers(ctx, s, Transfer("hold", ledger.PhasePending, p, ledger.Payable, 15)); err != nil {
		t.Fatal(err)
	}
	if err := insertTransfers(ctx, s, Transfer("more", ledger.PhasePosted, p, ledger.Payable, 10)); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("debit beyond a pending reserve: %v, want ErrInsufficientFunds", err)
	}
	a := account(t, s, p)
	if a.Balance() != 20 || a.DebitsPending != 15 || a.Available() != 5 {
		t.Errorf("participant account %+v, want balance 20 with 15 pending", a)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		found, err := tx.TransfersByKey(ctx, []string{"key-second", "key-dip", "key-refill", "key-more"})
		if err == nil && len(found) > 0 {
			err = fmt.Errorf("rejected transfers were stored: %v", found)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testLedgerResolutions(t *testing.T, s storage.Store) {
	ctx := context.Background()
	p := ledger.ParticipantAccount("p-a")
	hold := Transfer("hold", ledger.PhasePending, ledger.Clinic, p, 40)
	if err := insertTransfers(ctx, s, hold); err != nil {
		t.Fatal(err)
	}
	resolve := func(name, phase, pending string, amount int64) ledger.Transfer {
		tr := Transfer(name, phase, ledger.Clinic, p, amount)
		tr.Pending = pending
		return tr
	}
	if err := insertTransfers(ctx, s, resolve("void", ledger.PhaseVoid, hold.ID, 40)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tr   ledger.Transfer
		want error
	}{
		{"second resolution", resolve("post", ledger.PhasePost, hold.ID, 40), storage.ErrConflict},
		{"unknown pending", resolve("ghost", ledger.PhasePost, "t-nothing", 40), storage.ErrNotFound},
		{"other amount", resolve("short", ledger.PhasePost, hold.ID, 39), storage.ErrNotFound},
		{"repeated key", func() ledger.Transfer {
			tr := Transfer("again", ledger.PhasePosted, ledger.Clinic, p, 1)
			tr.Key = hold.Key
			return tr
		}(), storage.ErrConflict},
		{"repeated id", func() ledger.Transfer {
			tr := Transfer("again2", ledger.PhasePosted, ledger.Clinic, p, 1)
			tr.ID = hold.ID
			return tr
		}(), storage.ErrConflict},
	}
	for _, c := range cases {
		if err := insertTransfers(ctx, s, c.tr); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if a := account(t, s, p); a != (ledger.Account{ID: p, Currency: "EUR"}) {
		t.Errorf("after a void, the account is %+v, want all zero", a)
	}
}

// testLedgerConcurrentDebits submits debits of 80 from an account holding
// 100 from many goroutines at once, each in its own transaction without the
// log lock: exactly one is posted.
func testLedgerConcurrentDebits(t *testing.T, s storage.Store) {
	ctx := context.Background()
	p := ledger.ParticipantAccount("p-a")
	if err := insertTransfers(ctx, s, Transfer("fund", ledger.PhasePosted, ledger.Clinic, p, 100)); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = insertTransfers(ctx, s, Transfer(fmt.Sprintf("debit-%d", i), ledger.PhasePosted, p, ledger.Payable, 80))
		}()
	}
	close(start)
	wg.Wait()
	posted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			posted++
		case !errors.Is(err, ledger.ErrInsufficientFunds):
			t.Errorf("writer %d: %v, want success or ErrInsufficientFunds", i, err)
		}
	}
	if posted != 1 {
		t.Errorf("%d debits of 80 posted from 100, want 1", posted)
	}
	if a := account(t, s, p); a.Balance() != 20 {
		t.Errorf("balance %d, want 20", a.Balance())
	}
}

// testLedgerTransfersAcrossPages lists more transfers than a page holds,
// running queries from inside the callback.
func testLedgerTransfersAcrossPages(t *testing.T, s storage.Store) {
	ctx := context.Background()
	var batch []ledger.Transfer
	for i := range 2300 {
		batch = append(batch, Transfer(fmt.Sprintf("many-%04d", i), ledger.PhasePosted, ledger.Clinic, ledger.ParticipantAccount(fmt.Sprintf("p-%03d", i%700)), 1))
	}
	if err := insertTransfers(ctx, s, batch...); err != nil {
		t.Fatal(err)
	}
	err := s.View(ctx, func(tx storage.ReadTx) error {
		n := 0
		var last uint64
		err := tx.Transfers(ctx, storage.TransferFilter{Account: ledger.Clinic}, func(tr ledger.Transfer) error {
			if tr.EventIndex <= last {
				return fmt.Errorf("transfer %s out of log order", tr.ID)
			}
			last = tr.EventIndex
			n++
			_, err := tx.Account(ctx, tr.Credit, "EUR")
			return err
		})
		if err != nil {
			return err
		}
		if n != 2300 {
			return fmt.Errorf("%d transfers listed, want 2300", n)
		}
		accounts := 0
		if err := tx.Accounts(ctx, func(a ledger.Account) error { accounts++; return nil }); err != nil {
			return err
		}
		if accounts != 701 {
			return fmt.Errorf("%d accounts, want 701", accounts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testCompensationRecords(t *testing.T, s storage.Store) {
	ctx := context.Background()
	at := time.Date(2026, 5, 2, 9, 0, 0, 0, time.UTC)
	policy := func(version int, idx uint64) storage.StoredPolicy {
		return storage.StoredPolicy{
			Policy: ledger.Policy{ID: "rehab", Version: version, Currency: "EUR", PerSample: map[string]int64{"voice": 300},
				PerUse: map[string]int64{"commercial": 100}, RoyaltyShare: 0.1, Benefits: []string{"report"}},
			Digest: fmt.Sprintf("sha256:%d", version), AddedAt: at, EventIndex: idx,
		}
	}
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.InsertParticipant(ctx, newParticipant("p-a", "ns", "A"), []byte("k")); err != nil {
			return err
		}
		if err := tx.InsertParticipant(ctx, newParticipant("p-b", "ns", "B"), []byte("k")); err != nil {
			return err
		}
		for _, smp := range []storage.Sample{newSample("s-1", "p-a", "sha256:01", "voice", ""), newSample("s-2", "p-b", "sha256:02", "voice", ""),
			newSample("s-3", "p-b", "sha256:03", "voice", ""), newSample("s-4", "p-b", "sha256:04", "voice", "")} {
			if err := tx.InsertSample(ctx, smp); err != nil {
				return err
			}
		}
		if err := tx.InsertRelease(ctx, storage.Release{ID: "r-1", Purpose: "commercial", Modalities: []string{"voice"}, BuiltAt: at, EventIndex: 50}); err != nil {
			return err
		}
		if err := tx.AddReleaseSamples(ctx, "r-1", []string{"s-1", "s-2", "s-3"}); err != nil {
			return err
		}
		for _, p := range []storage.StoredPolicy{policy(1, 10), policy(2, 20)} {
			if err := tx.InsertPolicy(ctx, p); err != nil {
				return err
			}
		}
		for _, c := range []storage.SampleCheck{
			{Sample: "s-1", Outcome: "passed", At: at, EventIndex: 30},
			{Sample: "s-1", Outcome: "rejected", Reason: "clipped", At: at, EventIndex: 31},
		} {
			if err := tx.InsertSampleCheck(ctx, c); err != nil {
				return err
			}
		}
		if err := tx.InsertReleasePolicy(ctx, "r-1", "rehab@2"); err != nil {
			return err
		}
		return tx.InsertRevenue(ctx, storage.Revenue{ID: "v-1", Release: "r-1", Reference: "INV-7", Payer: "licensee:acme", Amount: 9999,
			Currency: "EUR", Policy: "rehab@2", RoyaltyPool: 999, At: at, EventIndex: 60})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.InsertPolicy(ctx, policy(2, 21)) }); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second rehab@2: %v, want ErrConflict", err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		return tx.InsertRevenue(ctx, storage.Revenue{ID: "v-2", Release: "r-1", Reference: "INV-7", Payer: "licensee:acme", Currency: "EUR", At: at, EventIndex: 61})
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second revenue with reference INV-7: %v, want ErrConflict", err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		latest, err := tx.LatestPolicy(ctx)
		if err != nil {
			return err
		}
		if latest.Policy.Ref() != "rehab@2" || latest.Policy.PerSample["voice"] != 300 || latest.Policy.RoyaltyShare != 0.1 || !latest.AddedAt.Equal(at) {
			return fmt.Errorf("latest policy %+v", latest)
		}
		if v, err := tx.LatestPolicyVersion(ctx, "rehab"); err != nil || v != 2 {
			return fmt.Errorf("latest version %d, %v", v, err)
		}
		if v, err := tx.LatestPolicyVersion(ctx, "other"); err != nil || v != 0 {
			return fmt.Errorf("latest version of an unknown id %d, %v", v, err)
		}
		if _, err := tx.Policy(ctx, "rehab", 3); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing policy: %v", err)
		}
		all, err := tx.Policies(ctx)
		if err != nil || len(all) != 2 || all[0].Policy.Version != 1 {
			return fmt.Errorf("policies %+v, %v", all, err)
		}
		checks, err := tx.SampleChecks(ctx, []string{"s-1", "s-2"})
		if err != nil {
			return err
		}
		if len(checks) != 1 || checks["s-1"].Outcome != "rejected" || checks["s-1"].Reason != "clipped" {
			return fmt.Errorf("latest checks %+v", checks)
		}
		n := 0
		if err := tx.AllSampleChecks(ctx, func(storage.SampleCheck) error { n++; return nil }); err != nil || n != 2 {
			return fmt.Errorf("%d checks, %v", n, err)
		}
		if ref, err := tx.ReleasePolicy(ctx, "r-1"); err != nil || ref != "rehab@2" {
			return fmt.Errorf("release policy %q, %v", ref, err)
		}
		if _, err := tx.ReleasePolicy(ctx, "r-2"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("policy of an unknown release: %v", err)
		}
		rev, err := tx.RevenueByReference(ctx, "r-1", "INV-7")
		if err != nil || rev.ID != "v-1" || rev.Amount != 9999 || rev.RoyaltyPool != 999 || !rev.At.Equal(at) {
			return fmt.Errorf("revenue %+v, %v", rev, err)
		}
		if _, err := tx.Revenue(ctx, "v-9"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing revenue: %v", err)
		}
		contributors, err := tx.ReleaseContributors(ctx, "r-1")
		if err != nil {
			return err
		}
		if fmt.Sprint(contributors) != "[{p-a 1} {p-b 2}]" {
			return fmt.Errorf("contributors %v, want p-a with 1 sample and p-b with 2", contributors)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testPayouts(t *testing.T, s storage.Store) {
	ctx := context.Background()
	at := time.Date(2026, 5, 3, 9, 0, 0, 0, time.UTC)
	p := ledger.ParticipantAccount("p-a")
	payout := Transfer("payout", ledger.PhasePosted, p, ledger.Payable, 60)
	payout.Trigger, payout.Batch = ledger.TriggerPayout, "b-1"
	ret := Transfer("return", ledger.PhasePosted, ledger.Payable, p, 60)
	ret.Trigger, ret.Batch, ret.Returns, ret.Reason = ledger.TriggerReturn, "b-1", payout.ID, "AC04"
	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, pseudonym := range []string{"p-a", "p-b"} {
			if err := tx.InsertParticipant(ctx, newParticipant(pseudonym, "ns", pseudonym), []byte("k")); err != nil {
				return err
			}
		}
		for _, payee := range []storage.Payee{
			{Participant: "p-a", Name: "Old Name", IBAN: "DE89370400440532013000", Salt: []byte("s"), UpdatedAt: at, EventIndex: 5},
			{Participant: "p-a", Name: "Ada Lovelace", IBAN: "GB29NWBK60161331926819", BIC: "NWBKGB2L", Salt: []byte("s2"), UpdatedAt: at, EventIndex: 6},
		} {
			if err := tx.PutPayee(ctx, payee); err != nil {
				return err
			}
		}
		if err := tx.InsertTransfers(ctx, []ledger.Transfer{Transfer("fund", ledger.PhasePosted, ledger.Clinic, p, 60), payout}); err != nil {
			return err
		}
		b := storage.PayoutBatch{ID: "b-1", Currency: "EUR", CreatedAt: at, ExecutionDate: at.Truncate(24 * time.Hour), DebtorName: "Clinic",
			DebtorIBAN: "DE89370400440532013000", Payments: 1, Total: 60, EventIndex: 70}
		return tx.InsertPayoutBatch(ctx, b, []storage.PayoutPayment{{EndToEndID: payout.ID, Participant: "p-a", Amount: 60,
			CreditorName: "Ada Lovelace", CreditorIBAN: "GB29NWBK60161331926819", CreditorBIC: "NWBKGB2L"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := insertTransfers(ctx, s, ret); err != nil {
		t.Fatal(err)
	}
	second := ret
	second.ID, second.Key, second.EventIndex = "t-return2", "key-return2", ret.EventIndex+100000
	if err := insertTransfers(ctx, s, second); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second return of one payment: %v, want ErrConflict", err)
	}

	err = s.View(ctx, func(tx storage.ReadTx) error {
		payee, err := tx.Payee(ctx, "p-a")
		if err != nil || payee.Name != "Ada Lovelace" || payee.BIC != "NWBKGB2L" || string(payee.Salt) != "s2" || payee.EventIndex != 6 {
			return fmt.Errorf("payee %+v, %v", payee, err)
		}
		if _, err := tx.Payee(ctx, "p-b"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("participant without bank details: %v", err)
		}
		some, err := tx.PayeesOf(ctx, []string{"p-a", "p-b"})
		if err != nil || len(some) != 1 {
			return fmt.Errorf("payees of p-a and p-b: %v, %v", some, err)
		}
		b, err := tx.PayoutBatch(ctx, "b-1")
		if err != nil || b.Total != 60 || !b.CreatedAt.Equal(at) || b.ExecutionDate.Format(time.DateOnly) != "2026-05-03" {
			return fmt.Errorf("batch %+v, %v", b, err)
		}
		payments, err := tx.PayoutPayments(ctx, "b-1")
		if err != nil || len(payments) != 1 {
			return fmt.Errorf("payments %+v, %v", payments, err)
		}
		if payments[0].Return.ID != ret.ID || payments[0].Return.Reason != "AC04" {
			return fmt.Errorf("the returned payment shows return %+v", payments[0].Return)
		}
		batches := 0
		return tx.PayoutBatches(ctx, func(storage.PayoutBatch) error { batches++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := account(t, s, p); a.Balance() != 60 {
		t.Errorf("after the return the participant holds %d, want 60", a.Balance())
	}

	// Erasing the bank details also blanks their copy in the batch.
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.DeletePayee(ctx, "p-a") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.DeletePayee(ctx, "p-a") }); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second deletion: %v, want ErrNotFound", err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		payments, err := tx.PayoutPayments(ctx, "b-1")
		if err != nil {
			return err
		}
		if pp := payments[0]; pp.CreditorName != "" || pp.CreditorIBAN != "" || pp.Amount != 60 {
			return fmt.Errorf("payment after erasure %+v", pp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testErasureDeletesPayee erases a participant with bank details: the
// details go, the ledger stays.
func testErasureDeletesPayee(t *testing.T, s storage.Store) {
	ctx := context.Background()
	at := time.Date(2026, 5, 3, 9, 0, 0, 0, time.UTC)
	p := ledger.ParticipantAccount("p-a")
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.InsertParticipant(ctx, newParticipant("p-a", "ns", "A"), []byte("k")); err != nil {
			return err
		}
		if err := tx.PutPayee(ctx, storage.Payee{Participant: "p-a", Name: "Ada", IBAN: "GB29NWBK60161331926819", Salt: []byte("s"), UpdatedAt: at, EventIndex: 5}); err != nil {
			return err
		}
		return tx.InsertTransfers(ctx, []ledger.Transfer{Transfer("fund", ledger.PhasePosted, ledger.Clinic, p, 60)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx storage.Tx) error { return tx.EraseParticipant(ctx, "p-a", "erased:test", at) }); err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		if _, err := tx.Payee(ctx, "p-a"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("bank details after erasure: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a := account(t, s, p); a.Balance() != 60 {
		t.Errorf("balance after erasure %d, want 60", a.Balance())
	}
}
