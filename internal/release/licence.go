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
// A general use is an activity that serves every purpose below its own,
// such as analysis within rehabilitation research.
type licenceUse struct {
	purpose, text string
	general       bool
}

// allowedUses lists the uses of each tier. A licence allows those of its
// release's purpose and narrower ones that every sample permits, and the
// general uses of broader purposes.
var allowedUses = map[string][]licenceUse{
	"research": {
		{"research", "training, evaluating and publishing research models and findings", true},
		{"research", "non-commercial scientific analysis", true},
	},
	"clinical": {
		{"clinical", "developing and validating tools for the care of patients", false},
		{"clinical.quality", "clinical quality improvement", false},
	},
	"commercial": {
		{"commercial.product", "training and evaluating models in commercial products and services", false},
		{"commercial", "research and development by the licensee", true},
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

// usesAllowed returns the tier's uses that a release for h.Purpose allows:
// those of the purpose or a narrower one that no excluded purpose contains,
// and the general uses of a broader purpose. A use of a sibling purpose is
// never allowed, because the consent behind the release need not cover it.
func usesAllowed(h Header, excluded []string) []string {
	release, err := consent.LookupPurpose(h.Purpose)
	if err != nil {
		return []string{}
	}
	broader := release.Lineage()
	out := []string{}
	for _, u := range allowedUses[h.Tier] {
		p, err := consent.LookupPurpose(u.purpose)
		if err != nil {
			continue
		}
		lineage := p.Lineage()
		switch {
		case slices.Contains(lineage, release.Code):
			if slices.ContainsFunc(excluded, func(code string) bool { return slices.Contains(lineage, code) }) {
				continue
			}
		case u.general && slices.Contains(broader, u.purpose):
		default:
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
