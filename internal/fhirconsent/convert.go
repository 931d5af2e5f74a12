package fhirconsent

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// ConvertOptions is the registry state that Convert reads.
type ConvertOptions struct {
	// Library holds the terms of every registered document.
	Library consent.Library
	// Documents lists the registered versions, oldest first.
	Documents []string
	// Fallback is the document version for Consents that name none, such
	// as one given with --document; empty means none.
	Fallback string
	// Now is the current time: no Consent may be signed after it.
	Now time.Time
}

// maxContradictions caps how many contradictions one error lists.
const maxContradictions = 10

// Convert turns Consents into consent records, without ids or participant,
// that consent.Decide evaluates exactly as the Consents decide, now and
// after any record added later. It returns the withdrawal records first,
// then the grant records, and the registry logs them in that order.
//
// It evaluates every Consent for every purpose and modality on every
// interval between the instants where some period, signing date or
// majority month begins or ends. A Consent that permits where another
// denies is an error naming both: the specification leaves combining
// several Consents to policy, and nesting inside one Consent is how FHIR
// states an exception. The combined decision of the grant Consents is then
// written per tier and modality: a deny record where nothing is permitted
// and something denied, and a permit record under each document needed
// where purposes are permitted. Purposes that are neither stay without
// record, which consent.Decide denies.
//
// A Consent that a Steward export marks as a withdrawal becomes a
// withdrawal record again (see withdrawalRecords), never a deny grant. A
// deny grant is never outvoted, while a withdrawal ends only the records
// signed before it, so a grant recorded after the import applies again,
// as it does in the history the file came from.
func Convert(consents []*Consent, opts ConvertOptions) ([]consent.Record, error) {
	var live, withdrawn []*Consent
	var times []time.Time
	for _, c := range consents {
		if !applies(c.Status) {
			continue
		}
		if c.Signed.After(opts.Now) {
			return nil, &InputError{Resource: c.ID, Path: dateElement(c), Value: formatStart(c.Signed),
				Message: "signed in the future: a consent can only be imported after it was given"}
		}
		if terms, ok := opts.Library[c.Document]; ok && c.FormDigest != "" && c.FormDigest != terms.Digest {
			return nil, &InputError{Resource: c.ID, Path: "Consent.sourceAttachment", Value: c.FormDigest,
				Message: fmt.Sprintf("the signed form differs from consent document %s registered here (%s): register the form that was signed under a version of its own and name that version", c.Document, terms.Digest)}
		}
		live = append(live, c)
		if c.Action == recordWithdraw {
			withdrawn = append(withdrawn, c)
		}
		times = append(times, consentTimes(c)...)
	}
	tl := newTimeline(times)
	n := len(tl.points)
	withdrawals, err := withdrawalRecords(withdrawn)
	if err != nil {
		return nil, err
	}

	// Combined decisions, with the Consents behind each.
	type cell struct {
		decision Decision
		by       []*Consent
	}
	grid := map[[2]string][]cell{}
	var contradictions []error
	for _, p := range purposeCodes() {
		for _, m := range Modalities {
			row := make([]cell, n)
			for k, t := range tl.points {
				// A withdrawal's deny takes part in the check for
				// contradictions only: its nested permits describe grants
				// signed after it, which are Consents of their own.
				var permit, deny, withdrawing []*Consent
				for _, c := range live {
					switch d := Evaluate(c, p, m, t); {
					case c.Action == recordWithdraw && d == Deny:
						withdrawing = append(withdrawing, c)
					case c.Action == recordWithdraw:
					case d == Permit:
						permit = append(permit, c)
					case d == Deny:
						deny = append(deny, c)
					}
				}
				switch {
				case len(permit) > 0 && len(deny)+len(withdrawing) > 0:
					if len(contradictions) < maxContradictions {
						contradictions = append(contradictions, contradiction(permit[0], append(deny, withdrawing...)[0], p, m, tl.interval(k, k)))
					}
				case len(permit) > 0:
					row[k] = cell{Permit, permit}
				case len(deny) > 0:
					row[k] = cell{Deny, deny}
				}
			}
			grid[[2]string{p, m}] = row
		}
	}
	if len(contradictions) > 0 {
		return nil, errors.Join(contradictions...)
	}

	// Per tier, modality and interval: which records state the decisions.
	var pieces []piece
	for _, tier := range consent.Tiers {
		purposes := purposesOfTier(tier)
		for _, m := range Modalities {
			for k := range n {
				floor := signingFloor(withdrawals, tier, m, tl.points[k])
				var permitted []string
				var permitBy, denyBy []*Consent
				for _, p := range purposes {
					switch c := grid[[2]string{p, m}][k]; c.decision {
					case Permit:
						permitted = append(permitted, p)
						permitBy = append(permitBy, c.by...)
					case Deny:
						denyBy = append(denyBy, c.by...)
					}
				}
				switch {
				case len(permitted) > 0:
					docs, err := documentsFor(tier, m, permitted, permitBy, opts, tl.interval(k, k))
					if err != nil {
						return nil, err
					}
					for _, d := range docs {
						pieces = append(pieces, newPiece(consent.Permit, d, tier, m, k, consentsUnder(permitBy, d, opts.Fallback), floor))
					}
				case len(denyBy) > 0:
					d := denyDocument(tier, m, denyBy, opts)
					if d == "" {
						return nil, &InputError{Resource: denyBy[0].ID, Path: "Consent", Message: fmt.Sprintf(
							"no registered consent document offers the %s tier and %s recordings, which Steward needs to record this deny: register one with steward consent document add", tier, m)}
					}
					pieces = append(pieces, newPiece(consent.Deny, d, tier, m, k, denyBy, floor))
				}
			}
		}
	}
	return append(withdrawals, assemble(pieces, tl)...), nil
}

