package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// The per-sample payment of a sample has three transfers at most, keyed by
// the sample: the reserve at registration, then its post or its void.
func sampleKey(sampleID string) string { return "sample:" + sampleID }

// Reasons of a voided per-sample payment.
const (
	VoidRejected  = "sample-rejected"
	VoidWithdrawn = "consent-withdrawn"
)

// reserveCompensation reserves the per-sample payment of each new sample
// under the policy in force, in the transaction that registers them. It
// does nothing while no policy was ever added.
func (r *Registry) reserveCompensation(ctx context.Context, w *writer, samples []storage.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	pol, ok, err := policyInForce(ctx, w.tx)
	if err != nil || !ok {
		return err
	}
	return r.reserve(ctx, w, pol.Policy, samples)
}

// reserve logs a pending transfer from the policy's funder to each
// sample's participant, of the policy's amount for the sample. Samples
// that have one are skipped.
func (r *Registry) reserve(ctx context.Context, w *writer, pol ledger.Policy, samples []storage.Sample) error {
	var who []string
	seen := map[string]bool{}
	for _, s := range samples {
		if !seen[s.Participant] {
			seen[s.Participant] = true
			who = append(who, s.Participant)
		}
	}
	people, err := w.tx.ParticipantsOf(ctx, who)
	if err != nil {
		return err
	}
	requests := make([]ledger.Transfer, len(samples))
	for i, s := range samples {
		amount, detail := pol.SampleAmount(s.Provenance.Modality, s.Provenance.Protocol, people[s.Participant].Attributes)
		requests[i] = ledger.Transfer{
			Key: sampleKey(s.ID), Phase: ledger.PhasePending, Debit: pol.Funder(), Credit: ledger.ParticipantAccount(s.Participant),
			Amount: amount, Currency: pol.Currency, Trigger: ledger.TriggerSample, Sample: s.ID, Policy: pol.Ref(), Detail: detail,
		}
	}
	_, err = r.post(ctx, w, requests)
	return err
}

// settleParticipant decides every pending per-sample payment of a
// participant, in the transaction that changed their consent.
func (r *Registry) settleParticipant(ctx context.Context, w *writer, pseudonym string) error {
	var pending []ledger.Transfer
	filter := storage.TransferFilter{Account: ledger.ParticipantAccount(pseudonym), Trigger: ledger.TriggerSample, Unresolved: true}
	err := w.tx.Transfers(ctx, filter, func(t ledger.Transfer) error {
		pending = append(pending, t)
		return nil
	})
	if err != nil {
		return err
	}
	return r.settle(ctx, w, pseudonym, pending)
}

// settle posts or voids pending per-sample payments of one participant:
//
//   - a payment is voided when its sample was rejected by the data checks,
//     or when the participant withdrew every consent for its modality;
//   - it is posted when its sample passed the data checks and consent for
//     its modality is in force in any tier;
//   - otherwise it stays pending, as when the sample is not yet checked or
//     consent was never given or is not yet in force.
func (r *Registry) settle(ctx context.Context, w *writer, pseudonym string, pending []ledger.Transfer) error {
	if len(pending) == 0 {
		return nil
	}
	ids := make([]string, len(pending))
	for i, t := range pending {
		ids[i] = t.Sample
	}
	checks, err := w.tx.SampleChecks(ctx, ids)
	if err != nil {
		return err
	}
	modality := map[string]string{}
	err = w.tx.Samples(ctx, storage.SampleFilter{Participant: pseudonym}, func(s storage.Sample) error {
		modality[s.ID] = s.Provenance.Modality
		return nil
	})
	if err != nil {
		return err
	}
	records, err := w.tx.ConsentRecords(ctx, pseudonym)
	if err != nil {
		return err
	}
	lib, _, err := library(ctx, w.tx)
	if err != nil {
		return err
	}

	now := r.now().UTC()
	var requests []ledger.Transfer
	for _, t := range pending {
		resolution := ledger.Transfer{Pending: t.ID, Debit: t.Debit, Credit: t.Credit, Amount: t.Amount, Currency: t.Currency,
			Trigger: t.Trigger, Sample: t.Sample, Policy: t.Policy}
		check := checks[t.Sample].Outcome
		m := modality[t.Sample]
		switch {
		case check == event.CheckRejected:
			resolution.Phase, resolution.Reason = ledger.PhaseVoid, VoidRejected
		case check == event.CheckPassed && consentInForce(records, lib, m, now):
			resolution.Phase = ledger.PhasePost
		case consentWithdrawn(records, lib, m, now):
			resolution.Phase, resolution.Reason = ledger.PhaseVoid, VoidWithdrawn
		default:
			continue
		}
		resolution.Key = t.Key + ":" + resolution.Phase
		requests = append(requests, resolution)
	}
	if len(requests) == 0 {
		return nil
	}
	if _, err := r.post(ctx, w, requests); err != nil {
		return err
	}
	r.log.Debug("per-sample payments settled", "participant", pseudonym, "decided", len(requests), "pending", len(pending)-len(requests))
	return nil
}

