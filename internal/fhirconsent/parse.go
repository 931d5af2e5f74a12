package fhirconsent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/strictjson"
)

// InputError is a problem with one element of an imported resource.
type InputError struct {
	// Resource names the resource: Consent/<id>, or its Bundle entry when
	// it has no id.
	Resource string
	// Path is the element path inside the resource, such as
	// Consent.provision[0].purpose[1].code.
	Path    string
	Value   string
	Message string
}

func (e *InputError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("%s: %s %q: %s", e.Resource, e.Path, e.Value, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Resource, e.Path, e.Message)
}

// Parsed is the result of Parse.
type Parsed struct {
	Consents []*Consent
	// Skipped lists the Provenance resources of a Bundle, which import does
	// not need.
	Skipped []string
}

// Parse reads one FHIR Consent resource, or a Bundle of them, in R4 or R5.
// When version is empty, each resource's release comes from meta.profile
// or, failing that, from the elements only one release has. It returns
// every problem it finds, joined, each an *InputError.
func Parse(raw []byte, version Version) (*Parsed, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("invalid JSON at byte %d: %v", syntax.Offset, err)
		}
		return nil, fmt.Errorf("invalid FHIR JSON: expected a Consent or Bundle object: %w", err)
	}
	if path, found := strictjson.DuplicateName(raw); found {
		return nil, fmt.Errorf("invalid FHIR JSON: element %q is given twice: keep one value", path)
	}
	resourceType := stringField(top, "resourceType")
	out := &Parsed{}
	var problems []error
	switch resourceType {
	case "Consent":
		c, errs := parseConsent(top, "Consent/"+orDefault(stringField(top, "id"), "(no id)"), version)
		problems = append(problems, errs...)
		problems = append(problems, identify(c, top)...)
		out.Consents = append(out.Consents, c)
	case "Bundle":
		var b struct {
			Entry []struct {
				FullURL  string                     `json:"fullUrl"`
				Resource map[string]json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("invalid FHIR Bundle: %w", err)
		}
		byURL := map[string]*Consent{}
		byKey := map[string]*Consent{}
		var provenances []map[string]json.RawMessage
		for i, e := range b.Entry {
			where := fmt.Sprintf("Bundle.entry[%d]", i)
			rt, id := stringField(e.Resource, "resourceType"), stringField(e.Resource, "id")
			name := where
			if id != "" {
				name = rt + "/" + id
			}
			switch rt {
			case "Consent":
				c, errs := parseConsent(e.Resource, name, version)
				problems = append(problems, errs...)
				problems = append(problems, identify(c, e.Resource)...)
				if first, dup := byKey[c.Key]; dup && c.Key != "" {
					problems = append(problems, &InputError{Resource: where, Path: "resource.id", Value: id,
						Message: fmt.Sprintf("the Bundle holds %s twice: give each Consent its own id, or remove the copy", first.ID)})
				}
				byKey[c.Key] = c
				if e.FullURL != "" {
					byURL[e.FullURL] = c
				}
				out.Consents = append(out.Consents, c)
			case "Provenance":
				out.Skipped = append(out.Skipped, name)
				provenances = append(provenances, e.Resource)
			default:
				problems = append(problems, &InputError{Resource: where, Path: "resource.resourceType", Value: rt,
					Message: "not a Consent: import reads Consent resources (and skips Provenance)"})
			}
		}
		for _, p := range provenances {
			readWitness(p, byURL)
		}
	default:
		problems = append(problems, &InputError{Resource: orDefault(resourceType, "(no resourceType)"), Path: "resourceType", Value: resourceType,
			Message: "not a Consent or Bundle: import reads a Consent resource or a Bundle of them"})
	}
	if len(out.Consents) == 0 && len(problems) == 0 {
		problems = append(problems, errors.New("no Consent resource found: the Bundle has no Consent entries"))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return out, nil
}

// identify sets a Consent's Key and Digest from its resource.
func identify(c *Consent, resource map[string]json.RawMessage) []error {
	raw, err := json.Marshal(resource)
	if err == nil {
		raw, err = jcs.Transform(raw)
	}
	if err != nil {
		return []error{&InputError{Resource: c.ID, Path: "Consent", Message: fmt.Sprintf("cannot be put in canonical JSON form (RFC 8785): %v", err)}}
	}
	sum := sha256.Sum256(raw)
	c.Digest = "sha256:" + hex.EncodeToString(sum[:])
	c.Key = c.Digest
	if id := stringField(resource, "id"); id != "" {
		c.Key = "Consent/" + id
	}
	return nil
}

// readWitness sets the Witness of each Consent that a Provenance targets,
// by its Bundle fullUrl, when the Provenance names a witness, as a Steward
// export does with a WIT agent of identifier system IdentifierStaff.
func readWitness(resource map[string]json.RawMessage, byURL map[string]*Consent) {
	raw, _ := json.Marshal(resource)
	var p provenance
	if json.Unmarshal(raw, &p) != nil {
		return
	}
	witness := ""
	for _, a := range p.Agent {
		if a.Type == nil || a.Who.Identifier == nil || a.Who.Identifier.System != IdentifierStaff {
			continue
		}
		for _, cd := range a.Type.Coding {
			if cd.System == systemParticipation && cd.Code == "WIT" {
				witness = a.Who.Identifier.Value
			}
		}
	}
	if witness == "" {
		return
	}
	for _, t := range p.Target {
		if c, ok := byURL[t.Reference]; ok {
			c.Witness = witness
		}
	}
}

func stringField(m map[string]json.RawMessage, key string) string {
	var s string
	_ = json.Unmarshal(m[key], &s)
	return s
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// Elements each release defines on Consent and on a provision. Elements
// that only one release has identify the release. Elements that restrict
// what a provision covers, which Steward cannot evaluate, are rejected
// rather than ignored, because ignoring a restriction inside a permit would
// widen it.
var (
	consentCommon = []string{"resourceType", "id", "meta", "language", "text", "contained", "extension",
		"identifier", "status", "category", "sourceAttachment", "sourceReference", "verification", "provision"}
	consentOnlyR5 = []string{"subject", "date", "period", "grantor", "grantee", "manager", "controller",
		"regulatoryBasis", "policyBasis", "policyText", "decision"}
	consentOnlyR4   = []string{"scope", "patient", "dateTime", "performer", "organization", "policy", "policyRule"}
	provisionR5Keys = []string{"id", "extension", "period", "purpose", "documentType", "provision"}
	provisionR4Keys = []string{"id", "extension", "type", "period", "purpose", "class", "provision"}
	unsupportedKeys = []string{"actor", "action", "securityLabel", "resourceType", "code", "dataPeriod", "data", "expression"}
)

var profilePattern = regexp.MustCompile(`^http://hl7\.org/fhir/StructureDefinition/Consent\|(.+)$`)

// detectVersion identifies the release by meta.profile, then by the
// elements only one release has.
func detectVersion(m map[string]json.RawMessage, name string, forced Version) (Version, *InputError) {
	if forced != "" {
		return forced, nil
	}
	var meta struct {
		Profile []string `json:"profile"`
	}
	_ = json.Unmarshal(m["meta"], &meta)
	for i, p := range meta.Profile {
		sub := profilePattern.FindStringSubmatch(p)
		if sub == nil {
			continue
		}
		switch {
		case strings.HasPrefix(sub[1], "4.0"):
			return R4, nil
		case strings.HasPrefix(sub[1], "5.0"):
			return R5, nil
		}
		return "", &InputError{Resource: name, Path: fmt.Sprintf("Consent.meta.profile[%d]", i), Value: p,
			Message: "unsupported FHIR version: import reads R4 (4.0.x) and R5 (5.0.x)"}
	}

	var r4, r5 []string
	for key := range m {
		switch {
		case slices.Contains(consentOnlyR4, key):
			r4 = append(r4, key)
		case slices.Contains(consentOnlyR5, key):
			r5 = append(r5, key)
		}
	}
	if raw := bytes.TrimSpace(m["provision"]); len(raw) > 0 {
		if raw[0] == '[' {
			r5 = append(r5, "provision (a list)")
		} else {
			r4 = append(r4, "provision (a single rule)")
		}
	}
	sort.Strings(r4)
	sort.Strings(r5)
	switch {
	case len(r4) > 0 && len(r5) > 0:
		return "", &InputError{Resource: name, Path: "Consent", Message: fmt.Sprintf(
			"unknown FHIR version: mixes R4 elements (%s) and R5 elements (%s); fix the resource or pass --fhir r4 or --fhir r5",
			strings.Join(r4, ", "), strings.Join(r5, ", "))}
	case len(r4) > 0:
		return R4, nil
	case len(r5) > 0:
		return R5, nil
	}
	return "", &InputError{Resource: name, Path: "Consent", Message: "unknown FHIR version: no element tells R4 from R5; pass --fhir r4 or --fhir r5"}
}

// reader collects the problems of one resource.
type reader struct {
	name     string
	problems []error
}

func (rd *reader) fail(path, value, format string, args ...any) {
	rd.problems = append(rd.problems, &InputError{Resource: rd.name, Path: path, Value: value, Message: fmt.Sprintf(format, args...)})
}

// checkKeys reports elements that are unknown, modifiers, or unsupported.
func (rd *reader) checkKeys(m map[string]json.RawMessage, path string, allowed []string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		base := strings.TrimPrefix(k, "_")
		switch {
		case slices.Contains(allowed, base):
		case k == "modifierExtension" || k == "implicitRules":
			rd.fail(path+"."+k, "", "Steward cannot tell how this changes the meaning of the resource, so it cannot import it")
		case slices.Contains(unsupportedKeys, base):
			rd.fail(path+"."+k, "", "unsupported element: Steward decides by purpose, data class (modality) and period only; remove the element or express the rule with those")
		default:
			rd.fail(path+"."+k, "", "unknown element for this FHIR version")
		}
	}
}

func parseConsent(m map[string]json.RawMessage, name string, forced Version) (*Consent, []error) {
	rd := &reader{name: name}
	c := &Consent{ID: name}
	v, verr := detectVersion(m, name, forced)
	if verr != nil {
		return c, []error{verr}
	}
	c.Version = v
	switch v {
	case R5:
		rd.checkKeys(m, "Consent", append(slices.Clone(consentCommon), consentOnlyR5...))
		rd.readR5(m, c)
	case R4:
		rd.checkKeys(m, "Consent", append(slices.Clone(consentCommon), consentOnlyR4...))
		rd.readR4(m, c)
	}
	rd.checkCommon(c)
	return c, rd.problems
}

// decode reads raw into v, reporting a type mismatch at path.
func (rd *reader) decode(raw []byte, v any, path string) bool {
	if err := json.Unmarshal(raw, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			rd.fail(path+"."+typeErr.Field, "", "expected a JSON %s", typeErr.Type.Kind())
		} else {
			rd.fail(path, "", "invalid element: %v", err)
		}
		return false
	}
	return true
}

