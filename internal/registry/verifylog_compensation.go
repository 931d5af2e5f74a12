package registry

import (
	"context"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// compensationEventRef returns what a compensation event is about, and the
// digest its projection must carry, for the projection checks.
func compensationEventRef(ev event.Event) (key, sum string) {
	switch ev.Type {
	case event.TypePolicyAdded:
		var d event.PolicyAdded
		if ev.DecodeData(&d) == nil {
			return d.Policy.Ref(), d.Digest
		}
	case event.TypeSampleChecked:
		var d event.SampleChecked
		if ev.DecodeData(&d) == nil {
			return d.Sample + "/" + d.Outcome, ""
		}
	case event.TypeTransfer:
		var d event.Transfer
		if ev.DecodeData(&d) == nil {
			return d.ID, ""
		}
	case event.TypeRevenueRecorded:
		var d event.RevenueRecorded
		if ev.DecodeData(&d) == nil {
			return d.Revenue, ""
		}
	case event.TypePayoutBatch:
		var d event.PayoutBatch
		if ev.DecodeData(&d) == nil {
			return d.Batch, ""
		}
	case event.TypePayeeUpdated:
		var d event.PayeeUpdated
		if ev.DecodeData(&d) == nil {
			return d.Participant, d.Digest
		}
	case event.TypePayeeErased:
		var d event.PayeeErased
		if ev.DecodeData(&d) == nil {
			return d.Participant, ""
		}
	}
	return "", ""
}

// checkCompensationProjections checks that every policy, data check,
// transfer, revenue record, payout batch and payee row points at the event
// that made it. A payee's digest is computed again from the stored details,
// so details changed outside the registry are found.
func checkCompensationProjections(ctx context.Context, tx storage.ReadTx, expect func(what, key string, idx uint64, typ, sum string)) error {
	policies, err := tx.Policies(ctx)
	if err != nil {
		return err
	}
	for _, p := range policies {
		expect("compensation policy", p.Policy.Ref(), p.EventIndex, event.TypePolicyAdded, p.Digest)
	}
	err = tx.AllSampleChecks(ctx, func(c storage.SampleCheck) error {
		expect("sample check", c.Sample+"/"+c.Outcome, c.EventIndex, event.TypeSampleChecked, "")
		return nil
	})
	if err != nil {
		return err
	}
	err = tx.Transfers(ctx, storage.TransferFilter{}, func(t ledger.Transfer) error {
		expect("transfer", t.ID, t.EventIndex, event.TypeTransfer, "")
		return nil
	})
	if err != nil {
		return err
	}
	err = tx.Revenues(ctx, func(v storage.Revenue) error {
		expect("revenue", v.ID, v.EventIndex, event.TypeRevenueRecorded, "")
		return nil
	})
	if err != nil {
		return err
	}
	err = tx.PayoutBatches(ctx, func(b storage.PayoutBatch) error {
		expect("payout batch", b.ID, b.EventIndex, event.TypePayoutBatch, "")
		return nil
	})
	if err != nil {
		return err
	}

	// Payees are looked up for every participant, a chunk at a time.
	var chunk []string
	flush := func() error {
		payees, err := tx.PayeesOf(ctx, chunk)
		if err != nil {
			return err
		}
		for _, p := range sortedParticipants(payees) {
			payee := payees[p]
			digest := payeeDigest(payee.Salt, PayeeInput{Name: payee.Name, IBAN: payee.IBAN, BIC: payee.BIC})
			expect("bank details of", payee.Participant, payee.EventIndex, event.TypePayeeUpdated, digest)
		}
		chunk = chunk[:0]
		return nil
	}
	err = tx.Participants(ctx, func(p storage.Participant) error {
		if chunk = append(chunk, p.Pseudonym); len(chunk) == selectorChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
