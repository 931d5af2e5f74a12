// Package consent holds participants' consent records and consent
// documents, and decides, for a participant, purpose, modality and time,
// whether use is permitted.
//
// The rules, in the order they apply:
//
//   - An unknown or missing purpose is denied: decisions fail closed.
//   - A record counts at time T only if it was signed at or before T. A
//     record that an ethics board or court invalidated never counts, for any
//     T, so past uses lose their basis too.
//   - A grant record is in force at T when From <= T < Until (an absent Until
//     is open-ended) and no withdrawal signed after it covers the same tier
//     and modality with an effective time at or before T. A withdrawal ends
//     the earlier records in its scope; grants signed after it apply again.
//   - A guardian's grant for a minor counts only while the child has not come
//     of age, and not at all when the child refused assent. After majority,
//     use stops until the participant grants consent as an adult.
//   - A permit counts for a purpose only if no major revision of its consent
//     document, signed by the participant or not, has added or changed that
//     purpose or one of its ancestors since.
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

	"github.com/steward-rehab/steward/internal/plaintext"
)

// Tiers are the uses a participant can allow, in the order forms list them.
var Tiers = []string{"research", "clinical", "commercial"}

// Actions of a consent record.
const (
	ActionGrant    = "grant"
	ActionWithdraw = "withdraw"
	// ActionInvalidate voids another record, as an ethics board or a court
	// may: the voided record never counted.
	ActionInvalidate = "invalidate"
)

// Who granted a record.
const (
	GrantorParticipant = "participant"
	GrantorGuardian    = "guardian"
)

// A minor's assent to a guardian's grant.
const (
	AssentGiven   = "given"
	AssentRefused = "refused"
	// AssentNotApplicable is for a child too young to be asked.
	AssentNotApplicable = "not-applicable"
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

	// Grantor is participant or guardian; empty means participant.
	Grantor string `json:"grantor,omitempty"`
	// Assent is the minor's assent to a guardian's grant.
	Assent string `json:"assent,omitempty"`
	// MajorityMonth is the month (YYYY-MM) the minor comes of age. A
	// guardian's grant stops counting at its first day; the month, not the
	// date, is logged to keep the birth date out of the log.
	MajorityMonth string `json:"majorityMonth,omitempty"`

	// Voids is the id of the record an invalidation voids.
	Voids string `json:"voids,omitempty"`
	// Authority is who invalidated, such as an ethics board.
	Authority string `json:"authority,omitempty"`
	// Reason explains an invalidation.
	Reason string `json:"reason,omitempty"`

	// Seq orders records signed at the same instant: the log index of the
	// event that recorded the record. It is not part of the record itself.
	Seq uint64 `json:"-"`
}

// Covers reports whether the record's scope includes tier and modality.
func (r Record) Covers(tier, modality string) bool {
	return slices.Contains(r.Tiers, tier) && slices.Contains(r.Modalities, modality)
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
	if err := r.validateText(); err != nil {
		return err
	}
	switch r.Action {
	case ActionGrant:
		if r.Decision != Permit && r.Decision != Deny {
			return fmt.Errorf("invalid decision %q: use %s or %s", r.Decision, Permit, Deny)
		}
		if r.Document == "" {
			return fmt.Errorf("missing consent document version: pass --document, such as --document v1")
		}
		if err := r.validateGrantor(); err != nil {
			return err
		}
	case ActionWithdraw:
		if r.Decision != "" {
			return fmt.Errorf("a withdrawal states no decision, got %q", r.Decision)
		}
	case ActionInvalidate:
		if r.Voids == "" || r.Authority == "" {
			return fmt.Errorf("an invalidation names the record it voids and the authority that voided it")
		}
		return nil
	default:
		return fmt.Errorf("invalid consent action %q: use %s, %s or %s", r.Action, ActionGrant, ActionWithdraw, ActionInvalidate)
	}
	if err := r.validateMethod(); err != nil {
		return err
	}
	if len(r.Tiers) == 0 {
		return fmt.Errorf("no tiers given: pass --tiers with one or more of %s", strings.Join(Tiers, ","))
	}
	if d := firstRepeat(r.Tiers); d != "" {
		return fmt.Errorf("tier %s is given twice: name each tier once", d)
	}
	if d := firstRepeat(r.Modalities); d != "" {
		return fmt.Errorf("modality %s is given twice: name each modality once", d)
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
		return fmt.Errorf("consent period ends (--until %s) at or before it starts (%s): give an --until after the start, which is --from or, without it, the signing time",
			r.Until.Format(time.RFC3339), r.From.Format(time.RFC3339))
	}
	if r.SignedAt.IsZero() || r.From.IsZero() {
		return fmt.Errorf("consent record needs a signing time and a start time")
	}
	return nil
}

