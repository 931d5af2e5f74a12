package fhirconsent

import (
	"slices"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// Decision is a Consent's answer for one use of data.
type Decision string

// Decisions of Evaluate.
const (
	Permit        Decision = "permit"
	Deny          Decision = "deny"
	NotApplicable Decision = "not-applicable"
)

func (d Decision) negate() Decision {
	switch d {
	case Permit:
		return Deny
	case Deny:
		return Permit
	}
	return NotApplicable
}

// Consent is a FHIR Consent resource, R4 or R5, read into the terms that
// decisions depend on.
type Consent struct {
	// ID is the resource id, or the entry's position when it has none.
	ID      string
	Version Version
	Status  string
	// Action is the code of SystemRecordAction in Consent.category that a
	// Steward export writes: grant or withdraw. It is empty for a Consent
	// from elsewhere, which Convert reads as a grant.
	Action string
	// Participant names the subject: a Steward pseudonym taken from an
	// identifier of system IdentifierPseudonym, else empty.
	Participant string
	// SubjectIDs are the subject's other identifiers: the values of
	// identifiers of other systems and the id of a Patient/<id>
	// reference. One may be a participant's source id.
	SubjectIDs []string
	// Key names the resource for an idempotent import: its ResourceType/id,
	// or its Digest when it has no id.
	Key string
	// Digest is "sha256:" and the hex SHA-256 of the resource's RFC 8785
	// form, so two copies that differ only in whitespace or key order have
	// the same digest.
	Digest string
	// Witness is the staff id that a Provenance of the Bundle names as
	// witness of this Consent, if any.
	Witness string
	// Signed is the start of Consent.date (R5) or Consent.dateTime (R4): the
	// Consent applies from then on only.
	Signed time.Time
	// Period is Consent.period (R5), which bounds every provision.
	Period Interval
	// Document is the Steward consent document version of policyBasis
	// (R5) or policy (R4), empty when there is none.
	Document string
	// FormDigest is "sha256:" and the SHA-256 of the signed form that
	// sourceAttachment states in HL7's alternate-hash extension, empty when
	// it states none.
	FormDigest    string
	Guardian      bool
	Assent        string
	MajorityMonth string
	Method        string
	// scope is an R4 root provision without a type, which bounds the
	// typed rules nested in it; nil otherwise.
	scope *Provision
	// Provisions are the top-level rules, each with the decision it states.
	Provisions []Provision
}

// Provision is one rule of a Consent. A nil Purposes or Modalities matches
// every purpose or modality.
type Provision struct {
	// Path is the element path, such as Consent.provision[0].provision[1].
	Path       string
	Type       Decision
	Period     Interval
	Purposes   []string
	DUO        []string
	Modalities []string
	// Exceptions are the nested provisions, each stating Type.negate().
	Exceptions []Provision
}

// applies reports whether a Consent of this status is ever enforced. An
// inactive Consent was active until it ended, and its periods give the end.
func applies(status string) bool { return status == "active" || status == "inactive" }

// Evaluate returns what the Consent decides about using data of a modality
// for a Steward purpose at time t.
//
// A Consent applies only when its status is active or inactive and t is at
// or after its date and inside Consent.period. A guardian's grant also
// needs the minor's assent (or a child too young to be asked), and it
// applies only before the first day of the majority month.
//
// A provision matches when every attribute it has matches (AND): t is in
// its period, the purpose is one of its purpose codes, and the modality is
// one of its data classes (each attribute's values OR-ed). Purpose codes
// match exactly, without the hierarchy. A matching provision states its
// decision unless one of its nested provisions, which each state the
// opposite decision, applies; siblings are OR-ed, so any one applying nested
// provision makes the exception.
//
// Top-level provisions are siblings under the Consent's decision, so the
// decision holds if any of them states it. R4 rules nested under a root
// without a type each carry their own type; where two of them disagree,
// deny wins, as in consent.Decide. The specification defines neither case
// beyond the sibling rule.
func Evaluate(c *Consent, purpose, modality string, t time.Time) Decision {
	if !applies(c.Status) || t.Before(c.Signed) || !c.Period.Contains(t) {
		return NotApplicable
	}
	if c.Guardian {
		if c.Assent == consent.AssentRefused {
			return NotApplicable
		}
		if end, err := time.Parse("2006-01", c.MajorityMonth); err != nil || !t.Before(end) {
			return NotApplicable
		}
	}
	if c.scope != nil && !c.scope.matches(purpose, modality, t) {
		return NotApplicable
	}

	var results []Decision
	sameType := true
	for _, p := range c.Provisions {
		results = append(results, p.evaluate(purpose, modality, t))
		sameType = sameType && p.Type == c.Provisions[0].Type
	}
	if sameType && len(c.Provisions) > 0 && slices.Contains(results, c.Provisions[0].Type) {
		return c.Provisions[0].Type
	}
	switch {
	case slices.Contains(results, Deny):
		return Deny
	case slices.Contains(results, Permit):
		return Permit
	}
	return NotApplicable
}

// matches reports whether every attribute of the provision matches.
func (p *Provision) matches(purpose, modality string, t time.Time) bool {
	if !p.Period.Contains(t) {
		return false
	}
	if p.Purposes != nil && !slices.Contains(p.Purposes, purpose) {
		return false
	}
	return p.Modalities == nil || slices.Contains(p.Modalities, modality)
}

// evaluate returns the provision's decision, its opposite when an
// exception applies, or NotApplicable when it does not match.
func (p *Provision) evaluate(purpose, modality string, t time.Time) Decision {
	if !p.matches(purpose, modality, t) {
		return NotApplicable
	}
	for i := range p.Exceptions {
		if p.Exceptions[i].evaluate(purpose, modality, t) == p.Exceptions[i].Type {
			return p.Exceptions[i].Type
		}
	}
	return p.Type
}