func dateElement(c *Consent) string {
	if c.Version == R4 {
		return "Consent.dateTime"
	}
	return "Consent.date"
}

// consentTimes returns the instants where a Consent's decisions can change.
func consentTimes(c *Consent) []time.Time {
	times := []time.Time{c.Signed, c.Period.Start, c.Period.End}
	if c.Guardian {
		if m, err := time.Parse("2006-01", c.MajorityMonth); err == nil {
			times = append(times, m)
		}
	}
	var walk func(p *Provision)
	walk = func(p *Provision) {
		times = append(times, p.Period.Start, p.Period.End)
		for i := range p.Exceptions {
			walk(&p.Exceptions[i])
		}
	}
	if c.scope != nil {
		walk(c.scope)
	}
	for i := range c.Provisions {
		walk(&c.Provisions[i])
	}
	return times
}

func contradiction(permit, deny *Consent, purpose, modality string, iv Interval) error {
	when := "from " + formatStart(iv.Start)
	if !iv.End.IsZero() {
		when += " until " + formatStart(iv.End)
	}
	return &InputError{Resource: permit.ID + " and " + deny.ID, Path: "Consent.provision", Value: purpose + "/" + modality,
		Message: fmt.Sprintf("contradictory consents: %s permits and %s denies purpose %s for %s recordings %s, and neither nests the other's rule as an exception; merge them into one Consent with the deny nested inside the permit, or end one before the other starts",
			permit.ID, deny.ID, purpose, modality, when)}
}

// coverage returns the purposes of tier that a permit signed under version
// covers, asking consent.Decide so that document revisions count exactly
// as they do for decisions.
func coverage(lib consent.Library, version, tier, modality string) []string {
	at := time.Unix(0, 0).UTC()
	probe := []consent.Record{{ID: "probe", Action: consent.ActionGrant, Decision: consent.Permit, Document: version,
		Tiers: []string{tier}, Modalities: []string{modality}, From: at, SignedAt: at}}
	var out []string
	for _, p := range purposesOfTier(tier) {
		if consent.Decide(probe, lib, p, modality, at).Permitted() {
			out = append(out, p)
		}
	}
	return out
}

