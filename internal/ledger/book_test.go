package ledger

import (
	"errors"
	"strings"
	"testing"
)

func transfer(id, phase, debit, credit string, amount int64) Transfer {
	return Transfer{ID: id, Key: "k-" + id, Phase: phase, Debit: debit, Credit: credit, Amount: amount, Currency: "EUR", Trigger: TriggerAdjustment}
}

func TestBookPendingPostVoid(t *testing.T) {
	b := NewBook()
	p := ParticipantAccount("p-1")
	steps := []Transfer{
		transfer("t1", PhasePending, Clinic, p, 500),
		transfer("t2", PhasePending, Clinic, p, 300),
		transfer("t3", PhasePost, Clinic, p, 500),
		transfer("t4", PhaseVoid, Clinic, p, 300),
	}
	steps[2].Pending, steps[3].Pending = "t1", "t2"
	for _, s := range steps {
		if err := b.Apply(s); err != nil {
			t.Fatal(err)
		}
	}
	accounts := b.Accounts()
	if len(accounts) != 2 {
		t.Fatalf("accounts %+v", accounts)
	}
	clinic, participant := accounts[0], accounts[1]
	if participant.Balance() != 500 || participant.CreditsPending != 0 || participant.Available() != 500 {
		t.Errorf("participant %+v", participant)
	}
	if clinic.Balance() != -500 || clinic.DebitsPending != 0 {
		t.Errorf("clinic %+v", clinic)
	}
	if len(b.Unresolved()) != 0 {
		t.Errorf("unresolved %v", b.Unresolved())
	}
}

func TestBookRejectsBrokenRules(t *testing.T) {
	p := ParticipantAccount("p-1")
	setup := func() *Book {
		b := NewBook()
		if err := b.Apply(transfer("fund", PhasePosted, Clinic, p, 100)); err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(transfer("hold", PhasePending, Clinic, p, 10)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	post := transfer("post", PhasePost, Clinic, p, 10)
	post.Pending = "hold"
	cases := map[string]struct {
		steps []Transfer
		want  string
	}{
		"overdraft":       {[]Transfer{transfer("x", PhasePosted, p, Payable, 101)}, "insufficient funds"},
		"repeated key":    {[]Transfer{{ID: "y", Key: "k-fund", Phase: PhasePosted, Debit: Clinic, Credit: p, Amount: 1, Currency: "EUR", Trigger: TriggerAdjustment}}, "reuses the idempotency key"},
		"double post":     {[]Transfer{post, func() Transfer { t := post; t.ID, t.Key = "post2", "k-post2"; return t }()}, "resolved before"},
		"unknown pending": {[]Transfer{func() Transfer { t := post; t.Pending = "nope"; return t }()}, "not a pending transfer"},
		"other amount":    {[]Transfer{func() Transfer { t := post; t.Amount = 9; return t }()}, "other accounts, amount"},
		"negative amount": {[]Transfer{transfer("n", PhasePosted, Clinic, p, -1)}, "negative amount"},
		"same account":    {[]Transfer{transfer("s", PhasePosted, p, p, 1)}, "same account"},
		"unknown account": {[]Transfer{transfer("u", PhasePosted, "bank", p, 1)}, "invalid account"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := setup()
			var err error
			for _, s := range c.steps {
				if err = b.Apply(s); err != nil {
					break
				}
			}
			if err == nil || !contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestBookPendingDebitReserves checks that a pending debit counts against
// the balance: 100 held, a pending 80 leaves 20 available.
func TestBookPendingDebitReserves(t *testing.T) {
	b := NewBook()
	p := ParticipantAccount("p-1")
	must(t, b.Apply(transfer("fund", PhasePosted, Clinic, p, 100)))
	must(t, b.Apply(transfer("a", PhasePending, p, Payable, 80)))
	err := b.Apply(transfer("b", PhasePosted, p, Payable, 80))
	if !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("second 80 from 100: %v, want ErrInsufficientFunds", err)
	}
	void := transfer("v", PhaseVoid, p, Payable, 80)
	void.Pending = "a"
	must(t, b.Apply(void))
	must(t, b.Apply(transfer("c", PhasePosted, p, Payable, 80)))
}

func TestDeltasRequiredFollowsOrder(t *testing.T) {
	p := ParticipantAccount("p-1")
	// Paying out 50 before 50 arrives needs 50 up front; the other order
	// needs nothing.
	first := []Transfer{transfer("out", PhasePosted, p, Payable, 50), transfer("in", PhasePosted, Clinic, p, 50)}
	second := []Transfer{first[1], first[0]}
	for i, batch := range [][]Transfer{first, second} {
		deltas, err := Deltas(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deltas {
			if d.ID != p {
				continue
			}
			want := []int64{50, 0}[i]
			if d.Required != want || d.CreditsPosted != 50 || d.DebitsPosted != 50 {
				t.Errorf("batch %d: participant delta %+v, want Required %d", i, d, want)
			}
		}
	}
}

func TestSameRequest(t *testing.T) {
	a := transfer("t1", PhasePosted, Clinic, ParticipantAccount("p"), 500)
	b := a
	b.ID = "t2"
	if !SameRequest(a, b) {
		t.Error("the same request with another id differs")
	}
	b.Amount = 700
	if SameRequest(a, b) {
		t.Error("another amount is the same request")
	}
	c := a
	c.Detail = []Component{{"x", 1}}
	if SameRequest(a, c) {
		t.Error("another detail is the same request")
	}
	err := ConflictError(a, b)
	if !errors.Is(err, ErrKeyConflict) || !contains(err.Error(), "EUR 5.00") || !contains(err.Error(), "EUR 7.00") {
		t.Errorf("conflict error: %v", err)
	}
}

func TestFormatDecimal(t *testing.T) {
	for _, c := range []struct {
		minor int64
		code  string
		want  string
	}{{1234, "EUR", "12.34"}, {5, "EUR", "0.05"}, {0, "EUR", "0.00"}, {-5, "EUR", "-0.05"}, {1234, "JPY", "1234"}, {1234, "BHD", "1.234"}, {-9223372036854775808, "EUR", "-92233720368547758.08"}} {
		if got := FormatDecimal(c.minor, c.code); got != c.want {
			t.Errorf("FormatDecimal(%d, %s) = %q, want %q", c.minor, c.code, got, c.want)
		}
	}
}

func TestLookupCurrency(t *testing.T) {
	for _, ok := range []string{"EUR", "GBP", "USD", "JPY", "CHF", "SEK"} {
		if _, err := LookupCurrency(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"eur", "EURO", "XAU", "XXX", "DEM", ""} {
		if _, err := LookupCurrency(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseAccount(t *testing.T) {
	for _, ok := range []string{"participant:p-abc", "clinic", "clinic:site-a", "licensee:acme", "platform", "payable"} {
		if _, _, err := ParseAccount(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"participant", "participant:", "platform:x", "bank", "licensee:a\nb", "clinic:"} {
		if _, _, err := ParseAccount(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
