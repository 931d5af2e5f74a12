package release

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/steward-rehab/steward/internal/consent"
)

// Licence is licence.json: the terms under which a release may be used.
type Licence struct {
	Release        string        `json:"release"`
	Licensor       string        `json:"licensor"`
	Purpose        string        `json:"purpose"`
	Modalities     []string      `json:"modalities"`
	AllowedUses    []string      `json:"allowedUses"`
	ProhibitedUses []string      `json:"prohibitedUses"`
	Duties         []string      `json:"duties"`
	Attribution    []Attribution `json:"attribution"`
	// Compensation states what the participants were and are paid.
	Compensation *LicenceCompensation `json:"compensation,omitempty"`
}

// licenceUse is one use a licence can allow, with the purpose it belongs to.
type licenceUse struct {
	purpose, text string
}

// allowedUses lists the uses each tier's licence allows. A use under a
// narrower purpose is left out when the consent behind some sample does not
// permit that purpose.
var allowedUses = map[string][]licenceUse{
	"research": {
		{"research", "training, evaluating and publishing research models and findings"},
		{"research", "non-commercial scientific analysis"},
	},
	"clinical": {
		{"clinical", "developing and validating tools for the care of patients"},
		{"clinical.quality", "clinical quality improvement"},
	},
	"commercial": {
		{"commercial.product", "training and evaluating models in commercial products and services"},
		{"commercial", "research and development by the licensee"},
	},
}

// NewLicence returns the terms of a release for its purpose, less the
// narrower purposes the trailer lists as excluded.
func NewLicence(h Header, t Trailer) Licence {
	prohibited := []string{"any use for a purpose other than " + h.Purpose}
	prohibited = append(prohibited, excludedUses(t.ExcludedPurposes)...)
	prohibited = append(prohibited,
		"re-identifying or attempting to contact any participant",
		"redistributing the raw recordings",
	)
	return Licence{
		Release:        h.Release,
		Licensor:       h.Origin,
		Purpose:        h.Purpose,
		Modalities:     h.Modalities,
		AllowedUses:    usesAllowed(h, t.ExcludedPurposes),
		ProhibitedUses: prohibited,
		Duties: []string{
			"attribute the sources listed under attribution",
			"delete the samples named in any revocation notice for this release, and retrain models that used them",
			"apply these terms to any derived dataset",
		},
		Attribution:  nonNil(t.Attribution),
		Compensation: licenceCompensation(h.Compensation, licenceSamples(t.Attribution)),
	}
}

// excludedUses describes each excluded narrower purpose as a use the
// licence prohibits.
func excludedUses(excluded []string) []string {
	var out []string
	for _, code := range excluded {
		label := code
		if p, err := consent.LookupPurpose(code); err == nil {
			label = strings.ToLower(p.Label[:1]) + p.Label[1:]
		}
		out = append(out, fmt.Sprintf("%s (%s): the consent of at least one sample does not permit it", label, code))
	}
	return out
}

// usesAllowed returns the tier's uses whose purpose no excluded purpose
// contains.
func usesAllowed(h Header, excluded []string) []string {
	out := []string{}
	for _, u := range allowedUses[h.Tier] {
		p, err := consent.LookupPurpose(u.purpose)
		if err != nil {
			continue
		}
		lineage := p.Lineage()
		if slices.ContainsFunc(excluded, func(code string) bool { return slices.Contains(lineage, code) }) {
			continue
		}
		out = append(out, u.text)
	}
	return out
}

// Encode returns licence.json's bytes.
func (l Licence) Encode() ([]byte, error) {
	raw, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode licence: %w", err)
	}
	return append(raw, '\n'), nil
}
