package release

import (
	"encoding/json"
	"fmt"
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

var allowedUses = map[string][]string{
	"research": {
		"training, evaluating and publishing research models and findings",
		"non-commercial scientific analysis",
	},
	"clinical": {
		"developing and validating tools for the care of patients",
		"clinical quality improvement",
	},
	"commercial": {
		"training and evaluating models in commercial products and services",
		"research and development by the licensee",
	},
}

// NewLicence returns the terms of a release for its purpose.
func NewLicence(h Header, attribution []Attribution) Licence {
	return Licence{
		Release:     h.Release,
		Licensor:    h.Origin,
		Purpose:     h.Purpose,
		Modalities:  h.Modalities,
		AllowedUses: allowedUses[h.Tier],
		ProhibitedUses: []string{
			"any use for a purpose other than " + h.Purpose,
			"re-identifying or attempting to contact any participant",
			"redistributing the raw recordings",
		},
		Duties: []string{
			"attribute the sources listed under attribution",
			"delete the samples named in any revocation notice for this release, and retrain models that used them",
			"apply these terms to any derived dataset",
		},
		Attribution:  nonNil(attribution),
		Compensation: licenceCompensation(h.Compensation, licenceSamples(attribution)),
	}
}

// Encode returns licence.json's bytes.
func (l Licence) Encode() ([]byte, error) {
	raw, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode licence: %w", err)
	}
	return append(raw, '\n'), nil
}
