// Package strictjson finds what encoding/json lets through silently in
// input from people and other systems. A JSON object that names a member
// twice decodes to the last value, so `"tiers":["research"], ...,
// "tiers":["commercial"]` would record a commercial grant that a reviewer
// of the first line never saw.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// DuplicateName returns the path (members joined by "/", array elements
// by their index) of the first member that an object of raw names twice,
// and whether there is one. Names are compared as encoding/json matches
// them to struct fields, without regard to case, so "tiers" and "Tiers",
// or "tiers" and "tierſ" with the long s, count as the same name. Syntax errors are left to the decoder that
// reads raw afterwards; DuplicateName reports no duplicate for them.
func DuplicateName(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	path, err := walk(dec, "")
	return path, err == nil && path != ""
}

// walk reads one value and returns the path of the first repeated member
// within it, or "".
func walk(dec *json.Decoder, field string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			nameTok, err := dec.Token()
			if err != nil {
				return "", err
			}
			name, _ := nameTok.(string)
			path := join(field, name)
			if seen[fold(name)] {
				return path, nil
			}
			seen[fold(name)] = true
			if dup, err := walk(dec, path); err != nil || dup != "" {
				return dup, err
			}
		}
		_, err = dec.Token() // the closing brace
		return "", err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if dup, err := walk(dec, join(field, fmt.Sprint(i))); err != nil || dup != "" {
				return dup, err
			}
		}
		_, err = dec.Token()
		return "", err
	}
	return "", nil
}

// fold maps a name to one spelling for every case variant, including
// the Unicode letters that fold to ASCII ones (the Kelvin sign and the
// long s), which encoding/json also treats as equal.
func fold(name string) string {
	return strings.ToLower(strings.ToUpper(name))
}

func join(field, name string) string {
	if field == "" {
		return name
	}
	return field + "/" + name
}