func (rd *reader) readR5(m map[string]json.RawMessage, c *Consent) {
	raw, _ := json.Marshal(m)
	var r consentR5
	if !rd.decode(raw, &r, "Consent") {
		return
	}
	c.Status = r.Status
	rd.readStatus(c, []string{"draft", "active", "inactive", "not-done", "entered-in-error"})
	rd.readAction(r.Category, c)
	c.Participant, c.SubjectIDs = pseudonymOf(r.Subject), subjectIDs(r.Subject)
	c.Signed = rd.readSigned(r.Date, "Consent.date")
	if iv, err := parsePeriod(r.Period); err != nil {
		rd.fail("Consent.period", "", "%v", err)
	} else {
		rd.checkPeriod(r.Period, iv, "Consent.period")
		c.Period = iv
	}
	if r.PolicyBasis != nil {
		if ref := r.PolicyBasis.Reference; ref != nil && ref.Identifier != nil && ref.Identifier.System == IdentifierDocument {
			c.Document = ref.Identifier.Value
		} else if v, ok := strings.CutPrefix(r.PolicyBasis.URL, DocumentURI("")); ok {
			c.Document = v
		}
	}
	for _, a := range r.SourceAttachment {
		if d := formDigest(a); d != "" {
			c.FormDigest = d
		}
	}
	c.Guardian = isGuardian(r.Grantor, r.Contained)
	rd.readExtensions(r.Extension, c)

	var decision Decision
	switch r.Decision {
	case "permit", "deny":
		decision = Decision(r.Decision)
	case "":
		if applies(c.Status) {
			rd.fail("Consent.decision", "", "missing: an active or inactive Consent needs a decision, permit or deny")
		}
	default:
		rd.fail("Consent.decision", r.Decision, "invalid decision: use permit or deny")
	}
	var raws []map[string]json.RawMessage
	_ = json.Unmarshal(m["provision"], &raws)
	if len(r.Provision) == 0 {
		// A Consent without provisions applies its decision to everything.
		c.Provisions = []Provision{{Path: "Consent", Type: decision}}
		return
	}
	for i := range r.Provision {
		path := fmt.Sprintf("Consent.provision[%d]", i)
		c.Provisions = append(c.Provisions, rd.readProvisionR5(r.Provision[i], raws[i], path, decision, nil))
	}
}