// consentInForce reports whether consent for the modality is in force at t
// in any tier.
func consentInForce(records []consent.Record, lib consent.Library, modality string, t time.Time) bool {
	for _, tier := range consent.Tiers {
		if consent.Decide(records, lib, tier, modality, t).Permitted() {
			return true
		}
	}
	return false
}

// consentWithdrawn reports whether no tier permits the modality at t and
// at least one was granted and then withdrawn or invalidated. A participant
// who never consented, or whose consent expired, has not withdrawn.
func consentWithdrawn(records []consent.Record, lib consent.Library, modality string, t time.Time) bool {
	withdrawn := false
	for _, tier := range consent.Tiers {
		switch consent.Explain(records, lib, tier, modality, t) {
		case "":
			return false
		case consent.ReasonWithdrawn, consent.ReasonInvalidated:
			withdrawn = true
		}
	}
	return withdrawn
}

// SettlePending decides every pending per-sample payment against the data
// checks and consent now. Consent changes and data checks settle their own
// payments, so this is needed only when time alone made a difference, as
// for consent whose period has begun since it was recorded. It returns the
// number of payments decided.
func (r *Registry) SettlePending(ctx context.Context) (int, error) {
	decided := 0
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		decided = 0
		byParticipant := map[string][]ledger.Transfer{}
		filter := storage.TransferFilter{Trigger: ledger.TriggerSample, Unresolved: true}
		err := w.tx.Transfers(ctx, filter, func(t ledger.Transfer) error {
			p := participantOfAccount(t.Credit)
			byParticipant[p] = append(byParticipant[p], t)
			return nil
		})
		if err != nil {
			return err
		}
		for _, p := range sortedParticipants(byParticipant) {
			before := len(w.entries)
			if err := r.settle(ctx, w, p, byParticipant[p]); err != nil {
				return err
			}
			decided += len(w.entries) - before
		}
		return nil
	})
	return decided, err
}

// CheckResult is the outcome of one sample's data check.
type CheckResult struct {
	Sample  string
	Outcome string
	// Changed is false when the sample already had this outcome; nothing
	// was logged for it.
	Changed bool
	// Payment is the state of the per-sample payment after the check:
	// pending, posted or voided, or empty without one.
	Payment  string
	Amount   int64
	Currency string
}

// maxReason is the longest reason of a rejection, in bytes.
const maxReason = 500

// CheckSamples records the outcome of the data checks of samples, named by
// id or by the collector's external id: passed or rejected (with a
// reason). A rejection is final, but a passed sample may later be rejected.
// In the same transaction, each payment the outcome decides is posted or
// voided, and a passed sample registered before any policy existed gets
// its payment reserved under the policy in force.
//
// The reason is logged: it must describe the recording, never name anyone.
func (r *Registry) CheckSamples(ctx context.Context, refs []string, outcome, reason string) ([]CheckResult, error) {
	return r.CheckSamplesIn(ctx, "", refs, outcome, reason)
}

// CheckSamplesIn is CheckSamples for the samples of one namespace's
// participants, as a steward of that organisation may check them. A sample
// of another namespace fails the whole call as if it did not exist, so the
// error reveals nothing about other organisations. An empty namespace
// allows every sample.
func (r *Registry) CheckSamplesIn(ctx context.Context, namespace string, refs []string, outcome, reason string) ([]CheckResult, error) {
	switch outcome {
	case event.CheckPassed:
		if reason != "" {
			return nil, fmt.Errorf("a passed check takes no reason")
		}
	case event.CheckRejected:
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("no reason for the rejection: pass --reason, such as \"signal clipped\"")
		}
		if len(reason) > maxReason || strings.ContainsFunc(reason, unicode.IsControl) {
			return nil, fmt.Errorf("invalid reason: write one line of at most %d bytes", maxReason)
		}
	default:
		return nil, fmt.Errorf("unknown check outcome %q: use passed or rejected", outcome)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("no samples given: name them by id (s-...) or by their collector's id")
	}

	var results []CheckResult
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		var err error
		results, err = r.checkSamples(ctx, w, namespace, refs, outcome, reason)
		return err
	})
	return results, err
}

