package provenance

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/steward-rehab/steward/internal/plaintext"
	"github.com/steward-rehab/steward/internal/strictjson"
)

// checkText rejects control and format characters in every string of a
// decoded declaration. Newlines and NUL bytes break the CSV, logs and
// datasheets a value ends up in; bidirectional overrides and zero-width
// characters make one id look like another.
func checkText(doc any, field string) []FieldError {
	switch v := doc.(type) {
	case string:
		if i := strings.IndexFunc(v, plaintext.Hidden); i >= 0 {
			r := []rune(v[i:])[0]
			return []FieldError{{Field: field, Message: fmt.Sprintf(
				"contains the invisible character %U at byte %d: remove control, bidirectional and zero-width characters", r, i)}}
		}
	case map[string]any:
		var out []FieldError
		for k, child := range v {
			name := k
			if field != "" {
				name = field + "/" + k
			}
			if strings.IndexFunc(k, plaintext.Hidden) >= 0 {
				out = append(out, FieldError{Field: field, Message: fmt.Sprintf("the name %q contains an invisible character: remove it", k)})
				continue
			}
			out = append(out, checkText(child, name)...)
		}
		return out
	case []any:
		var out []FieldError
		for i, child := range v {
			out = append(out, checkText(child, fmt.Sprintf("%s/%d", field, i))...)
		}
		return out
	}
	return nil
}

// checkDuplicateNames rejects a JSON object that names a member twice.
// encoding/json keeps the last value, so `"participant":"A", ...,
// "participant":"B"` would silently register the sample to B.
func checkDuplicateNames(raw []byte) error {
	if path, found := strictjson.DuplicateName(raw); found {
		return &ValidationError{Problems: []FieldError{{Field: path, Message: "is given twice: keep one value"}}}
	}
	return nil
}

// Differences lists the fields, by their manifest names, in which two
// provenance records differ. Registering content that is already
// registered keeps the first record; the list tells the collector which of
// their new values were not taken.
func Differences(a, b Record) []string {
	fa, errA := fields(a)
	fb, errB := fields(b)
	if errA != nil || errB != nil {
		return nil
	}
	var out []string
	for name, va := range fa {
		if !reflect.DeepEqual(va, fb[name]) {
			out = append(out, name)
		}
	}
	for name := range fb {
		if _, ok := fa[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// fields flattens a record into its manifest column names, such as
// device.model, and values.
func fields(r Record) (map[string]any, error) {
	if r.CapturedAt != nil {
		t := r.CapturedAt.UTC()
		r.CapturedAt = &t
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	out := map[string]any{}
	var flat func(prefix string, m map[string]any)
	flat = func(prefix string, m map[string]any) {
		for k, v := range m {
			if child, ok := v.(map[string]any); ok {
				flat(prefix+k+".", child)
				continue
			}
			out[prefix+k] = v
		}
	}
	flat("", doc)
	return out, nil
}