// offers reports whether a registered document offers the tier and
// modality, as the registry requires of every grant.
func offers(lib consent.Library, version, tier, modality string) bool {
	t, ok := lib[version]
	return ok && slices.Contains(t.Tiers, tier) && slices.Contains(t.Modalities, modality)
}

// documentsFor returns the documents whose permit records, together,
// cover exactly the permitted purposes of a tier. Candidates are the
// documents of the permitting Consents, then the fallback.
func documentsFor(tier, modality string, permitted []string, by []*Consent, opts ConvertOptions, iv Interval) ([]string, error) {
	var candidates []string
	for _, c := range by {
		if c.Document != "" && !slices.Contains(candidates, c.Document) {
			candidates = append(candidates, c.Document)
		}
	}
	if opts.Fallback != "" && !slices.Contains(candidates, opts.Fallback) {
		candidates = append(candidates, opts.Fallback)
	}
	sort.Strings(candidates)
	if len(candidates) == 0 {
		return nil, &InputError{Resource: by[0].ID, Path: policyElement(by[0]), Message: "missing: no Steward consent document is named for this permit; name one (identifier system " + IdentifierDocument + ") or pass --document VERSION"}
	}

	var chosen []string
	var union []string
	for _, d := range candidates {
		if _, ok := opts.Library[d]; !ok {
			return nil, &InputError{Resource: by[0].ID, Path: policyElement(by[0]), Value: d,
				Message: "unknown consent document: register it with steward consent document add, or use one listed by steward consent document list"}
		}
		if !offers(opts.Library, d, tier, modality) {
			continue
		}
		cov := coverage(opts.Library, d, tier, modality)
		if len(cov) == 0 || !subset(cov, permitted) {
			continue
		}
		chosen = append(chosen, d)
		for _, p := range cov {
			if !slices.Contains(union, p) {
				union = append(union, p)
			}
		}
	}
	if len(union) != len(permitted) {
		var uncovered []string
		for _, p := range permitted {
			if !slices.Contains(union, p) {
				uncovered = append(uncovered, p)
			}
		}
		var missing []string
		for _, p := range purposesOfTier(tier) {
			if !slices.Contains(permitted, p) {
				missing = append(missing, p)
			}
		}
		ids := make([]string, 0, len(by))
		for _, c := range by {
			if !slices.Contains(ids, c.ID) {
				ids = append(ids, c.ID)
			}
		}
		if len(missing) == 0 {
			return nil, &InputError{Resource: strings.Join(ids, ", "), Path: "Consent.provision", Value: strings.Join(permitted, ","),
				Message: fmt.Sprintf("cannot be represented: for %s recordings from %s every purpose of the %s tier is permitted, but no named document (%s) covers %s; a form without thirdPartyTransfer does not cover commercial.third-party, and a form that lists purposes covers only those; name a document that covers them, or deny them in the Consent",
					modality, formatStart(iv.Start), tier, strings.Join(candidates, ", "), strings.Join(uncovered, ", "))}
		}
		return nil, &InputError{Resource: strings.Join(ids, ", "), Path: "Consent.provision", Value: strings.Join(permitted, ","),
			Message: fmt.Sprintf("cannot be represented: for %s recordings from %s these purposes of the %s tier are permitted but %s not, and no named document (%s) covers exactly that; a Steward grant covers every purpose of its tier that its document covers, so permit the whole tier or name the document whose revision left the others out",
				modality, formatStart(iv.Start), tier, strings.Join(missing, ", "), strings.Join(candidates, ", "))}
	}
	return dropCovered(chosen, opts.Library, tier, modality), nil
}

// dropCovered removes documents whose coverage another chosen document
// already includes.
func dropCovered(docs []string, lib consent.Library, tier, modality string) []string {
	var out []string
	for i, d := range docs {
		cov := coverage(lib, d, tier, modality)
		redundant := false
		for j, other := range docs {
			if i == j {
				continue
			}
			oc := coverage(lib, other, tier, modality)
			if subset(cov, oc) && (len(cov) < len(oc) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, d)
		}
	}
	return out
}