func (rd *reader) readProvisionR5(p provisionR5, raw map[string]json.RawMessage, path string, decision Decision, parent *Provision) Provision {
	rd.checkKeys(raw, path, provisionR5Keys)
	out := rd.readAttributes(path, decision, p.Period, p.Purpose, "purpose", p.DocumentType, "documentType", parent)
	var raws []map[string]json.RawMessage
	_ = json.Unmarshal(raw["provision"], &raws)
	for i := range p.Provision {
		child := rd.readProvisionR5(p.Provision[i], raws[i], fmt.Sprintf("%s.provision[%d]", path, i), decision.negate(), &out)
		out.Exceptions = append(out.Exceptions, child)
	}
	return out
}

func (rd *reader) readR4(m map[string]json.RawMessage, c *Consent) {
	raw, _ := json.Marshal(m)
	var r consentR4
	if !rd.decode(raw, &r, "Consent") {
		return
	}
	c.Status = r.Status
	rd.readStatus(c, []string{"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"})
	rd.readAction(r.Category, c)
	c.Participant, c.SubjectIDs = pseudonymOf(r.Patient), subjectIDs(r.Patient)
	c.Signed = rd.readSigned(r.DateTime, "Consent.dateTime")
	for _, p := range r.Policy {
		if v, ok := strings.CutPrefix(p.URI, DocumentURI("")); ok {
			c.Document = v
		}
	}
	if r.SourceAttachment != nil {
		c.FormDigest = formDigest(*r.SourceAttachment)
	}
	c.Guardian = isGuardian(r.Performer, r.Contained)
	rd.readExtensions(r.Extension, c)

	if r.Provision == nil {
		if applies(c.Status) {
			rd.fail("Consent.provision", "", "missing: Steward needs a rule (provision) that says what the Consent permits or denies")
		}
		return
	}
	var root map[string]json.RawMessage
	_ = json.Unmarshal(m["provision"], &root)
	rd.checkKeys(root, "Consent.provision", provisionR4Keys)
	var rawChildren []map[string]json.RawMessage
	_ = json.Unmarshal(root["provision"], &rawChildren)

	rootType, ok := rd.readType(r.Provision.Type, "Consent.provision.type")
	if !ok {
		return
	}
	if rootType != "" {
		// Common practice: the root states the decision, nested rules are
		// its exceptions.
		top := rd.readProvisionR4(*r.Provision, root, "Consent.provision", rootType, nil)
		c.Provisions = []Provision{top}
		return
	}
	// As R4 defines it: the root has no type and bounds the typed rules
	// nested in it.
	scope := rd.readAttributes("Consent.provision", "", r.Provision.Period, r.Provision.Purpose, "purpose", r.Provision.Class, "class", nil)
	c.scope = &scope
	if len(r.Provision.Provision) == 0 && applies(c.Status) {
		rd.fail("Consent.provision", "", "no rule: a root provision without a type needs nested provisions with a type, permit or deny")
	}
	for i, child := range r.Provision.Provision {
		path := fmt.Sprintf("Consent.provision.provision[%d]", i)
		t, ok := rd.readType(child.Type, path+".type")
		if ok && t == "" {
			rd.fail(path+".type", "", "missing: R4 requires a type, permit or deny, in every nested rule")
		}
		c.Provisions = append(c.Provisions, rd.readProvisionR4(child, rawChildren[i], path, t, &scope))
	}
}

