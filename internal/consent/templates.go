package consent

import (
	_ "embed"
)

// defaultDocument is the YAML of Steward's default consent form.
//
//go:embed templates/v1.yaml
var defaultDocument []byte

// DefaultDocument returns Steward's default consent form, version v1: a
// plain-language form with the three tiers and a box per modality.
func DefaultDocument() Document {
	d, err := ParseDocument(defaultDocument, "templates/v1.yaml")
	if err != nil {
		panic("the embedded default consent document is invalid: " + err.Error())
	}
	return d
}