func (r *Registry) checkSamples(ctx context.Context, w *writer, namespace string, refs []string, outcome, reason string) ([]CheckResult, error) {
	samples, err := resolveSamples(ctx, w.tx, refs)
	if err != nil {
		return nil, err
	}
	if err := checkOwners(ctx, w.tx, namespace, refs, samples); err != nil {
		return nil, err
	}
	ids := make([]string, len(samples))
	for i, s := range samples {
		ids[i] = s.ID
	}
	previous, err := w.tx.SampleChecks(ctx, ids)
	if err != nil {
		return nil, err
	}

	// Log the checks that change something.
	results := make([]CheckResult, len(samples))
	var changed []storage.Sample
	for i, s := range samples {
		results[i] = CheckResult{Sample: s.ID, Outcome: outcome}
		prev := previous[s.ID]
		if prev.Outcome == outcome {
			continue
		}
		if prev.Outcome == event.CheckRejected {
			return nil, fmt.Errorf("sample %s was rejected at %s (%s), and a rejection is final", s.ID, prev.At.Format("2006-01-02T15:04:05Z"), prev.Reason)
		}
		c := storage.SampleCheck{Sample: s.ID, Outcome: outcome, Reason: reason, At: r.now().UTC()}
		if c.EventIndex, err = w.append(event.TypeSampleChecked, event.SampleChecked{Sample: s.ID, Outcome: outcome, Reason: reason}); err != nil {
			return nil, err
		}
		if err := w.tx.InsertSampleCheck(ctx, c); err != nil {
			return nil, err
		}
		results[i].Changed = true
		changed = append(changed, s)
	}

	if err := r.settleChecked(ctx, w, changed, outcome); err != nil {
		return nil, err
	}
	comps, err := w.tx.SampleCompensations(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range results {
		if c, ok := comps[results[i].Sample]; ok {
			results[i].Payment, results[i].Amount, results[i].Currency = c.State(), c.Reserve.Amount, c.Reserve.Currency
		}
	}
	return results, nil
}

// settleChecked reserves the payments that passed samples lack, then
// settles the pending payments of the checked samples.
func (r *Registry) settleChecked(ctx context.Context, w *writer, checked []storage.Sample, outcome string) error {
	if len(checked) == 0 {
		return nil
	}
	ids := make([]string, len(checked))
	for i, s := range checked {
		ids[i] = s.ID
	}
	comps, err := w.tx.SampleCompensations(ctx, ids)
	if err != nil {
		return err
	}
	if outcome == event.CheckPassed {
		var unreserved []storage.Sample
		for _, s := range checked {
			if _, ok := comps[s.ID]; !ok {
				unreserved = append(unreserved, s)
			}
		}
		if err := r.reserveCompensation(ctx, w, unreserved); err != nil {
			return err
		}
		if comps, err = w.tx.SampleCompensations(ctx, ids); err != nil {
			return err
		}
	}

	byParticipant := map[string][]ledger.Transfer{}
	for _, s := range checked {
		if c, ok := comps[s.ID]; ok && c.Resolution.ID == "" {
			byParticipant[s.Participant] = append(byParticipant[s.Participant], c.Reserve)
		}
	}
	for _, p := range sortedParticipants(byParticipant) {
		if err := r.settle(ctx, w, p, byParticipant[p]); err != nil {
			return err
		}
	}
	return nil
}

// resolveSamples finds samples by id or external id, in the order given,
// without repeats.
func resolveSamples(ctx context.Context, tx storage.ReadTx, refs []string) ([]storage.Sample, error) {
	var out []storage.Sample
	seen := map[string]bool{}
	for _, ref := range refs {
		s, err := tx.Sample(ctx, ref)
		if errors.Is(err, storage.ErrNotFound) {
			s, err = tx.SampleByExternalID(ctx, ref)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("unknown sample %q: name a sample by its id (s-...) or its collector's id: %w", ref, storage.ErrNotFound)
		} else if err != nil {
			return nil, err
		}
		if !seen[s.ID] {
			seen[s.ID] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// checkOwners fails when a sample's participant is outside namespace
// (unless namespace is empty) or was erased. samples are those that refs
// named; an error names the sample as the caller named it.
func checkOwners(ctx context.Context, tx storage.ReadTx, namespace string, refs []string, samples []storage.Sample) error {
	owners := make([]string, len(samples))
	for i, s := range samples {
		owners[i] = s.Participant
	}
	people, err := tx.ParticipantsOf(ctx, owners)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		for _, s := range samples {
			if s.ID != ref && s.ExternalID != ref {
				continue
			}
			owner := people[s.Participant]
			if namespace != "" && owner.Namespace != namespace {
				return fmt.Errorf("unknown sample %q in organisation %q: name a sample of its participants by id (s-...) or by its collector's id: %w", ref, namespace, storage.ErrNotFound)
			}
			if !owner.ErasedAt.IsZero() {
				return fmt.Errorf("sample %q belongs to participant %s, who was erased: their samples are no longer checked or paid", ref, s.Participant)
			}
		}
	}
	return nil
}

// sortedParticipants returns map keys in order, so that the log does not
// depend on map order.
func sortedParticipants[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