func (rd *reader) readType(t, path string) (Decision, bool) {
	switch t {
	case "", "permit", "deny":
		return Decision(t), true
	}
	rd.fail(path, t, "invalid type: use permit or deny")
	return "", false
}

func (rd *reader) readProvisionR4(p provisionR4, raw map[string]json.RawMessage, path string, decision Decision, parent *Provision) Provision {
	if parent != nil {
		rd.checkKeys(raw, path, provisionR4Keys)
	}
	out := rd.readAttributes(path, decision, p.Period, p.Purpose, "purpose", p.Class, "class", parent)
	var raws []map[string]json.RawMessage
	_ = json.Unmarshal(raw["provision"], &raws)
	for i, child := range p.Provision {
		childPath := fmt.Sprintf("%s.provision[%d]", path, i)
		t, _ := rd.readType(child.Type, childPath+".type")
		if t != "" && t != decision.negate() {
			rd.fail(childPath+".type", string(t), "contradicts its parent: a nested rule is an exception to the %s rule around it, so it states %s", decision, decision.negate())
		}
		out.Exceptions = append(out.Exceptions, rd.readProvisionR4(child, raws[i], childPath, decision.negate(), &out))
	}
	return out
}

// readAttributes reads what one provision matches: its period, purposes
// (with their DUO terms) and data classes, and checks that it can match
// something inside its parent.
func (rd *reader) readAttributes(path string, decision Decision, per *period, purposes []coding, purposeName string, classes []coding, className string, parent *Provision) Provision {
	out := Provision{Path: path, Type: decision}
	if iv, err := parsePeriod(per); err != nil {
		rd.fail(path+".period", "", "%v", err)
	} else {
		rd.checkPeriod(per, iv, path+".period")
		out.Period = iv
	}

	for i, cd := range purposes {
		at := fmt.Sprintf("%s.%s[%d]", path, purposeName, i)
		switch cd.System {
		case SystemPurpose:
			if _, err := consent.LookupPurpose(cd.Code); err != nil {
				rd.fail(at+".code", cd.Code, "%v", err)
				continue
			}
			out.Purposes = append(out.Purposes, cd.Code)
		case SystemDUO:
			if _, err := consent.LookupDUO(cd.Code); err != nil {
				rd.fail(at+".code", cd.Code, "%v", err)
				continue
			}
			out.DUO = append(out.DUO, cd.Code)
		default:
			rd.fail(at+".system", cd.System, "unknown purpose system: use %s (steward purposes lists the codes), with %s for DUO terms", SystemPurpose, SystemDUO)
		}
	}
	if len(purposes) > 0 && out.Purposes == nil && out.DUO != nil {
		rd.fail(path+"."+purposeName, "", "only DUO terms: a DUO term fits several Steward purposes, so list the Steward purpose codes (%s) too", SystemPurpose)
	}
	rd.checkDUO(path+"."+purposeName, out.Purposes, out.DUO)

	for i, cd := range classes {
		at := fmt.Sprintf("%s.%s[%d]", path, className, i)
		switch {
		case cd.System != SystemModality:
			rd.fail(at+".system", cd.System, "unknown data class system: use %s with a modality: %s", SystemModality, strings.Join(Modalities, ", "))
		case !slices.Contains(Modalities, cd.Code):
			rd.fail(at+".code", cd.Code, "unknown modality: use %s", strings.Join(Modalities, ", "))
		default:
			out.Modalities = append(out.Modalities, cd.Code)
		}
	}

	if parent != nil {
		rd.checkInside(out, *parent, purposeName, className)
	}
	return out
}