// validateText rejects hidden characters in the free text of a record,
// which the log keeps and participant pages and FHIR exports print.
func (r Record) validateText() error {
	for _, f := range []struct{ name, value string }{
		{"witness", r.Witness}, {"authority", r.Authority}, {"participant", r.Participant},
	} {
		if err := plaintext.Line(f.name, f.value); err != nil {
			return err
		}
	}
	return plaintext.Paragraphs("reason", r.Reason)
}

// Methods are the ways consent is given or withdrawn. MethodFHIR marks a
// record imported from a FHIR Consent that did not state its method.
const (
	MethodWritten         = "written"
	MethodElectronic      = "electronic"
	MethodVerbalWitnessed = "verbal-witnessed"
	MethodFHIR            = "fhir"
)

// Methods lists the methods a record may state.
var Methods = []string{MethodWritten, MethodElectronic, MethodVerbalWitnessed, MethodFHIR}

func (r Record) validateMethod() error {
	if !slices.Contains(Methods, r.Method) {
		return fmt.Errorf("invalid method %q: use %s, %s or %s", r.Method, MethodWritten, MethodElectronic, MethodVerbalWitnessed)
	}
	if r.Method == MethodVerbalWitnessed && strings.TrimSpace(r.Witness) == "" {
		return fmt.Errorf("verbal consent needs a witness: pass --witness with who witnessed it")
	}
	return nil
}

