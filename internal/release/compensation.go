package release

import (
	"fmt"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
)

// Compensation states the compensation terms of a release: the policy in
// force when it was built. A release built while the registry had no policy
// has none, and its samples carry no payment evidence.
type Compensation struct {
	// Policy is the policy's id@version and Event the index of the event
	// that registered it, whose digest must be Digest.
	Policy string `json:"policy"`
	Event  uint64 `json:"event"`
	Digest string `json:"digest"`
	// Currency of every amount.
	Currency string `json:"currency"`
	// PerUse is the licensee's payment for each sample, in minor units,
	// under the release's tier.
	PerUse int64 `json:"perUse"`
	// RoyaltyShare is the fraction of licence revenue paid to the
	// contributors.
	RoyaltyShare float64  `json:"royaltyShare"`
	Benefits     []string `json:"benefits,omitempty"`
}

// NewCompensation returns the terms of a release of the given tier under a
// policy registered at the given event.
func NewCompensation(p ledger.Policy, digest string, eventIndex uint64, tier string) *Compensation {
	return &Compensation{Policy: p.Ref(), Event: eventIndex, Digest: digest, Currency: p.Currency,
		PerUse: p.UseAmount(tier), RoyaltyShare: p.RoyaltyShare, Benefits: p.Benefits}
}

// LicenceCompensation is the compensation part of licence.json.
type LicenceCompensation struct {
	Policy       string `json:"policy"`
	PolicyDigest string `json:"policyDigest"`
	Currency     string `json:"currency"`
	// Amounts in minor units, and as decimals of the major unit.
	PerUseMinor   int64    `json:"perUseMinorUnits"`
	PerUse        string   `json:"perUse"`
	TotalMinor    int64    `json:"totalMinorUnits"`
	Total         string   `json:"total"`
	Samples       int      `json:"samples"`
	RoyaltyShare  float64  `json:"royaltyShare"`
	Benefits      []string `json:"benefits,omitempty"`
	PerSampleNote string   `json:"perSample"`
}

// licenceCompensation returns the licence's compensation terms for a
// release of the given number of samples, or nil without terms.
func licenceCompensation(c *Compensation, samples int) *LicenceCompensation {
	if c == nil {
		return nil
	}
	total := c.PerUse * int64(samples)
	return &LicenceCompensation{
		Policy: c.Policy, PolicyDigest: c.Digest, Currency: c.Currency,
		PerUseMinor: c.PerUse, PerUse: ledger.FormatDecimal(c.PerUse, c.Currency),
		TotalMinor: total, Total: ledger.FormatDecimal(total, c.Currency), Samples: samples,
		RoyaltyShare: c.RoyaltyShare, Benefits: c.Benefits,
		PerSampleNote: "each participant was paid for each sample under the policy recorded with the sample, once it passed its data checks and consent was in force; log/entries.jsonl holds every payment with its inclusion proof",
	}
}

// licenceSamples counts a release's samples from its attribution, which
// credits every included sample to one source.
func licenceSamples(attribution []Attribution) int {
	n := 0
	for _, a := range attribution {
		n += a.Samples
	}
	return n
}

// checkCompensation checks a sample's payment evidence against the terms:
// the pending per-sample transfer to its participant and the post of it,
// and for a licensed release with a per-use amount, the licensee's posted
// per-use transfer for this release. It reports whether all were found.
func checkCompensation(entries map[uint64]verifiedEntry, h *Header, s *Sample, rep *Report) bool {
	c := h.Compensation
	var transfers []ledger.Transfer
	for _, idx := range s.Evidence.Compensation {
		e, ok := entries[idx]
		if !ok {
			rep.fail("sample %s: compensation event %d or its proof is missing", s.ID, idx)
			return false
		}
		var t ledger.Transfer
		if e.ev.Type != event.TypeTransfer || e.ev.DecodeData(&t) != nil {
			rep.fail("sample %s: event %d is not a ledger transfer", s.ID, idx)
			return false
		}
		transfers = append(transfers, t)
	}
	participant := ledger.ParticipantAccount(s.Participant)
	var reserve, post, use *ledger.Transfer
	for i := range transfers {
		t := &transfers[i]
		switch {
		case t.Trigger == ledger.TriggerSample && t.Phase == ledger.PhasePending && t.Sample == s.ID && t.Credit == participant:
			reserve = t
		case t.Trigger == ledger.TriggerUse && t.Phase == ledger.PhasePosted && t.Sample == s.ID && t.Release == h.Release:
			use = t
		}
	}
	for i := range transfers {
		t := &transfers[i]
		if reserve != nil && t.Phase == ledger.PhasePost && t.Pending == reserve.ID && t.Sample == s.ID {
			post = t
		}
	}
	ok := true
	switch {
	case reserve == nil:
		rep.fail("sample %s: no compensation event: the bundle holds no per-sample payment to participant %s", s.ID, s.Participant)
		return false
	case post == nil:
		rep.fail("sample %s: the per-sample payment %s was not posted", s.ID, reserve.ID)
		ok = false
	}
	if h.Licensee != "" && c.PerUse > 0 {
		switch {
		case use == nil:
			rep.fail("sample %s: no per-use payment by licensee %s for release %s", s.ID, h.Licensee, h.Release)
			ok = false
		case use.Debit != ledger.LicenseeAccount(h.Licensee) || use.Credit != participant || use.Amount != c.PerUse || use.Currency != c.Currency:
			rep.fail("sample %s: per-use payment %s is %s, not %s from licensee %s to %s", s.ID, use.ID, use.Describe(),
				ledger.FormatAmount(c.PerUse, c.Currency), h.Licensee, participant)
			ok = false
		}
	}
	return ok
}

// checkPolicyEvent checks that the stated terms are those of the policy
// the bundled event registered.
func checkPolicyEvent(entries map[uint64]verifiedEntry, h Header, rep *Report) {
	c := h.Compensation
	e, ok := entries[c.Event]
	var added event.PolicyAdded
	if !ok || e.ev.Type != event.TypePolicyAdded || e.ev.DecodeData(&added) != nil {
		rep.fail("%s: the event %d registering compensation policy %s, or its proof, is missing", ManifestFile, c.Event, c.Policy)
		return
	}
	p := added.Policy
	want := NewCompensation(p, added.Digest, c.Event, h.Tier)
	if p.Ref() != c.Policy || added.Digest != c.Digest || want.PerUse != c.PerUse || want.Currency != c.Currency || want.RoyaltyShare != c.RoyaltyShare {
		rep.fail("%s: the compensation terms differ from policy %s as event %d registered it", ManifestFile, p.Ref(), c.Event)
	}
	if digest, err := p.Digest(); err != nil || digest != added.Digest {
		rep.fail("event %d: policy %s does not match its digest %s", c.Event, p.Ref(), added.Digest)
	}
}

// CompensationSummary describes what a verification found about payments,
// for the verifier's output.
func (r *Report) CompensationSummary() string {
	if r.CompensationPolicy == "" {
		return "no compensation terms: the release was built before any compensation policy, so no payment was checked"
	}
	return fmt.Sprintf("%d of %d samples paid under compensation policy %s, with the payment events proven", r.Compensated, r.Samples, r.CompensationPolicy)
}