func policyElement(c *Consent) string {
	if c.Version == R4 {
		return "Consent.policy"
	}
	return "Consent.policyBasis"
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// denyDocument returns the document a deny record names: the denying
// Consents' own when one offers the tier and modality, else the fallback,
// else the newest registered one that does. consent.Decide ignores the
// document of a deny, so this choice changes no decision.
func denyDocument(tier, modality string, by []*Consent, opts ConvertOptions) string {
	for _, c := range by {
		if offers(opts.Library, c.Document, tier, modality) {
			return c.Document
		}
	}
	if offers(opts.Library, opts.Fallback, tier, modality) {
		return opts.Fallback
	}
	for _, d := range slices.Backward(opts.Documents) {
		if offers(opts.Library, d, tier, modality) {
			return d
		}
	}
	return ""
}

// consentsUnder returns the Consents that name document d, or all of them
// when none does (their permit rests on the fallback).
func consentsUnder(by []*Consent, d, fallback string) []*Consent {
	var out []*Consent
	for _, c := range by {
		if c.Document == d || (c.Document == "" && d == fallback) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return by
	}
	return out
}

// piece is one record's worth of decision on one interval.
type piece struct {
	decision, document, tier, modality string
	k                                  int
	grantor                            grantorAttrs
	signed                             time.Time
	// floor is the latest signing time of the imported withdrawals that
	// cover the piece and took effect at or before its start. The
	// piece's record is signed no earlier, so those withdrawals, logged
	// first, do not end it.
	floor time.Time
}

// grantorAttrs are the record fields that come from who signed.
type grantorAttrs struct {
	guardian         bool
	assent, majority string
	method, witness  string
}

// newPiece takes the grantor fields the Consents behind it agree on: a
// guardian's grant only when every one is by a guardian with the same
// assent and majority month, and the method and witness only when all give
// the same.
func newPiece(decision, document, tier, modality string, k int, by []*Consent, floor time.Time) piece {
	first := by[0]
	attrs := grantorAttrs{guardian: first.Guardian, assent: first.Assent, majority: first.MajorityMonth, method: first.Method, witness: first.Witness}
	signed := first.Signed
	for _, c := range by[1:] {
		if !c.Guardian || c.Assent != attrs.assent || c.MajorityMonth != attrs.majority {
			attrs.guardian = false
		}
		if c.Method != attrs.method {
			attrs.method = ""
		}
		if c.Witness != attrs.witness {
			attrs.witness = ""
		}
		if c.Signed.Before(signed) {
			signed = c.Signed
		}
	}
	if !attrs.guardian {
		attrs.assent, attrs.majority = "", ""
	}
	if signed.Before(floor) {
		signed = floor
	}
	return piece{decision: decision, document: document, tier: tier, modality: modality, k: k, grantor: attrs, signed: signed, floor: floor}
}

// recordMethod returns the method an imported record states: the
// Consent's own, else fhir. A verbal consent needs its witness, so without
// one the record states fhir too.
func recordMethod(method, witness string) string {
	if method == "" || (method == consent.MethodVerbalWitnessed && witness == "") {
		return consent.MethodFHIR
	}
	return method
}

// withdrawalRecords turns the Consents that a Steward export marks as
// withdrawals back into withdrawal records. Each top-level provision
// withdraws the tiers of its purposes, which must be whole tiers as in a
// Steward withdrawal, for its data classes, from its period's start (or
// the signing date, if later). A withdrawal has no end. The record is
// signed on the Consent's date and takes effect from that start, so it
// ends exactly the records signed before it, as the original did. Its
// nested permits are ignored: they describe the grants signed after it,
// which the file holds as Consents of their own.
func withdrawalRecords(withdrawn []*Consent) ([]consent.Record, error) {
	var out []consent.Record
	for _, c := range withdrawn {
		type group struct {
			start      time.Time
			modalities []string
		}
		tiersOf := map[string][]string{}
		groups := map[string]group{}
		var order []string
		for _, p := range c.Provisions {
			if p.Type != Deny {
				return nil, &InputError{Resource: c.ID, Path: p.Path, Value: string(p.Type),
					Message: "a withdrawal withdraws, so its top-level provisions state deny; state a permit as a Consent of its own"}
			}
			start, end := c.Signed, c.Period.End
			bounds := []Interval{c.Period, p.Period}
			if c.scope != nil {
				bounds = append(bounds, c.scope.Period)
			}
			for _, iv := range bounds {
				if iv.Start.After(start) {
					start = iv.Start
				}
				if !iv.End.IsZero() {
					end = iv.End
				}
			}
			if !end.IsZero() {
				return nil, &InputError{Resource: c.ID, Path: p.Path + ".period.end", Value: formatEnd(end),
					Message: "a withdrawal has no end: remove the end, or state a pause in consent as a Consent that denies"}
			}
			tiers, err := wholeTiers(c, p)
			if err != nil {
				return nil, err
			}
			modalities := intersect(Modalities, p.Modalities)
			if c.scope != nil {
				modalities = intersect(modalities, c.scope.Modalities)
			}
			key := formatInstant(start) + "|" + strings.Join(modalities, ",")
			if _, seen := groups[key]; !seen {
				order = append(order, key)
				groups[key] = group{start: start, modalities: modalities}
			}
			for _, t := range tiers {
				if !slices.Contains(tiersOf[key], t) {
					tiersOf[key] = append(tiersOf[key], t)
				}
			}
		}
		for _, key := range order {
			g := groups[key]
			tiers := tiersOf[key]
			sort.Slice(tiers, func(i, j int) bool {
				return slices.Index(consent.Tiers, tiers[i]) < slices.Index(consent.Tiers, tiers[j])
			})
			out = append(out, consent.Record{
				Action: consent.ActionWithdraw, Tiers: tiers, Modalities: g.modalities, From: g.start, SignedAt: c.Signed,
				Method: recordMethod(c.Method, c.Witness), Witness: c.Witness,
			})
		}
	}
	return out, nil
}

// wholeTiers returns the tiers a withdrawal's provision covers. A Steward
// withdrawal covers every purpose of its tiers, so a provision that lists
// some purposes of a tier but not all cannot be one.
func wholeTiers(c *Consent, p Provision) ([]string, error) {
	purposes := p.Purposes
	if c.scope != nil && c.scope.Purposes != nil {
		purposes = intersect(purposeCodes(), c.scope.Purposes)
		if p.Purposes != nil {
			purposes = intersect(purposes, p.Purposes)
		}
	}
	if purposes == nil {
		return slices.Clone(consent.Tiers), nil
	}
	var tiers []string
	for _, tier := range consent.Tiers {
		all := purposesOfTier(tier)
		listed := intersect(all, purposes)
		switch {
		case len(listed) == 0:
		case len(listed) < len(all):
			return nil, &InputError{Resource: c.ID, Path: p.Path + ".purpose", Value: strings.Join(listed, ","),
				Message: fmt.Sprintf("a withdrawal covers whole tiers, but this one lists only some purposes of the %s tier (it lacks %s): list them all, or state the narrower rule as a Consent that denies",
					tier, strings.Join(missingFrom(all, listed), ", "))}
		default:
			tiers = append(tiers, tier)
		}
	}
	return tiers, nil
}

// intersect returns the values of all that are in some, in the order of
// all; a nil some keeps all.
func intersect(all, some []string) []string {
	if some == nil {
		return slices.Clone(all)
	}
	var out []string
	for _, v := range all {
		if slices.Contains(some, v) {
			out = append(out, v)
		}
	}
	return out
}

func missingFrom(all, some []string) []string {
	var out []string
	for _, v := range all {
		if !slices.Contains(some, v) {
			out = append(out, v)
		}
	}
	return out
}

// signingFloor returns the latest signing time of the withdrawals that
// cover the tier and modality and take effect at or before t, or the zero
// time when none does.
func signingFloor(withdrawals []consent.Record, tier, modality string, t time.Time) time.Time {
	var floor time.Time
	for _, w := range withdrawals {
		if w.Covers(tier, modality) && !w.From.After(t) && w.SignedAt.After(floor) {
			floor = w.SignedAt
		}
	}
	return floor
}

// assemble merges pieces on consecutive intervals into records, then
// records that differ only in modality or only in tier. Each record is
// signed at the earliest date of the Consents behind it. That date is at or
// before the record's start, so consent.Decide counts it over its whole
// period.
func assemble(pieces []piece, tl timeline) []consent.Record {
	type key struct {
		decision, document, tier, modality string
		grantor                            grantorAttrs
		floor                              time.Time
	}
	byKey := map[key][]piece{}
	var order []key
	for _, p := range pieces {
		k := key{p.decision, p.document, p.tier, p.modality, p.grantor, p.floor}
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], p)
	}

	var records []consent.Record
	for _, k := range order {
		ps := byKey[k]
		sort.Slice(ps, func(i, j int) bool { return ps[i].k < ps[j].k })
		for i := 0; i < len(ps); {
			j, signed := i, ps[i].signed
			for j+1 < len(ps) && ps[j+1].k == ps[j].k+1 {
				j++
				if ps[j].signed.Before(signed) {
					signed = ps[j].signed
				}
			}
			iv := tl.interval(ps[i].k, ps[j].k)
			r := consent.Record{
				Action: consent.ActionGrant, Decision: k.decision, Document: k.document,
				Tiers: []string{k.tier}, Modalities: []string{k.modality},
				From: iv.Start, SignedAt: signed, Method: recordMethod(k.grantor.method, k.grantor.witness), Witness: k.grantor.witness,
			}
			if !iv.End.IsZero() {
				end := iv.End
				r.Until = &end
			}
			if k.grantor.guardian {
				r.Grantor, r.Assent, r.MajorityMonth = consent.GrantorGuardian, k.grantor.assent, k.grantor.majority
			}
			records = append(records, r)
			i = j + 1
		}
	}
	records = mergeRecords(records, func(r consent.Record) []string { return r.Modalities }, func(r *consent.Record, v []string) { r.Modalities = v }, Modalities)
	records = mergeRecords(records, func(r consent.Record) []string { return r.Tiers }, func(r *consent.Record, v []string) { r.Tiers = v }, consent.Tiers)
	sort.SliceStable(records, func(i, j int) bool {
		a, b := records[i], records[j]
		if !a.From.Equal(b.From) {
			return a.From.Before(b.From)
		}
		return a.Decision < b.Decision
	})
	return records
}

// mergeRecords joins records equal in everything but one list field into
// one record whose field lists all their values in canonical order.
func mergeRecords(records []consent.Record, get func(consent.Record) []string, set func(*consent.Record, []string), canonical []string) []consent.Record {
	var out []consent.Record
	index := map[string]int{}
	for _, r := range records {
		probe := r
		set(&probe, nil)
		probe.Until = nil
		k := fmt.Sprintf("%+v|%s", probe, untilKey(r))
		if i, ok := index[k]; ok {
			merged := append(slices.Clone(get(out[i])), get(r)...)
			sort.Slice(merged, func(a, b int) bool {
				return slices.Index(canonical, merged[a]) < slices.Index(canonical, merged[b])
			})
			set(&out[i], slices.Compact(merged))
			continue
		}
		index[k] = len(out)
		out = append(out, r)
	}
	return out
}

func untilKey(r consent.Record) string {
	if r.Until == nil {
		return "open"
	}
	return r.Until.UTC().Format(time.RFC3339Nano)
}
