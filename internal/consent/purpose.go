package consent

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Purpose is a use a release can state. Purposes form a tree under the three
// consent tiers: a grant of a tier covers every purpose below it, unless a
// major revision of the consent document changed that purpose.
type Purpose struct {
	Code        string `json:"code"`
	Label       string `json:"label"`
	Tier        string `json:"tier"`
	Parent      string `json:"parent,omitempty"`
	Description string `json:"description"`
	// DUO lists the GA4GH Data Use Ontology terms that describe the use:
	// one permission term and any modifiers.
	DUO []string `json:"duo"`
}

// DUO terms Steward uses, from the GA4GH Data Use Ontology.
const (
	DUOGeneralResearch  = "DUO:0000042" // GRU, general research use
	DUOHealthResearch   = "DUO:0000006" // HMB, health or medical or biomedical research
	DUODiseaseSpecific  = "DUO:0000007" // DS, disease specific research
	DUOClinicalCare     = "DUO:0000043" // CC, clinical care use
	DUONonCommercial    = "DUO:0000046" // NCU, non-commercial use only
	DUOEthicsApproval   = "DUO:0000021" // IRB, ethics approval required
	DUOPublication      = "DUO:0000019" // PUB, publication required
	DUOProjectSpecific  = "DUO:0000027" // PS, project specific restriction
	DUONoMethodsResarch = "DUO:0000015" // NMDS, no general methods research
)

// DUOTerm is one term of the Data Use Ontology.
type DUOTerm struct {
	ID        string
	Shorthand string
	Label     string
}

// duoTerms lists the DUO permission and modifier terms, as published in the
// ontology's duo.csv (EBISPOT/DUO). Codes outside this list are rejected.
var duoTerms = []DUOTerm{
	{"DUO:0000004", "NRES", "no restriction"},
	{"DUO:0000006", "HMB", "health or medical or biomedical research"},
	{"DUO:0000007", "DS", "disease specific research"},
	{"DUO:0000011", "POA", "population origins or ancestry research only"},
	{"DUO:0000012", "RS", "research specific restrictions"},
	{"DUO:0000015", "NMDS", "no general methods research"},
	{"DUO:0000016", "GSO", "genetic studies only"},
	{"DUO:0000018", "NPUNCU", "not for profit, non commercial use only"},
	{"DUO:0000019", "PUB", "publication required"},
	{"DUO:0000020", "COL", "collaboration required"},
	{"DUO:0000021", "IRB", "ethics approval required"},
	{"DUO:0000022", "GS", "geographical restriction"},
	{"DUO:0000024", "MOR", "publication moratorium"},
	{"DUO:0000025", "TS", "time limit on use"},
	{"DUO:0000026", "US", "user specific restriction"},
	{"DUO:0000027", "PS", "project specific restriction"},
	{"DUO:0000028", "IS", "institution specific restriction"},
	{"DUO:0000029", "RTN", "return to database or resource"},
	{"DUO:0000042", "GRU", "general research use"},
	{"DUO:0000043", "CC", "clinical care use"},
	{"DUO:0000044", "NPOA", "population origins or ancestry research prohibited"},
	{"DUO:0000045", "NPO", "not for profit organisation use only"},
	{"DUO:0000046", "NCU", "non-commercial use only"},
}

// LookupDUO returns a DUO term by its id, such as DUO:0000042.
func LookupDUO(id string) (DUOTerm, error) {
	for _, t := range duoTerms {
		if t.ID == id {
			return t, nil
		}
	}
	return DUOTerm{}, fmt.Errorf("unknown DUO code %q: use a term of the GA4GH Data Use Ontology, such as %s (general research use)", id, DUOGeneralResearch)
}

