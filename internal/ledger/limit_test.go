package ledger

import (
	"strings"
	"testing"
)

func TestTransferAmountLimit(t *testing.T) {
	tr := Transfer{ID: "t1", Key: "k", Phase: PhasePosted, Trigger: triggers[0], Currency: "EUR",
		Debit: "clinic", Credit: "platform", Amount: MaxAmount}
	if err := tr.Validate(); err != nil {
		t.Fatalf("amount at the limit: %v", err)
	}
	for _, amount := range []int64{MaxAmount + 1, 1 << 53, 9223372036854775807} {
		tr.Amount = amount
		if err := tr.Validate(); err == nil || !strings.Contains(err.Error(), "over the limit") {
			t.Errorf("amount %d: %v", amount, err)
		}
	}
}
