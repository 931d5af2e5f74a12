package fhirconsent

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// History is the registry state that an export reads.
type History struct {
	// Participant is the pseudonym, the only participant id an export
	// carries.
	Participant string
	// Origin names the registry's log.
	Origin string
	// Records is the participant's whole history, each Seq set to the log
	// index of its event.
	Records []consent.Record
	// Library holds the terms of every registered document, as
	// consent.Decide needs them.
	Library consent.Library
	// Documents holds every registered document by version.
	Documents map[string]consent.Document
	// Events holds the type and time of each record's event by log index.
	Events map[uint64]Event
}

// Event is a log entry's envelope.
type Event struct {
	Type string
	Time time.Time
}

// Export writes the history as a FHIR Bundle of type collection: for each
// record in signing order, its Consent (grants and withdrawals) and its
// Provenance. The output depends on the history only, so exporting the same
// history again gives the same bytes.
func Export(h *History, v Version) ([]byte, error) {
	if v != R4 && v != R5 {
		return nil, fmt.Errorf("unsupported FHIR version %q: use r5 or r4", v)
	}
	records := slices.Clone(h.Records)
	sort.SliceStable(records, func(i, j int) bool { return signedBefore(records[i], records[j]) })
	for _, r := range records {
		if _, ok := h.Events[r.Seq]; !ok {
			return nil, fmt.Errorf("export %s: no log entry %d for consent record %s", h.Participant, r.Seq, r.ID)
		}
		if r.Action == consent.ActionGrant {
			if _, ok := h.Documents[r.Document]; !ok {
				return nil, fmt.Errorf("export %s: consent record %s names document %s, which is not registered", h.Participant, r.ID, r.Document)
			}
		}
	}

	var times []time.Time
	for _, r := range records {
		times = append(times, recordTimes(r)...)
	}
	x := exporter{h: h, records: records, version: v, tl: newTimeline(times)}
	x.effects = effects(records, h.Library, x.tl)

	b := bundle{ResourceType: "Bundle", ID: "consent-" + h.Participant, Type: "collection"}
	var newest time.Time
	for _, r := range records {
		if ev := h.Events[r.Seq]; ev.Time.After(newest) {
			newest = ev.Time
		}
		if r.Action != consent.ActionInvalidate {
			b.Entry = append(b.Entry, bundleEntry{FullURL: x.fullURL("Consent", r.ID), Resource: x.consent(r)})
		}
		b.Entry = append(b.Entry, bundleEntry{FullURL: x.fullURL("Provenance", r.ID), Resource: x.provenance(r)})
	}
	if !newest.IsZero() {
		b.Timestamp = formatInstant(newest)
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode FHIR bundle: %w", err)
	}
	return append(out, '\n'), nil
}

type exporter struct {
	h       *History
	records []consent.Record
	version Version
	tl      timeline
	effects map[string]*effect
}