// firstRepeat returns the first value that occurs twice in list, or "".
func firstRepeat(list []string) string {
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

func (r Record) validateGrantor() error {
	switch r.Grantor {
	case "", GrantorParticipant:
		if r.Assent != "" || r.MajorityMonth != "" {
			return fmt.Errorf("assent and majority month apply to a guardian's grant only: pass --guardian")
		}
	case GrantorGuardian:
		var missing []string
		if r.MajorityMonth == "" {
			missing = append(missing, "--majority with the month the participant comes of age, such as 2031-04")
		}
		if r.Assent == "" {
			missing = append(missing, fmt.Sprintf("--assent with %s, %s or %s", AssentGiven, AssentRefused, AssentNotApplicable))
		}
		if len(missing) > 0 {
			return fmt.Errorf("a guardian's grant needs %s", strings.Join(missing, ", and "))
		}
		if _, err := time.Parse("2006-01", r.MajorityMonth); err != nil {
			return fmt.Errorf("invalid majority month %q for a guardian's grant: give the month the participant comes of age, such as 2031-04", r.MajorityMonth)
		}
		switch r.Assent {
		case AssentGiven, AssentRefused, AssentNotApplicable:
		default:
			return fmt.Errorf("invalid assent %q: use %s, %s or %s", r.Assent, AssentGiven, AssentRefused, AssentNotApplicable)
		}
	default:
		return fmt.Errorf("invalid grantor %q: use %s or %s", r.Grantor, GrantorParticipant, GrantorGuardian)
	}
	return nil
}

// majority returns when a guardian's grant stops counting.
func (r Record) majority() (time.Time, bool) {
	if r.Grantor != GrantorGuardian {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01", r.MajorityMonth)
	if err != nil {
		return time.Time{}, true // unreadable: treat as already of age, so the grant stops
	}
	return t, true
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
// modality for a purpose at time t. records is the participant's whole
// history and lib the terms of every consent document; Decide modifies
// neither.
func Decide(records []Record, lib Library, purpose, modality string, t time.Time) Outcome {
	p, err := LookupPurpose(purpose)
	if err != nil {
		return Outcome{Decision: Deny}
	}
	c := newCell(records, p.Tier, modality, t)
	var permits, denies []string
	// Grants mostly share one document, so its coverage is computed once.
	var covered struct {
		document string
		known    bool
		covers   bool
	}
	for _, g := range records {
		if !c.inForce(g) {
			continue
		}
		if g.Decision == Deny {
			denies = append(denies, g.ID)
			continue
		}
		if !covered.known || covered.document != g.Document {
			covered.document, covered.known, covered.covers = g.Document, true, lib.covers(g.Document, p)
		}
		if covered.covers {
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

// cell is one tier and modality at one time, with the records that can end
// a grant there found in one pass, so deciding is linear in the history.
type cell struct {
	tier, modality string
	t              time.Time
	voided         []string   // ids of invalidated records
	withdrawals    []signedAt // withdrawals in effect at t that cover the cell
}

// signedAt orders records: by signing time, then by log index.
type signedAt struct {
	at  time.Time
	seq uint64
}

func newCell(records []Record, tier, modality string, t time.Time) cell {
	c := cell{tier: tier, modality: modality, t: t}
	for _, r := range records {
		switch r.Action {
		case ActionInvalidate:
			c.voided = append(c.voided, r.Voids)
		case ActionWithdraw:
			if !r.SignedAt.After(t) && !r.From.After(t) && r.Covers(tier, modality) {
				c.withdrawals = append(c.withdrawals, signedAt{r.SignedAt, r.Seq})
			}
		}
	}
	return c
}

// inForce reports whether grant g applies to the cell, before documents
// are considered.
func (c cell) inForce(g Record) bool {
	if g.Action != ActionGrant || g.SignedAt.After(c.t) || !g.activeAt(c.t) || !g.Covers(c.tier, c.modality) {
		return false
	}
	if c.invalidated(g) || c.withdrawn(g) {
		return false
	}
	if end, minor := g.majority(); minor {
		if g.Assent == AssentRefused || !c.t.Before(end) {
			return false
		}
	}
	return true
}

func (c cell) invalidated(g Record) bool { return slices.Contains(c.voided, g.ID) }

// withdrawn reports whether a withdrawal signed after g ended g in the cell.
func (c cell) withdrawn(g Record) bool {
	for _, w := range c.withdrawals {
		if g.SignedAt.Before(w.at) || (g.SignedAt.Equal(w.at) && g.Seq < w.seq) {
			return true
		}
	}
	return false
}

// covers reports whether a permit signed under version covers purpose p:
// the document describes the purpose and no later major revision changed
// it.
func (lib Library) covers(version string, p Purpose) bool {
	terms, known := lib[version]
	if !known {
		return false // fail closed: a grant under an unknown document permits nothing
	}
	return terms.describes(p) && !lib.restricts(version, p)
}

// Reasons a sample is left out of a release.
const (
	ReasonDenied         = "consent denies this use"
	ReasonWithdrawn      = "consent withdrawn"
	ReasonInvalidated    = "consent invalidated"
	ReasonExpired        = "consent expired"
	ReasonNotYet         = "consent period not started"
	ReasonNotGranted     = "use not granted"
	ReasonNoConsent      = "no consent recorded"
	ReasonMajority       = "participant came of age and has not confirmed"
	ReasonAssentRefused  = "child refused assent"
	ReasonNewDocument    = "purpose changed by a major revision not yet signed"
	ReasonNotInDocument  = "consent form does not cover this purpose"
	ReasonUnknownPurpose = "unknown purpose"
)

// Explain returns why Decide denies, as one of the Reason constants, or ""
// when it permits.
func Explain(records []Record, lib Library, purpose, modality string, t time.Time) string {
	p, err := LookupPurpose(purpose)
	if err != nil {
		return ReasonUnknownPurpose
	}
	out := Decide(records, lib, purpose, modality, t)
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
	c := newCell(records, p.Tier, modality, t)
	for _, g := range known {
		if g.Action != ActionGrant || g.Decision != Permit || !g.Covers(p.Tier, modality) {
			continue
		}
		end, minor := g.majority()
		switch {
		case c.invalidated(g):
			return ReasonInvalidated
		case c.withdrawn(g):
			return ReasonWithdrawn
		case minor && g.Assent == AssentRefused:
			reason = ReasonAssentRefused
		case minor && !t.Before(end):
			reason = ReasonMajority
		case t.Before(g.From):
			reason = ReasonNotYet
		case g.Until != nil && !t.Before(*g.Until):
			reason = ReasonExpired
		case g.activeAt(t) && lib.restricts(g.Document, p):
			reason = ReasonNewDocument
		case g.activeAt(t) && !lib.covers(g.Document, p):
			reason = ReasonNotInDocument
		}
	}
	return reason
}
