package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gowebpki/jcs"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/strictjson"
	"github.com/steward-rehab/steward/schemas"
)

// Triggers of each kind of payment, as a policy states them.
const (
	TriggerPassedAndConsented = "passed-checks-and-consented"
	TriggerLicensedRelease    = "licensed-release"
	TriggerRevenueRecorded    = "revenue-recorded"
)

// Policy is a version of a compensation policy, as
// schemas/compensation-policy.schema.json defines it. Its JSON form is
// what the log records.
type Policy struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Description string `json:"description,omitempty"`
	Currency    string `json:"currency"`
	// Payer names the clinic account that funds per-sample payments.
	Payer string `json:"payer,omitempty"`
	// PerSample, PerTask and PerUse are in minor units of Currency.
	PerSample map[string]int64            `json:"perSample"`
	PerTask   map[string]map[string]int64 `json:"perTask,omitempty"`
	PerUse    map[string]int64            `json:"perUse"`
	// RoyaltyShare is the fraction of licence revenue paid to contributors.
	RoyaltyShare float64  `json:"royaltyShare"`
	Bonuses      []Bonus  `json:"bonuses,omitempty"`
	Benefits     []string `json:"benefits,omitempty"`
	Triggers     Triggers `json:"triggers"`
}

// Bonus is an amount added per sample of a participant in a subgroup.
// Every criterion that is set must match.
type Bonus struct {
	Name      string `json:"name"`
	Amount    int64  `json:"amount"`
	Condition string `json:"condition,omitempty"`
	Sex       string `json:"sex,omitempty"`
	AgeBand   string `json:"ageBand,omitempty"`
	Modality  string `json:"modality,omitempty"`
	Task      string `json:"task,omitempty"`
}

// Triggers states when each kind of payment is made.
type Triggers struct {
	PerSample string `json:"perSample"`
	PerUse    string `json:"perUse"`
	Royalty   string `json:"royalty"`
}

// Ref returns the policy's reference, id@version.
func (p Policy) Ref() string { return p.ID + "@" + strconv.Itoa(p.Version) }

// Funder returns the account that funds per-sample payments.
func (p Policy) Funder() string {
	if p.Payer == "" {
		return Clinic
	}
	return Clinic + ":" + p.Payer
}

// ppm is one million: royalty shares are kept in parts per million.
const ppm = 1_000_000

// RoyaltyPPM returns the royalty share in parts per million.
func (p Policy) RoyaltyPPM() int64 { return int64(math.Round(p.RoyaltyShare * ppm)) }

// RoyaltyPercent returns the royalty share as a percentage, such as 12.5 %.
func (p Policy) RoyaltyPercent() string {
	ppm := p.RoyaltyPPM()
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%d.%04d", ppm/10000, ppm%10000), "0"), ".")
	return s + " %"
}

// RoyaltyPool returns the part of revenue paid to contributors: revenue ×
// share, rounded down to the minor unit. The rest goes to the platform.
func (p Policy) RoyaltyPool(revenue int64) int64 {
	hi, lo := bits.Mul64(uint64(revenue), uint64(p.RoyaltyPPM()))
	q, _ := bits.Div64(hi, lo, ppm)
	return int64(q)
}

// UseAmount returns the per-use amount for a release of the given tier.
func (p Policy) UseAmount(tier string) int64 { return p.PerUse[tier] }

// SampleAmount returns the per-sample amount for a sample of the given
// modality and task (protocol) by a participant with the given attributes,
// with its parts: the rate, then each bonus that applies.
func (p Policy) SampleAmount(modality, task string, attrs participant.Attributes) (int64, []Component) {
	rate, name := p.PerSample[modality], "perSample."+modality
	if byTask, ok := p.PerTask[task]; ok {
		if r, ok := byTask[modality]; ok {
			rate, name = r, "perTask."+task+"."+modality
		}
	}
	total := rate
	detail := []Component{{Name: name, Amount: rate}}
	for _, b := range p.Bonuses {
		if b.applies(modality, task, attrs) {
			total += b.Amount
			detail = append(detail, Component{Name: "bonus." + b.Name, Amount: b.Amount})
		}
	}
	return total, detail
}

func (b Bonus) applies(modality, task string, attrs participant.Attributes) bool {
	return (b.Condition == "" || strings.EqualFold(b.Condition, attrs.Condition)) &&
		(b.Sex == "" || b.Sex == attrs.Sex) &&
		(b.AgeBand == "" || b.AgeBand == attrs.AgeBand()) &&
		(b.Modality == "" || b.Modality == modality) &&
		(b.Task == "" || b.Task == task)
}