// purposes is the hierarchy releases choose from. Research purposes carry
// the non-commercial modifier: commercial use has its own tier.
var purposes = []Purpose{
	{Code: "research", Label: "Research", Tier: "research",
		Description: "Non-commercial scientific research of any kind.",
		DUO:         []string{DUOGeneralResearch, DUONonCommercial}},
	{Code: "research.health", Label: "Health research", Tier: "research", Parent: "research",
		Description: "Non-commercial health, medical or biomedical research.",
		DUO:         []string{DUOHealthResearch, DUONonCommercial}},
	{Code: "research.rehabilitation", Label: "Rehabilitation research", Tier: "research", Parent: "research.health",
		Description: "Non-commercial research on rehabilitation, gait, balance, movement and voice disorders.",
		DUO:         []string{DUOHealthResearch, DUONonCommercial}},
	{Code: "clinical", Label: "Clinical care", Tier: "clinical",
		Description: "Use in the care of patients, including the participant's own care.",
		DUO:         []string{DUOClinicalCare}},
	{Code: "clinical.quality", Label: "Clinical quality improvement", Tier: "clinical", Parent: "clinical",
		Description: "Audits and improvement of clinical services.",
		DUO:         []string{DUOClinicalCare}},
	{Code: "commercial", Label: "Commercial use", Tier: "commercial",
		Description: "Research, development and products by commercial organisations.",
		DUO:         []string{DUOGeneralResearch}},
	{Code: "commercial.product", Label: "Commercial product development", Tier: "commercial", Parent: "commercial",
		Description: "Training and evaluating models in commercial products and services.",
		DUO:         []string{DUOGeneralResearch}},
	{Code: "commercial.third-party", Label: "Licensing to third parties", Tier: "commercial", Parent: "commercial",
		Description: "Licensing the data to other organisations for their commercial use.",
		DUO:         []string{DUOGeneralResearch}},
}

// Purposes returns the purpose hierarchy, parents before children.
func Purposes() []Purpose { return slices.Clone(purposes) }

// LookupPurpose returns a purpose by its code.
func LookupPurpose(code string) (Purpose, error) {
	if code == "" {
		return Purpose{}, fmt.Errorf("no purpose given: pass --purpose with one of %s", purposeCodes())
	}
	for _, p := range purposes {
		if p.Code == code {
			return p, nil
		}
	}
	return Purpose{}, fmt.Errorf("unknown purpose %q: use one of %s", code, purposeCodes())
}

func purposeCodes() string {
	codes := make([]string, len(purposes))
	for i, p := range purposes {
		codes[i] = p.Code
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}

// Lineage returns the purpose's code and those of its ancestors, nearest
// first.
func (p Purpose) Lineage() []string {
	return slices.Clone(p.lineage())
}

// lineages maps each purpose code to its lineage, computed once because
// decisions need it for every grant.
var lineages = func() map[string][]string {
	out := map[string][]string{}
	for _, p := range purposes {
		out[p.Code] = p.ancestry()
	}
	return out
}()

// lineage returns the shared lineage of a listed purpose, which callers
// must not modify. A Purpose built elsewhere with another parent gets its
// own.
func (p Purpose) lineage() []string {
	if l, ok := lineages[p.Code]; ok && (len(l) < 2 || l[1] == p.Parent) {
		return l
	}
	return p.ancestry()
}

func (p Purpose) ancestry() []string {
	out := []string{p.Code}
	for parent := p.Parent; parent != ""; {
		out = append(out, parent)
		q, err := LookupPurpose(parent)
		if err != nil {
			break
		}
		parent = q.Parent
	}
	return out
}

// Narrower returns the purposes below p, each after its parent.
func (p Purpose) Narrower() []Purpose {
	var out []Purpose
	for _, q := range purposes {
		if q.Code != p.Code && slices.Contains(q.lineage(), p.Code) {
			out = append(out, q)
		}
	}
	return out
}

// TierFor returns the consent tier a release purpose needs.
func TierFor(purpose string) (string, error) {
	p, err := LookupPurpose(purpose)
	if err != nil {
		return "", err
	}
	return p.Tier, nil
}
