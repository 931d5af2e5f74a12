// Package fhirconsent exports a participant's consent history as FHIR
// Consent and Provenance resources (R5 or R4) and imports FHIR Consent
// resources as Steward consent records that decide the same way.
//
// # Export
//
// Every grant and withdrawal record becomes one Consent, and every record,
// invalidations included, gets one Provenance that names the log entry of
// its event. A Consent describes when its own record is in force. Its
// top-level provisions cover exactly the purposes, modalities and periods in
// which the record counts under consent.Decide, after expiry, withdrawals,
// majority and document revisions. Its nested provisions are the exceptions
// where the participant's whole history decides otherwise, such as a deny
// record in force inside a permit, or a later grant inside a withdrawal.
// So each exported Consent, evaluated alone, returns the history's decision
// wherever it applies, and no two exported Consents contradict each other.
//
// Purposes are listed one code each, never by a parent code: a permit lists
// every purpose its document still covers, so a purpose that a major
// revision changed is simply missing.
//
// # Evaluation
//
// Evaluate follows the provision rules of the FHIR Consent resource (R5
// StructureDefinition and the Consent notes of the specification source):
// "Provisions are organized in a tree structure where the root states the
// default decision and each subsequent level specifies exceptions to the
// rules stated in the parent provision"; "Provisions at the same level of
// depth are interpreted as disjunctive (i.e., OR-ed)"; "Within a provision,
// the conditions implied by different attributes are interpreted
// conjunctively (i.e., AND-ed)"; and "Within an attribute, if the attribute
// is multi-valued, the values are interpreted as disjunctive". See Evaluate
// for the rules where the specification leaves a choice.
//
// # Import
//
// Import evaluates every Consent for every purpose and modality over the
// time intervals that the periods define, rejects permit and deny from two
// Consents at the same point (the specification leaves combining several
// Consents to policy), and emits grant records per tier and modality that
// consent.Decide reproduces exactly. A Consent that an export marks as a
// withdrawal becomes a withdrawal record again, because a deny grant in
// its place would outvote every grant recorded after the import.
package fhirconsent

import (
	"fmt"
	"slices"
	"strings"

	"github.com/steward-rehab/steward/internal/consent"
)

// Version is a FHIR release that Steward reads and writes.
type Version string

// FHIR releases.
const (
	R4 Version = "r4"
	R5 Version = "r5"
)

// ParseVersion reads a --fhir flag value.
func ParseVersion(s string) (Version, error) {
	switch strings.ToLower(s) {
	case "r5", "5", "5.0.0":
		return R5, nil
	case "r4", "4", "4.0.1":
		return R4, nil
	}
	return "", fmt.Errorf("unsupported FHIR version %q: use r5 or r4", s)
}

// Base is the root of the URIs Steward defines for its code systems,
// identifiers and extensions.
//
// NOTE: nothing is published at these URLs yet; they name Steward's
// definitions, which this package documents.
const Base = "https://steward-rehab.github.io/fhir"

// Code systems.
const (
	// SystemPurpose holds Steward's purpose codes (steward purposes lists
	// them), one code per node of the purpose hierarchy.
	SystemPurpose = Base + "/CodeSystem/purpose"
	// SystemModality holds the kinds of recording: video, voice, sensor and
	// pressure. Exports put them in provision.documentType (R5) or
	// provision.class (R4), the elements for the sort of information a
	// provision covers.
	SystemModality = Base + "/CodeSystem/modality"
	// SystemRecordAction marks a Consent.category as a grant record or a
	// withdrawal record.
	SystemRecordAction = Base + "/CodeSystem/record-action"
	// SystemDUO is the GA4GH Data Use Ontology; codes are CURIEs such as
	// DUO:0000042.
	SystemDUO = "http://purl.obolibrary.org/obo/duo.owl"

	systemLOINC           = "http://loinc.org"
	systemConsentScope    = "http://terminology.hl7.org/CodeSystem/consentscope"
	systemDataOperation   = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
	systemParticipantType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	systemParticipation   = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemRoleCode        = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	systemHashAlgorithm   = "https://www.iana.org/assignments/named-information"
)

// Identifier systems.
const (
	// IdentifierPseudonym names participants by their Steward pseudonym,
	// the only participant identifier an export carries.
	IdentifierPseudonym = Base + "/identifier/pseudonym"
	// IdentifierRecord names consent records by their Steward id.
	IdentifierRecord = Base + "/identifier/consent-record"
	// IdentifierDocument names consent document versions, such as v1.
	IdentifierDocument = Base + "/identifier/consent-document"
	// IdentifierStaff names the staff who witness consent.
	IdentifierStaff = Base + "/identifier/staff"
	// IdentifierLog names a registry's log by its origin.
	IdentifierLog = Base + "/identifier/log"
)

// IdentifierLogEntry returns the identifier system for the entries of the
// log with the given origin; the value is the entry's index.
func IdentifierLogEntry(origin string) string { return Base + "/log/" + origin }

// DocumentURI returns the URI that names a consent document version in R4
// Consent.policy.uri.
func DocumentURI(version string) string { return IdentifierDocument + "/" + version }

// Extensions.
const (
	// ExtensionAssent is the minor's assent to a guardian's grant, a code:
	// given, refused or not-applicable. A refused assent means the grant
	// never counts.
	ExtensionAssent = Base + "/StructureDefinition/minor-assent"
	// ExtensionMajority is the month the minor comes of age, a FHIR date
	// of month precision (YYYY-MM). A guardian's grant stops counting at its
	// first day.
	ExtensionMajority = Base + "/StructureDefinition/majority-month"
	// ExtensionMethod is how consent was given, a string such as written.
	ExtensionMethod = Base + "/StructureDefinition/consent-method"
	// extensionAlternateHash is HL7's extension for an Attachment hash in an
	// algorithm other than SHA-1 (FHIR Extensions Pack, alternate-hash).
	extensionAlternateHash = "http://hl7.org/fhir/StructureDefinition/alternate-hash"
)

// Codes of SystemRecordAction.
const (
	recordGrant    = "grant"
	recordWithdraw = "withdraw"
)

// Modalities lists the codes of SystemModality.
var Modalities = []string{"video", "voice", "sensor", "pressure"}

// purposeCodes returns every purpose code, parents before children.
func purposeCodes() []string {
	var codes []string
	for _, p := range consent.Purposes() {
		codes = append(codes, p.Code)
	}
	return codes
}

// purposesOfTier returns the codes of the purposes under tier, in
// hierarchy order.
func purposesOfTier(tier string) []string {
	var codes []string
	for _, p := range consent.Purposes() {
		if p.Tier == tier {
			codes = append(codes, p.Code)
		}
	}
	return codes
}

// tierOf returns the tier of a purpose code.
func tierOf(purpose string) string {
	t, _ := consent.TierFor(purpose)
	return t
}

// purposeIndex orders purpose codes as the hierarchy lists them.
func purposeIndex(code string) int { return slices.Index(purposeCodes(), code) }

// modalityIndex orders modality codes as Modalities lists them.
func modalityIndex(code string) int { return slices.Index(Modalities, code) }