// fullURL returns the urn:uuid that names a resource inside the bundle: a
// name-based UUID (RFC 9562 version 5) of the log origin, type and record
// id, so it is stable across exports.
func (x *exporter) fullURL(resourceType, recordID string) string {
	sum := sha1.Sum([]byte(x.h.Origin + "/" + resourceType + "/" + recordID))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// status returns the Consent status of a record: entered-in-error when an
// authority voided it, not-done (R4: rejected) when it never took effect,
// inactive when later withdrawals cover all of it, else active.
func (x *exporter) status(r consent.Record) string {
	if r.Action != consent.ActionGrant {
		return "active"
	}
	if _, voided := invalidatedBy(x.records, r); voided {
		return "entered-in-error"
	}
	if x.effects[r.ID].scope.empty() {
		if x.version == R4 {
			return "rejected"
		}
		return "not-done"
	}
	if withdrawnEverywhere(x.records, r) {
		return "inactive"
	}
	return "active"
}

// rule is a provision in release-neutral form.
type rule struct {
	decision   Decision
	period     Interval
	purposes   []string
	modalities []string
	exceptions []rule
}

// rules returns the top-level provisions of a record's Consent. A Consent
// that is enforced describes the record's effect; one that is not (voided,
// or never in effect) states the record's own terms as signed.
func (x *exporter) rules(r consent.Record, status string) []rule {
	decision := Decision(r.Decision)
	if r.Action == consent.ActionWithdraw {
		decision = Deny
	}
	if !applies(status) {
		var out []rule
		for _, t := range r.Tiers {
			out = append(out, rule{decision: decision, period: recordPeriod(r), purposes: purposesOfTier(t), modalities: r.Modalities})
		}
		return out
	}

	e := x.effects[r.ID]
	var out []rule
	for _, b := range e.scope.boxes(nil) {
		top := rule{decision: decision, period: x.tl.interval(b.first, b.last), purposes: b.purposes, modalities: b.modalities}
		for _, ex := range e.exceptions.boxes(&b) {
			top.exceptions = append(top.exceptions, rule{
				decision: decision.negate(), period: x.tl.interval(ex.first, ex.last),
				purposes: ex.purposes, modalities: ex.modalities,
			})
		}
		out = append(out, top)
	}
	return out
}

// recordPeriod returns the period a record states: from its start, until
// its end for a grant, open-ended for a withdrawal.
func recordPeriod(r consent.Record) Interval {
	iv := Interval{Start: r.From}
	if r.Until != nil {
		iv.End = *r.Until
	}
	return iv
}

func (x *exporter) subject() *reference {
	return &reference{Type: "Patient", Identifier: &identifier{System: IdentifierPseudonym, Value: x.h.Participant}}
}

// grantor returns the Consent's grantor and, for a guardian, the contained
// RelatedPerson it points to.
func (x *exporter) grantor(r consent.Record) ([]reference, []relatedPerson) {
	if r.Grantor != consent.GrantorGuardian {
		return []reference{*x.subject()}, nil
	}
	guardian := relatedPerson{
		ResourceType: "RelatedPerson", ID: "guardian", Patient: *x.subject(),
		Relationship: []codeableConcept{{Coding: []coding{{System: systemRoleCode, Code: "GUARD", Display: "guardian"}}}},
	}
	return []reference{{Reference: "#guardian", Type: "RelatedPerson"}}, []relatedPerson{guardian}
}

func (x *exporter) extensions(r consent.Record) []extension {
	var out []extension
	if r.Grantor == consent.GrantorGuardian {
		out = append(out,
			extension{URL: ExtensionAssent, ValueCode: r.Assent},
			extension{URL: ExtensionMajority, ValueDate: r.MajorityMonth})
	}
	if r.Method != "" {
		out = append(out, extension{URL: ExtensionMethod, ValueString: r.Method})
	}
	return out
}

func (x *exporter) category(r consent.Record) []codeableConcept {
	action := recordGrant
	if r.Action == consent.ActionWithdraw {
		action = recordWithdraw
	}
	return []codeableConcept{
		{Coding: []coding{{System: systemLOINC, Code: "59284-0", Display: "Patient Consent"}}},
		{Coding: []coding{{System: SystemRecordAction, Code: action}}},
	}
}

// sourceAttachment describes the signed form: its JSON encoding, which the
// logged digest covers, with that SHA-256 digest in HL7's alternate-hash
// extension and the SHA-1 that Attachment.hash is defined as.
func (x *exporter) sourceAttachment(r consent.Record) *attachment {
	if r.Action != consent.ActionGrant {
		return nil
	}
	d := x.h.Documents[r.Document]
	raw, _ := json.Marshal(d)
	sum256 := sha256.Sum256(raw)
	sum1 := sha1.Sum(raw)
	return &attachment{
		Extension: []extension{{URL: extensionAlternateHash, Extension: []extension{
			{URL: "algorithm", ValueCoding: &coding{System: systemHashAlgorithm, Code: "sha-256", Display: "SHA-256"}},
			{URL: "hash", ValueString: hex.EncodeToString(sum256[:])},
		}}},
		ContentType: "application/json",
		Hash:        base64.StdEncoding.EncodeToString(sum1[:]),
		Title:       fmt.Sprintf("%s, version %s", d.Title, d.Version),
	}
}

func (x *exporter) documentReference(r consent.Record) *reference {
	d := x.h.Documents[r.Document]
	return &reference{Identifier: &identifier{System: IdentifierDocument, Value: d.Version}, Display: fmt.Sprintf("%s, version %s", d.Title, d.Version)}
}

// consent returns a record's Consent resource in the exporter's version.
func (x *exporter) consent(r consent.Record) any {
	status := x.status(r)
	rules := x.rules(r, status)
	grantor, contained := x.grantor(r)
	if x.version == R4 {
		return x.consentR4(r, status, rules, grantor, contained)
	}

	c := consentR5{
		ResourceType: "Consent", ID: r.ID, Contained: contained, Extension: x.extensions(r),
		Identifier: []identifier{{System: IdentifierRecord, Value: r.ID}},
		Status:     status, Category: x.category(r), Subject: x.subject(),
		Date: r.SignedAt.UTC().Format(time.DateOnly), Period: toPeriod(recordPeriod(r)),
		Grantor: grantor, Decision: string(rules[0].decision),
	}
	if a := x.sourceAttachment(r); a != nil {
		c.SourceAttachment = []attachment{*a}
		c.PolicyBasis = &policyBasis{Reference: x.documentReference(r)}
	}
	for _, ru := range rules {
		c.Provision = append(c.Provision, ru.r5())
	}
	return c
}

func (ru rule) r5() provisionR5 {
	p := provisionR5{Period: toPeriod(ru.period), Purpose: purposeCodings(ru.purposes), DocumentType: modalityCodings(ru.modalities)}
	for _, ex := range ru.exceptions {
		p.Provision = append(p.Provision, ex.r5())
	}
	return p
}

// consentR4 returns the R4 form: no Consent.period or decision, so a root
// provision without a type carries the record's period and the typed rules
// nest inside it, as R4 defines provision.type: "Not permitted in root
// rule, required in all nested rules."
func (x *exporter) consentR4(r consent.Record, status string, rules []rule, grantor []reference, contained []relatedPerson) consentR4 {
	c := consentR4{
		ResourceType: "Consent", ID: r.ID, Contained: contained, Extension: x.extensions(r),
		Identifier: []identifier{{System: IdentifierRecord, Value: r.ID}},
		Status:     status,
		Scope:      &codeableConcept{Coding: []coding{{System: systemConsentScope, Code: "research", Display: "Research"}}},
		Category:   x.category(r), Patient: x.subject(), DateTime: formatInstant(r.SignedAt), Performer: grantor,
		SourceAttachment: x.sourceAttachment(r),
		Provision:        &provisionR4{Period: toPeriod(recordPeriod(r))},
	}
	if r.Action == consent.ActionGrant {
		c.Policy = []policyR4{{URI: DocumentURI(r.Document)}}
	}
	for _, ru := range rules {
		c.Provision.Provision = append(c.Provision.Provision, ru.r4())
	}
	return c
}

func (ru rule) r4() provisionR4 {
	p := provisionR4{Type: string(ru.decision), Period: toPeriod(ru.period), Purpose: purposeCodings(ru.purposes), Class: modalityCodings(ru.modalities)}
	for _, ex := range ru.exceptions {
		p.Provision = append(p.Provision, ex.r4())
	}
	return p
}

// purposeCodings lists the Steward purpose codes, then the DUO terms that
// describe them, each once.
func purposeCodings(purposes []string) []coding {
	var out []coding
	var duo []string
	for _, code := range purposes {
		p, err := consent.LookupPurpose(code)
		if err != nil {
			continue
		}
		out = append(out, coding{System: SystemPurpose, Code: p.Code, Display: p.Label})
		duo = append(duo, p.DUO...)
	}
	slices.Sort(duo)
	for _, id := range slices.Compact(duo) {
		t, err := consent.LookupDUO(id)
		if err != nil {
			continue
		}
		out = append(out, coding{System: SystemDUO, Code: t.ID, Display: t.Label})
	}
	return out
}

func modalityCodings(modalities []string) []coding {
	var out []coding
	for _, m := range modalities {
		out = append(out, coding{System: SystemModality, Code: m})
	}
	return out
}

// provenance returns a record's Provenance: which log entry recorded the
// change, when, by which registry, and the witness when there is one. An
// invalidation nullifies the Consent of the grant it voids.
func (x *exporter) provenance(r consent.Record) provenance {
	ev := x.h.Events[r.Seq]
	p := provenance{
		ResourceType: "Provenance", ID: "prov-" + r.ID,
		Target:           []reference{{Reference: x.fullURL("Consent", r.ID)}},
		OccurredDateTime: formatInstant(r.SignedAt),
		Recorded:         formatInstant(ev.Time),
		Activity:         &codeableConcept{Coding: []coding{{System: systemDataOperation, Code: "CREATE", Display: "create"}}},
		Agent: []provenanceAgent{{
			Type: &codeableConcept{Coding: []coding{{System: systemParticipantType, Code: "custodian", Display: "Custodian"}}},
			Who:  reference{Type: "Device", Identifier: &identifier{System: IdentifierLog, Value: x.h.Origin}, Display: "Steward registry " + x.h.Origin},
		}},
		Entity: []provenanceEntity{{Role: "source", What: reference{
			Identifier: &identifier{System: IdentifierLogEntry(x.h.Origin), Value: strconv.FormatUint(r.Seq, 10)},
			Display:    fmt.Sprintf("entry %d (%s) of log %s", r.Seq, ev.Type, x.h.Origin),
		}}},
	}
	if x.version == R5 {
		p.Patient = x.subject()
	}
	if r.Witness != "" {
		p.Agent = append(p.Agent, provenanceAgent{
			Type: &codeableConcept{Coding: []coding{{System: systemParticipation, Code: "WIT", Display: "witness"}}},
			Who:  reference{Type: "Practitioner", Identifier: &identifier{System: IdentifierStaff, Value: r.Witness}},
		})
	}
	if r.Action == consent.ActionInvalidate {
		p.Target = []reference{{Reference: x.fullURL("Consent", r.Voids)}}
		p.Activity = &codeableConcept{Coding: []coding{{System: systemDataOperation, Code: "NULLIFY", Display: "nullify"}}}
		p.Agent = append(p.Agent, provenanceAgent{
			Type: &codeableConcept{Coding: []coding{{System: systemParticipantType, Code: "author", Display: "Author"}}},
			Who:  reference{Type: "Organization", Display: r.Authority},
		})
		if r.Reason != "" {
			if x.version == R4 {
				p.Reason = []codeableConcept{{Text: r.Reason}}
			} else {
				p.Activity.Text = "invalidated: " + r.Reason
			}
		}
	}
	return p
}
