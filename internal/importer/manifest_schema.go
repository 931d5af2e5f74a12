package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/steward-rehab/steward/schemas"
)

// manifestField is a field of the sample schema, and so a manifest column:
// nested fields are named like device.model.
type manifestField struct {
	name        string
	kind        string // string, number or integer
	nullable    bool   // the field may be null, as capturedAt
	required    bool
	description string
}

var (
	schemaFieldsOnce sync.Once
	schemaFields     []manifestField
	schemaFieldsErr  error
)

// manifestFields returns the fields of the embedded sample schema in the
// schema's order, so that CSV columns follow the schema that validates them.
func manifestFields() ([]manifestField, error) {
	schemaFieldsOnce.Do(func() {
		schemaFields, schemaFieldsErr = objectFields("", schemas.Sample)
		if schemaFieldsErr != nil {
			schemaFieldsErr = fmt.Errorf("read embedded sample schema: %w", schemaFieldsErr)
		}
	})
	return schemaFields, schemaFieldsErr
}

// schemaNode is the part of a JSON Schema object that manifests need.
type schemaNode struct {
	Type        schemaType      `json:"type"`
	Description string          `json:"description"`
	Required    []string        `json:"required"`
	Properties  json.RawMessage `json:"properties"`
}

// schemaType is a JSON Schema type keyword, a string or a list of strings.
type schemaType []string

func (t *schemaType) UnmarshalJSON(raw []byte) error {
	var single string
	if err := json.Unmarshal(raw, &single); err == nil {
		*t = schemaType{single}
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	*t = list
	return nil
}

func (t schemaType) has(name string) bool {
	for _, s := range t {
		if s == name {
			return true
		}
	}
	return false
}

// objectFields lists the fields of an object schema, descending into
// nested objects with dotted names.
func objectFields(prefix string, raw []byte) ([]manifestField, error) {
	var node schemaNode
	if err := json.Unmarshal(raw, &node); err != nil {
		return nil, err
	}
	required := map[string]bool{}
	for _, r := range node.Required {
		required[r] = true
	}
	names, err := orderedKeys(node.Properties)
	if err != nil {
		return nil, err
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(node.Properties, &props); err != nil {
		return nil, err
	}
	var out []manifestField
	for _, name := range names {
		var child schemaNode
		if err := json.Unmarshal(props[name], &child); err != nil {
			return nil, err
		}
		if child.Type.has("object") {
			nested, err := objectFields(prefix+name+".", props[name])
			if err != nil {
				return nil, err
			}
			out = append(out, nested...)
			continue
		}
		f := manifestField{name: prefix + name, kind: "string", nullable: child.Type.has("null"), required: required[name], description: child.Description}
		for _, k := range []string{"integer", "number"} {
			if child.Type.has(k) {
				f.kind = k
				break
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// orderedKeys returns the keys of a JSON object in the order written.
func orderedKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func fieldNames(fs []manifestField) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// fieldHint returns the schema's description of a field as a hint that
// follows a problem, or nothing when it has none. The path field gets none
// because its problems explain the rule themselves.
func fieldHint(name string) string {
	fs, _ := manifestFields()
	for _, f := range fs {
		if f.name != name || f.description == "" || name == "path" {
			continue
		}
		d := strings.TrimSuffix(f.description, ".")
		if len(d) > 1 && unicode.IsUpper(rune(d[0])) && unicode.IsLower(rune(d[1])) {
			d = strings.ToLower(d[:1]) + d[1:]
		}
		return "; expected " + d
	}
	return ""
}
