// Package participant defines the audit attributes Steward keeps about a
// participant: demographics and clinical scores found in the source. They
// live outside the log and are erased with the participant.
package participant

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/steward-rehab/steward/internal/ident"
)

// Attributes are a participant's demographics. A nil pointer or an empty
// string means unknown; audits show unknown as its own group.
type Attributes struct {
	AgeYears        *float64 `json:"ageYears,omitempty"`
	Sex             string   `json:"sex,omitempty"` // female, male or other
	HeightM         *float64 `json:"heightM,omitempty"`
	WeightKg        *float64 `json:"weightKg,omitempty"`
	AssistiveDevice string   `json:"assistiveDevice,omitempty"`
	Condition       string   `json:"condition,omitempty"`
	Group           string   `json:"group,omitempty"`
	Handedness      string   `json:"handedness,omitempty"`
	Language        string   `json:"language,omitempty"`
	Scores          []Score  `json:"scores,omitempty"`
}

// Score is a value on a clinical scale, such as Hoehn and Yahr stage,
// UPDRS, or Timed Up and Go in seconds.
type Score struct {
	Scale string  `json:"scale"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Scales that importers record.
const (
	ScaleHoehnYahr   = "hoehn-yahr"
	ScaleUPDRS       = "updrs-total"
	ScaleUPDRSMotor  = "updrs-motor"
	ScaleTUG         = "timed-up-and-go"
	ScaleGaitSpeed   = "gait-speed"
	ScaleTFC         = "huntington-total-functional-capacity"
	ScaleALSDuration = "als-months-since-diagnosis"
	ScaleMiniBESTest = "mini-bestest-total"
)

// NewPseudonym returns a random participant pseudonym. It carries no
// information about the participant.
func NewPseudonym() string { return ident.New(ident.Participant) }

// NewSalt returns the random salt for an attributes digest.
func NewSalt() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// Digest returns the salted commitment to the attributes that the log
// carries: sha256 over the salt and the attributes' JSON.
func (a Attributes) Digest(salt []byte) string {
	raw, _ := json.Marshal(a.Normalized())
	h := sha256.New()
	h.Write(salt)
	h.Write(raw)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Normalized returns the attributes with scores sorted by scale, so equal
// attributes give equal digests.
func (a Attributes) Normalized() Attributes {
	out := a
	out.Scores = append([]Score(nil), a.Scores...)
	sort.SliceStable(out.Scores, func(i, j int) bool { return out.Scores[i].Scale < out.Scores[j].Scale })
	return out
}

// Validate rejects values no source could mean.
func (a Attributes) Validate() error {
	check := func(name string, v *float64, lo, hi float64) error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < lo || *v > hi {
			return fmt.Errorf("invalid %s %v: expected %v to %v", name, *v, lo, hi)
		}
		return nil
	}
	if err := check("ageYears", a.AgeYears, 0, 130); err != nil {
		return err
	}
	if err := check("heightM", a.HeightM, 0.3, 2.8); err != nil {
		return err
	}
	if err := check("weightKg", a.WeightKg, 1, 400); err != nil {
		return err
	}
	switch a.Sex {
	case "", "female", "male", "other":
	default:
		return fmt.Errorf("invalid sex %q: use female, male or other, or leave it empty when unknown", a.Sex)
	}
	for _, s := range a.Scores {
		if s.Scale == "" || math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			return fmt.Errorf("invalid score %+v: a score needs a scale and a finite value", s)
		}
	}
	return nil
}

// AgeBand returns the ten-year band of the age, such as 60-69, or unknown.
func (a Attributes) AgeBand() string {
	if a.AgeYears == nil {
		return "unknown"
	}
	lo := int(*a.AgeYears) / 10 * 10
	return fmt.Sprintf("%d-%d", lo, lo+9)
}

// SexOrUnknown returns the sex, or unknown when it was not recorded.
func (a Attributes) SexOrUnknown() string {
	if a.Sex == "" {
		return "unknown"
	}
	return a.Sex
}

// ConditionOrUnknown returns the condition, or unknown when not recorded.
func (a Attributes) ConditionOrUnknown() string {
	if a.Condition == "" {
		return "unknown"
	}
	return a.Condition
}
