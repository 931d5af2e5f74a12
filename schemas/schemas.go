// Package schemas embeds the JSON Schemas that Steward enforces, so that the
// binary validates with exactly the files kept in the repository.
package schemas

import _ "embed"

// Sample is the JSON Schema of one sample declaration (a manifest row).
//
//go:embed sample.schema.json
var Sample []byte

// CompensationPolicy is the JSON Schema of a compensation policy, the file
// `steward policy add` reads.
//
//go:embed compensation-policy.schema.json
var CompensationPolicy []byte