// checkDUO reports DUO terms that contradict the provision's purposes: a
// non-commercial modifier beside a commercial purpose, or a term that none
// of the purposes carries.
func (rd *reader) checkDUO(path string, purposes, duo []string) {
	if purposes == nil {
		return
	}
	carried := map[string]bool{}
	commercial := ""
	for _, code := range purposes {
		p, _ := consent.LookupPurpose(code)
		for _, d := range p.DUO {
			carried[d] = true
		}
		if p.Tier == "commercial" && commercial == "" {
			commercial = code
		}
	}
	for _, d := range duo {
		term, _ := consent.LookupDUO(d)
		switch {
		case commercial != "" && (d == consent.DUONonCommercial || d == "DUO:0000018"):
			rd.fail(path, d, "contradictory attributes: %s (%s) restricts use to non-commercial, but the provision lists the commercial purpose %s", d, term.Shorthand, commercial)
		case !carried[d]:
			rd.fail(path, d, "DUO term %s (%s) describes none of the purposes listed (%s): Steward cannot represent it; remove it or list the purpose it describes", d, term.Shorthand, strings.Join(purposes, ", "))
		}
	}
}

// checkInside reports a nested provision that can never apply because an
// attribute shares no value with its parent's.
func (rd *reader) checkInside(p, parent Provision, purposeName, className string) {
	if p.Purposes != nil && parent.Purposes != nil && !intersects(p.Purposes, parent.Purposes) {
		rd.fail(p.Path+"."+purposeName, strings.Join(p.Purposes, ","), "contradicts its parent: none of these purposes is among the parent's (%s), so the provision never applies", strings.Join(parent.Purposes, ", "))
	}
	if p.Modalities != nil && parent.Modalities != nil && !intersects(p.Modalities, parent.Modalities) {
		rd.fail(p.Path+"."+className, strings.Join(p.Modalities, ","), "contradicts its parent: none of these modalities is among the parent's (%s), so the provision never applies", strings.Join(parent.Modalities, ", "))
	}
	if !p.Period.overlaps(parent.Period) {
		rd.fail(p.Path+".period", "", "contradicts its parent: the period lies outside the parent's period, so the provision never applies")
	}
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func (rd *reader) checkPeriod(p *period, iv Interval, path string) {
	if !iv.Start.IsZero() && !iv.End.IsZero() && !iv.Start.Before(iv.End) {
		rd.fail(path, p.Start+" to "+p.End, "period ends before it starts: the end must be at or after the start")
	}
}

func (rd *reader) readStatus(c *Consent, valid []string) {
	switch {
	case c.Status == "":
		rd.fail("Consent.status", "", "missing status")
	case c.Status == "unknown":
		rd.fail("Consent.status", c.Status, "Steward cannot tell whether this Consent is in force: set active, inactive or entered-in-error")
	case !slices.Contains(valid, c.Status):
		rd.fail("Consent.status", c.Status, "invalid status for %s: use %s", strings.ToUpper(string(c.Version)), strings.Join(valid, ", "))
	}
}

func (rd *reader) readSigned(value, path string) time.Time {
	if value == "" {
		rd.fail(path, "", "missing: Steward needs the date the Consent was signed, since a consent applies only after it was given")
		return time.Time{}
	}
	start, _, err := parseDateTime(value)
	if err != nil {
		rd.fail(path, value, "%v", err)
	}
	return start
}

// formDigest returns the SHA-256 that an attachment states in HL7's
// alternate-hash extension, as "sha256:<hex>", or "".
func formDigest(a attachment) string {
	for _, e := range a.Extension {
		if e.URL != extensionAlternateHash {
			continue
		}
		var algorithm, hash string
		for _, sub := range e.Extension {
			switch {
			case sub.URL == "algorithm" && sub.ValueCoding != nil:
				algorithm = sub.ValueCoding.Code
			case sub.URL == "hash":
				hash = sub.ValueString
			}
		}
		if algorithm == "sha-256" && hash != "" {
			return "sha256:" + strings.ToLower(hash)
		}
	}
	return ""
}

func (rd *reader) readExtensions(exts []extension, c *Consent) {
	for i, e := range exts {
		path := fmt.Sprintf("Consent.extension[%d]", i)
		switch e.URL {
		case ExtensionAssent:
			c.Assent = e.ValueCode
			switch e.ValueCode {
			case consent.AssentGiven, consent.AssentRefused, consent.AssentNotApplicable:
			default:
				rd.fail(path+".valueCode", e.ValueCode, "invalid assent: use %s, %s or %s", consent.AssentGiven, consent.AssentRefused, consent.AssentNotApplicable)
			}
		case ExtensionMajority:
			c.MajorityMonth = e.ValueDate
			if _, err := time.Parse("2006-01", e.ValueDate); err != nil {
				rd.fail(path+".valueDate", e.ValueDate, "invalid majority month: give the month the participant comes of age, such as 2031-04")
			}
		case ExtensionMethod:
			c.Method = e.ValueString
		}
	}
}

// checkCommon checks what both releases share once read.
func (rd *reader) checkCommon(c *Consent) {
	if c.Guardian && (c.Assent == "" || c.MajorityMonth == "") {
		rd.fail("Consent.extension", "", "a guardian grants this Consent (the grantor is a RelatedPerson), so Steward needs the %s and %s extensions: when the minor comes of age and whether they assented", ExtensionMajority, ExtensionAssent)
	}
	if !c.Guardian && (c.Assent != "" || c.MajorityMonth != "") {
		rd.fail("Consent.extension", "", "assent and majority month apply to a guardian's grant only, but no RelatedPerson grants this Consent")
	}
	if c.Status != "inactive" {
		return
	}
	// An inactive Consent ended at some time, so its periods must contain
	// the end.
	end := !c.Period.End.IsZero() || (c.scope != nil && !c.scope.Period.End.IsZero())
	for _, p := range c.Provisions {
		if !end && p.Period.End.IsZero() {
			rd.fail(p.Path+".period.end", "", "missing: the Consent is inactive, so Steward needs the time it ended; set the period end to when it was withdrawn")
		}
	}
}

// readAction reads the record action of a Steward export from
// Consent.category.
func (rd *reader) readAction(categories []codeableConcept, c *Consent) {
	for i, cc := range categories {
		for j, cd := range cc.Coding {
			if cd.System != SystemRecordAction {
				continue
			}
			switch cd.Code {
			case recordGrant, recordWithdraw:
				c.Action = cd.Code
			default:
				rd.fail(fmt.Sprintf("Consent.category[%d].coding[%d].code", i, j), cd.Code, "unknown record action: use %s or %s", recordGrant, recordWithdraw)
			}
		}
	}
}

// subjectIDs returns the identifiers of a subject other than its Steward
// pseudonym: an identifier's value, and the id of a Patient/<id> reference.
func subjectIDs(r *reference) []string {
	if r == nil {
		return nil
	}
	var out []string
	if r.Identifier != nil && r.Identifier.System != IdentifierPseudonym && r.Identifier.Value != "" {
		out = append(out, r.Identifier.Value)
	}
	if id, ok := strings.CutPrefix(r.Reference, "Patient/"); ok && id != "" && !slices.Contains(out, id) {
		out = append(out, id)
	}
	return out
}

func pseudonymOf(r *reference) string {
	if r != nil && r.Identifier != nil && r.Identifier.System == IdentifierPseudonym {
		return r.Identifier.Value
	}
	return ""
}

// isGuardian reports whether a grantor is a RelatedPerson: a reference of
// that type, or one to a contained RelatedPerson.
func isGuardian(grantors []reference, contained []relatedPerson) bool {
	for _, g := range grantors {
		if g.Type == "RelatedPerson" || strings.HasPrefix(g.Reference, "RelatedPerson/") {
			return true
		}
		if id, ok := strings.CutPrefix(g.Reference, "#"); ok {
			for _, r := range contained {
				if r.ID == id && r.ResourceType == "RelatedPerson" {
					return true
				}
			}
		}
	}
	return false
}
