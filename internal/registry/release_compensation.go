package registry

import (
	"context"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
)

// Reasons a release leaves a sample out for its data checks or payment.
const (
	ExcludedRejected   = "rejected in data checks"
	ExcludedUnchecked  = "payment not posted: data checks not passed yet"
	ExcludedUnposted   = "payment not posted yet: run steward ledger settle"
	ExcludedUnreserved = "no payment reserved: registered before the first compensation policy; pass its data checks to reserve one"
	ExcludedVoided     = "payment voided"
)

// releaseCompensation returns the compensation terms of a release of the
// given tier: those of the policy in force, or nil when there is none.
func releaseCompensation(ctx context.Context, tx storage.ReadTx, tier string) (*release.Compensation, error) {
	p, ok, err := policyInForce(ctx, tx)
	if err != nil || !ok {
		return nil, err
	}
	return release.NewCompensation(p.Policy, p.Digest, p.EventIndex, tier), nil
}

// lookupCompensation reads the data checks and per-sample payments of the
// pending samples.
func (s *selector) lookupCompensation(ctx context.Context) error {
	ids := make([]string, len(s.pending))
	for i, smp := range s.pending {
		ids[i] = smp.ID
	}
	var err error
	if s.checks, err = s.tx.SampleChecks(ctx, ids); err != nil {
		return err
	}
	if s.h.Compensation == nil {
		return nil
	}
	s.payments, err = s.tx.SampleCompensations(ctx, ids)
	return err
}

// compensationReason returns why a sample must be left out for its data
// checks or its payment, or "". A sample rejected in its data checks is
// always left out. Under compensation terms, so is one whose per-sample
// payment is not posted, so every sample of the release was paid for.
func (s *selector) compensationReason(smp storage.Sample) string {
	check := s.checks[smp.ID].Outcome
	if check == event.CheckRejected {
		return ExcludedRejected
	}
	if s.h.Compensation == nil {
		return ""
	}
	c, ok := s.payments[smp.ID]
	switch {
	case !ok:
		return ExcludedUnreserved
	case c.State() == "voided":
		return ExcludedVoided
	case c.State() != ledger.PhasePosted && check != event.CheckPassed:
		return ExcludedUnchecked
	case c.State() != ledger.PhasePosted:
		return ExcludedUnposted
	}
	return ""
}

// addCompensation adds a sample's payment events to its evidence and, for
// a licensed release with a per-use amount, logs the licensee's per-use
// payment to the participant.
func (s *selector) addCompensation(ms *release.Sample, smp storage.Sample) error {
	c := s.h.Compensation
	if c == nil {
		return nil
	}
	paid := s.payments[smp.ID]
	ms.Evidence.Compensation = []uint64{paid.Reserve.EventIndex, paid.Resolution.EventIndex}
	if s.h.Licensee == "" || c.PerUse == 0 {
		return nil
	}
	use, err := s.w.appendTransfer(ledger.Transfer{
		Key: "use:" + s.h.Release + ":" + smp.ID, Phase: ledger.PhasePosted, Debit: ledger.LicenseeAccount(s.h.Licensee),
		Credit: ledger.ParticipantAccount(smp.Participant), Amount: c.PerUse, Currency: c.Currency, Trigger: ledger.TriggerUse,
		Sample: smp.ID, Release: s.h.Release, Policy: c.Policy,
	})
	if err != nil {
		return err
	}
	s.uses = append(s.uses, use)
	ms.Evidence.Compensation = append(ms.Evidence.Compensation, use.EventIndex)
	return nil
}

// storeUses stores the per-use transfers logged since the last call.
func (s *selector) storeUses(ctx context.Context) error {
	if len(s.uses) == 0 {
		return nil
	}
	err := s.tx.InsertTransfers(ctx, s.uses)
	s.uses = s.uses[:0]
	return err
}
