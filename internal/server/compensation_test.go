package server

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/ledger/bankfile"
	"github.com/steward-rehab/steward/internal/registry"
)

func TestPayoutsHideBankDetailsFromAuditors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	admin := h.client(registry.RoleAdmin)
	if _, _, err := admin.Transfer(ctx, registry.TransferRequest{Debit: "clinic", Credit: "participant:P001", Amount: 500, Currency: "EUR", Key: "deposit-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client(registry.RoleParticipant).SetPayee(ctx, "me", registry.PayeeInput{Name: "Ada Lovelace", IBAN: "GB29 NWBK 6016 1331 9268 19"}); err != nil {
		t.Fatal(err)
	}
	res, err := admin.CreatePayoutBatch(ctx, registry.PayoutSpec{Debtor: bankfile.Party{Name: "Rehab Clinic", IBAN: "DE89370400440532013000"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Batch.ID == "" || res.Batch.Total != 500 {
		t.Fatalf("batch %+v, want one of EUR 5.00", res.Batch)
	}

	status, raw := h.do(registry.RoleAuditor, "GET", "/api/v1/payouts", "", nil)
	if status != http.StatusOK {
		t.Fatalf("list payouts as auditor: %d %s", status, raw)
	}
	for _, secret := range []string{"GB29NWBK60161331926819", "Ada Lovelace", "DE89370400440532013000"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the payout list shows %q", secret)
		}
	}
	if status, _ := h.do(registry.RoleAuditor, "GET", "/api/v1/payouts/"+res.Batch.ID+"/file", "", nil); status != http.StatusForbidden {
		t.Errorf("bank file as auditor: %d, want 403", status)
	}
	status, raw = h.do(registry.RoleAdmin, "GET", "/api/v1/payouts/"+res.Batch.ID+"/file?format=csv", "", nil)
	if status != http.StatusOK || !bytes.Contains(raw, []byte("GB29NWBK60161331926819")) {
		t.Errorf("bank file as admin: %d %s", status, raw)
	}
	h.checkStatusesDocumented()
}

func TestStewardChecksOnlyOwnSamples(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sampleOf := func(source string) string {
		v, err := h.reg.ParticipantView(ctx, source)
		if err != nil || len(v.Samples) == 0 {
			t.Fatalf("samples of %s: %v", source, err)
		}
		return v.Samples[0].ID
	}
	own, foreign := sampleOf("P001"), sampleOf("P101")

	before := h.logSize()
	body := `{"samples":["` + own + `","` + foreign + `"],"outcome":"passed"}`
	status, raw := h.do(registry.RoleSteward, "POST", "/api/v1/samples/checks", "application/json", strings.NewReader(body))
	if status != http.StatusNotFound {
		t.Errorf("check of another organisation's sample: %d %s, want 404", status, raw)
	}
	if msg := errorMessage(t, raw); !strings.Contains(msg, foreign) || !strings.Contains(msg, `organisation "site-a"`) {
		t.Errorf("message %q does not name the sample and organisation", msg)
	}
	if after := h.logSize(); after != before {
		t.Errorf("a rejected check changed the log from %d to %d entries", before, after)
	}

	body = `{"samples":["` + own + `"],"outcome":"passed"}`
	status, raw = h.do(registry.RoleSteward, "POST", "/api/v1/samples/checks", "application/json", strings.NewReader(body))
	if status != http.StatusOK || !strings.Contains(string(raw), `"changed": true`) {
		t.Errorf("check of its own sample: %d %s", status, raw)
	}
	h.checkStatusesDocumented()
}

func TestErasureEndsParticipantToken(t *testing.T) {
	h := newHarness(t)
	status, raw := h.do(registry.RoleParticipant, "POST", "/api/v1/participants/me/erasure", "application/json", strings.NewReader(`{"confirm":true}`))
	if status != http.StatusOK || !strings.Contains(string(raw), `"tokensRevoked": 1`) {
		t.Fatalf("erasure: %d %s", status, raw)
	}
	if status, raw := h.do(registry.RoleParticipant, "GET", "/api/v1/whoami", "", nil); status != http.StatusUnauthorized {
		t.Errorf("the erased participant's token after the erasure: %d %s, want 401", status, raw)
	}

	// The licensee's release held P001's recordings: they are gone for
	// good, and the bundle without them still downloads.
	path := "/api/v1/releases/" + h.releases["acme"] + "/bundle"
	status, raw = h.do(registry.RoleLicensee, "GET", path+"?data=true", "", nil)
	if status != http.StatusGone || !strings.Contains(string(raw), "was erased at its participant's request") {
		t.Errorf("bundle with the erased recordings: %d %s, want 410", status, raw)
	}
	if status, raw := h.do(registry.RoleLicensee, "GET", path, "", nil); status != http.StatusOK {
		t.Errorf("bundle without recordings after the erasure: %d %.200s", status, raw)
	}
	if status, raw := h.do(registry.RoleLicensee, "GET", path+"?data=yes", "", nil); status != http.StatusBadRequest {
		t.Errorf("bundle with data=yes: %d %.200s, want 400", status, raw)
	}
	h.checkStatusesDocumented()
}
