// Package consent holds participants' consent records and decides, for a
// participant, purpose, modality and time, whether use is permitted.
//
// The rules, in the order they apply:
//
//   - A record counts at time T only if it was signed at or before T.
//   - A grant record is in force at T when From <= T < Until (an absent Until
//     is open-ended) and no withdrawal signed after it covers the same tier
//     and modality with an effective time at or before T. A withdrawal ends
//     the earlier records in its scope; grants signed after it apply again.
//   - Among the grant records in force that cover the tier and modality, one
//     deny decides deny (a deny is never outvoted). Otherwise one permit
//     decides permit.
//   - Anything else, including no record at all, is deny.
package consent

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Tiers are the uses a participant can allow, in the order forms list them.
var Tiers = []string{"research", "clinical", "commercial"}

// Actions of a consent record.
const (
	ActionGrant    = "grant"
	ActionWithdraw = "withdraw"
)

// Decisions a grant record states, and decisions Decide returns.
const (
	Permit = "permit"
	Deny   = "deny"
)

// Record is one entry of a participant's append-only consent history.
type Record struct {
	ID          string     `json:"id"`
	Participant string     `json:"participant"`
	Action      string     `json:"action"`
	Decision    string     `json:"decision,omitempty"`
	Document    string     `json:"document"`
	Tiers       []string   `json:"tiers"`
	Modalities  []string   `json:"modalities"`
	From        time.Time  `json:"from"`
	Until       *time.Time `json:"until,omitempty"`
	SignedAt    time.Time  `json:"signedAt"`
	Method      string     `json:"method"`
	Witness     string     `json:"witness,omitempty"`

	// Seq orders records signed at the same instant: the log index of the
	// event that recorded the record. It is not part of the record itself.
	Seq uint64 `json:"-"`
}

// Covers reports whether the record's scope includes tier and modality.
func (r Record) Covers(tier, modality string) bool {
	return slices.Contains(r.Tiers, tier) && slices.Contains(r.Modalities, modality)
}

// signedBefore reports whether r was signed before other.
func (r Record) signedBefore(other Record) bool {
	if !r.SignedAt.Equal(other.SignedAt) {
		return r.SignedAt.Before(other.SignedAt)
	}
	return r.Seq < other.Seq
}

// activeAt reports whether the record's period includes t.
func (r Record) activeAt(t time.Time) bool {
	if t.Before(r.From) {
		return false
	}
	return r.Until == nil || t.Before(*r.Until)
}

// Validate checks the record's fields. Modalities are checked against the
// list given, so this package does not depend on the sample model.
func (r Record) Validate(modalities []string) error {
	if r.ID == "" || r.Participant == "" {
		return fmt.Errorf("consent record needs an id and a participant")
	}
	switch r.Action {
	case ActionGrant:
		if r.Decision != Permit && r.Decision != Deny {
			return fmt.Errorf("invalid decision %q: use %s or %s", r.Decision, Permit, Deny)
		}
		if r.Document == "" {
			return fmt.Errorf("missing consent document version: pass --document, such as --document v1")
		}
	case ActionWithdraw:
		if r.Decision != "" {
			return fmt.Errorf("a withdrawal states no decision, got %q", r.Decision)
		}
	default:
		return fmt.Errorf("invalid consent action %q: use %s or %s", r.Action, ActionGrant, ActionWithdraw)
	}
	if len(r.Tiers) == 0 {
		return fmt.Errorf("no tiers given: pass --tiers with one or more of %s", strings.Join(Tiers, ","))
	}
	for _, t := range r.Tiers {
		if !slices.Contains(Tiers, t) {
			return fmt.Errorf("unknown tier %q: use %s", t, strings.Join(Tiers, ", "))
		}
	}
	if len(r.Modalities) == 0 {
		return fmt.Errorf("no modalities given: pass --modalities with one or more of %s", strings.Join(modalities, ","))
	}
	for _, m := range r.Modalities {
		if !slices.Contains(modalities, m) {
			return fmt.Errorf("unknown modality %q: use %s", m, strings.Join(modalities, ", "))
		}
	}
	if r.Until != nil && !r.Until.After(r.From) {
		return fmt.Errorf("consent period ends (%s) at or before it starts (%s): --until must be later than --from",
			r.Until.Format(time.RFC3339), r.From.Format(time.RFC3339))
	}
	if r.SignedAt.IsZero() || r.From.IsZero() {
		return fmt.Errorf("consent record needs a signing time and a start time")
	}
	return nil
}

// Outcome is a decision with the records that produced it.
type Outcome struct {
	Decision string
	// Basis lists the ids of the records in force that decided: the denying
	// records for a deny, the permitting ones for a permit. It is empty when
	// no record was in force.
	Basis []string
}

// Permitted reports whether the outcome allows use.
func (o Outcome) Permitted() bool { return o.Decision == Permit }

// Decide returns the decision for using a participant's data of the given
// modality for a purpose of the given tier at time t. records is the
// participant's whole history; Decide never modifies it.
func Decide(records []Record, tier, modality string, t time.Time) Outcome {
	var permits, denies []string
	for _, g := range records {
		if g.Action != ActionGrant || g.SignedAt.After(t) || !g.activeAt(t) || !g.Covers(tier, modality) {
			continue
		}
		if withdrawn(records, g, tier, modality, t) {
			continue
		}
		if g.Decision == Deny {
			denies = append(denies, g.ID)
		} else {
			permits = append(permits, g.ID)
		}
	}
	switch {
	case len(denies) > 0:
		return Outcome{Decision: Deny, Basis: denies}
	case len(permits) > 0:
		return Outcome{Decision: Permit, Basis: permits}
	}
	return Outcome{Decision: Deny}
}

// withdrawn reports whether a withdrawal signed after g ended g's cell
// (tier, modality) at or before t.
func withdrawn(records []Record, g Record, tier, modality string, t time.Time) bool {
	for _, w := range records {
		if w.Action != ActionWithdraw || w.SignedAt.After(t) || w.From.After(t) {
			continue
		}
		if g.signedBefore(w) && w.Covers(tier, modality) {
			return true
		}
	}
	return false
}

// Reasons a sample is left out of a release.
const (
	ReasonDenied     = "consent denies this use"
	ReasonWithdrawn  = "consent withdrawn"
	ReasonExpired    = "consent expired"
	ReasonNotYet     = "consent period not started"
	ReasonNotGranted = "use not granted"
	ReasonNoConsent  = "no consent recorded"
)

// Explain returns why Decide denies, as one of the Reason constants, or ""
// when it permits.
func Explain(records []Record, tier, modality string, t time.Time) string {
	out := Decide(records, tier, modality, t)
	switch {
	case out.Permitted():
		return ""
	case len(out.Basis) > 0:
		return ReasonDenied
	}
	var known []Record
	for _, r := range records {
		if !r.SignedAt.After(t) {
			known = append(known, r)
		}
	}
	if len(known) == 0 {
		return ReasonNoConsent
	}
	reason := ReasonNotGranted
	for _, g := range known {
		if g.Action != ActionGrant || g.Decision != Permit || !g.Covers(tier, modality) {
			continue
		}
		switch {
		case withdrawn(known, g, tier, modality, t):
			return ReasonWithdrawn
		case t.Before(g.From):
			reason = ReasonNotYet
		case g.Until != nil && !t.Before(*g.Until):
			reason = ReasonExpired
		}
	}
	return reason
}