// Digest returns the sha256 digest of the policy's RFC 8785 form, which the
// log and release documents use to name exactly this version.
func (p Policy) Digest() (string, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	canonical, err := jcs.Transform(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// ParseRef splits a policy reference id@version.
func ParseRef(ref string) (id string, version int, err error) {
	id, v, ok := strings.Cut(ref, "@")
	if ok {
		version, err = strconv.Atoi(v)
	}
	if !ok || err != nil || version < 1 || id == "" {
		return "", 0, fmt.Errorf("invalid policy reference %q: write id@version, such as rehab-2026@1", ref)
	}
	return id, version, nil
}

// PolicyError lists every problem of a policy file, each naming its field.
type PolicyError struct {
	Problems []string
}

func (e *PolicyError) Error() string {
	return "invalid compensation policy:\n  " + strings.Join(e.Problems, "\n  ")
}

// ParsePolicy reads a policy in JSON or YAML (name's extension .json
// selects JSON), checks it against the JSON Schema and the currency list,
// and returns it with defaults filled in. A version of 0 means the file
// gave none. The error is a *PolicyError naming each bad field.
func ParsePolicy(name string, raw []byte) (Policy, error) {
	var doc any
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			return Policy{}, &PolicyError{Problems: []string{"invalid JSON: " + err.Error()}}
		}
		if path, found := strictjson.DuplicateName(raw); found {
			return Policy{}, &PolicyError{Problems: []string{fmt.Sprintf("%s: is given twice: keep one value", path)}}
		}
	} else if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Policy{}, &PolicyError{Problems: []string{"invalid YAML: " + err.Error()}}
	}
	canonical, err := json.Marshal(doc)
	if err != nil {
		return Policy{}, &PolicyError{Problems: []string{"the policy is not a JSON object: " + err.Error()}}
	}
	if problems, err := validatePolicyJSON(canonical); err != nil {
		return Policy{}, err
	} else if len(problems) > 0 {
		return Policy{}, &PolicyError{Problems: problems}
	}

	var p Policy
	dec := json.NewDecoder(bytes.NewReader(canonical))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, &PolicyError{Problems: []string{err.Error()}}
	}
	if problems := p.check(); len(problems) > 0 {
		return Policy{}, &PolicyError{Problems: problems}
	}
	p.fillDefaults()
	return p, nil
}

// check makes the checks a JSON Schema cannot.
func (p Policy) check() []string {
	var problems []string
	if _, err := LookupCurrency(p.Currency); err != nil {
		problems = append(problems, "field currency: "+err.Error())
	}
	if scaled := p.RoyaltyShare * ppm; math.Abs(scaled-math.Round(scaled)) > 1e-6 {
		problems = append(problems, fmt.Sprintf("field royaltyShare: %v has more than six decimals", p.RoyaltyShare))
	}
	names := map[string]bool{}
	for i, b := range p.Bonuses {
		if names[b.Name] {
			problems = append(problems, fmt.Sprintf("field bonuses/%d/name: %q is used by an earlier bonus", i, b.Name))
		}
		names[b.Name] = true
	}
	return problems
}

func (p *Policy) fillDefaults() {
	// Empty lists and maps are left out of the stored JSON and read back as
	// nil. Making them nil here keeps a policy equal to itself read back.
	if len(p.PerTask) == 0 {
		p.PerTask = nil
	}
	if len(p.Bonuses) == 0 {
		p.Bonuses = nil
	}
	if len(p.Benefits) == 0 {
		p.Benefits = nil
	}
	if p.PerSample == nil {
		p.PerSample = map[string]int64{}
	}
	if p.PerUse == nil {
		p.PerUse = map[string]int64{}
	}
	if p.Triggers.PerSample == "" {
		p.Triggers.PerSample = TriggerPassedAndConsented
	}
	if p.Triggers.PerUse == "" {
		p.Triggers.PerUse = TriggerLicensedRelease
	}
	if p.Triggers.Royalty == "" {
		p.Triggers.Royalty = TriggerRevenueRecorded
	}
}

var (
	policySchemaOnce sync.Once
	policySchema     *jsonschema.Schema
	policySchemaErr  error
)

func compiledPolicySchema() (*jsonschema.Schema, error) {
	policySchemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.CompensationPolicy))
		if err != nil {
			policySchemaErr = fmt.Errorf("parse embedded policy schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		const url = "compensation-policy.schema.json"
		if err := c.AddResource(url, doc); err != nil {
			policySchemaErr = fmt.Errorf("load embedded policy schema: %w", err)
			return
		}
		policySchema, policySchemaErr = c.Compile(url)
	})
	return policySchema, policySchemaErr
}

var printer = message.NewPrinter(language.English)

// unknownNames describes names an object of the policy may not have: an
// unknown modality, tier or field.
func unknownNames(location, names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	list := strings.Join(quoted, ", ")
	switch {
	case len(location) == 1 && location[0] == "perSample", len(location) == 2 && location[0] == "perTask":
		return "unknown modality " + list + ": use video, voice, sensor or pressure"
	case len(location) == 1 && location[0] == "perUse":
		return "unknown tier " + list + ": use research, clinical or commercial"
	}
	return "unknown field " + list
}

// validatePolicyJSON returns one line per schema violation, each naming
// its field.
func validatePolicyJSON(raw []byte) ([]string, error) {
	sch, err := compiledPolicySchema()
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{"invalid JSON: " + err.Error()}, nil
	}
	err = sch.Validate(doc)
	var ve *jsonschema.ValidationError
	if err == nil {
		return nil, nil
	} else if !errors.As(err, &ve) {
		return nil, err
	}

	// Each leaf of the error tree is one problem.
	var problems []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		field := strings.Join(e.InstanceLocation, "/")
		if _, ok := e.ErrorKind.(*kind.AnyOf); ok && len(e.InstanceLocation) == 2 && e.InstanceLocation[0] == "bonuses" {
			// One line instead of one per criterion the bonus lacks.
			problems = append(problems, "field "+field+": a bonus needs at least one of condition, sex, ageBand, modality or task")
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		msg := e.ErrorKind.LocalizedString(printer)
		if extra, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
			msg = unknownNames(e.InstanceLocation, extra.Properties)
		}
		if field == "" {
			problems = append(problems, msg)
			return
		}
		if field == "royaltyShare" {
			msg += " (a share is a fraction: 0.10 is 10 %)"
		}
		problems = append(problems, "field "+field+": "+msg)
	}
	walk(ve)
	sort.Strings(problems)
	return problems, nil
}
