// Package provenance defines what Steward records about where each sample
// came from, and validates declarations against the repository's JSON Schema.
package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/steward-rehab/steward/schemas"
)

// Modalities lists the kinds of recording Steward registers.
var Modalities = []string{"video", "voice", "sensor", "pressure"}

// Device identifies the capture hardware.
type Device struct {
	Model    string `json:"model"`
	Firmware string `json:"firmware"`
	Serial   string `json:"serial,omitempty"`
}

// Record is the provenance of one sample as it is logged. It carries no
// direct identifier: the participant appears only as a pseudonym elsewhere.
type Record struct {
	Modality             string     `json:"modality"`
	Format               string     `json:"format"`
	SamplingRate         float64    `json:"samplingRate"`
	Channels             int        `json:"channels,omitempty"`
	TimeUnit             string     `json:"timeUnit,omitempty"`
	CollectorID          string     `json:"collectorId"`
	Device               Device     `json:"device"`
	CapturedAt           *time.Time `json:"capturedAt"`
	Protocol             string     `json:"protocol"`
	LabelSchemaVersion   string     `json:"labelSchemaVersion"`
	ConsentVersion       string     `json:"consentVersion"`
	CompensationRecordID string     `json:"compensationRecordId,omitempty"`
}

// Declaration is one sample as a manifest or an importer declares it: the
// provenance record plus the file and the participant's source id.
type Declaration struct {
	Path        string `json:"path"`
	ID          string `json:"id,omitempty"`
	Participant string `json:"participant"`
	Record
}

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

func sampleSchema() (*jsonschema.Schema, error) {
	compileOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.Sample))
		if err != nil {
			compileErr = fmt.Errorf("parse embedded sample schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		const url = "sample.schema.json"
		if err := c.AddResource(url, doc); err != nil {
			compileErr = fmt.Errorf("load embedded sample schema: %w", err)
			return
		}
		compiled, compileErr = c.Compile(url)
	})
	return compiled, compileErr
}

// FieldError is a schema violation at one field of a declaration.
type FieldError struct {
	Field   string // JSON pointer style path without the leading slash, such as device/model
	Message string
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return fmt.Sprintf("field %s: %s", e.Field, e.Message)
}

// ValidationError lists every schema violation of one declaration.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

// ValidateJSON checks raw declaration JSON against the sample schema and
// decodes it. The error is a *ValidationError naming each offending field.
func ValidateJSON(raw []byte) (Declaration, error) {
	var dup *ValidationError
	if err := checkDuplicateNames(raw); errors.As(err, &dup) {
		return Declaration{}, dup // other errors are syntax, which validateRaw reports
	}
	if err := validateRaw(raw); err != nil {
		return Declaration{}, err
	}
	var d Declaration
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Declaration{}, fmt.Errorf("decode declaration: %w", err)
	}
	if d.CapturedAt != nil {
		t := d.CapturedAt.UTC()
		d.CapturedAt = &t
	}
	return d, nil
}

// Validate checks a declaration built in code, such as by an importer,
// against the same schema as a manifest row.
func Validate(d Declaration) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return validateRaw(raw)
}

func validateRaw(raw []byte) error {
	sch, err := sampleSchema()
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return &ValidationError{Problems: flatten(ve)}
		}
		return err
	}
	if problems := checkText(doc, ""); len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Field < problems[j].Field })
		return &ValidationError{Problems: problems}
	}
	return nil
}

var printer = message.NewPrinter(language.English)

// number formats a schema bound or value as a manifest writes it: 16000,
// not 16,000, and 0.5 rather than 1/2.
func number(r *big.Rat) string {
	if r == nil {
		return "nothing"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// flatten turns the library's error tree into one line per leaf problem.
func flatten(ve *jsonschema.ValidationError) []FieldError {
	var out []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			field := strings.Join(e.InstanceLocation, "/")
			msg := e.ErrorKind.LocalizedString(printer)
			switch k := e.ErrorKind.(type) {
			case *kind.Not:
				if field == "path" {
					msg = "must be a relative path inside the manifest's folder: no leading /, no .. segment, no backslash"
				}
			case *kind.ExclusiveMinimum:
				msg = fmt.Sprintf("is %s but must be greater than %s", number(k.Got), number(k.Want))
			case *kind.Minimum:
				msg = fmt.Sprintf("is %s but must be at least %s", number(k.Got), number(k.Want))
			case *kind.Maximum:
				msg = fmt.Sprintf("is %s but must be at most %s", number(k.Got), number(k.Want))
			}
			out = append(out, FieldError{Field: field, Message: msg})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}
