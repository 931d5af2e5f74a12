package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/steward-rehab/steward/internal/plaintext"
	"github.com/steward-rehab/steward/internal/strictjson"
)

// Revisions of a consent document.
const (
	RevisionInitial = "initial"
	// RevisionMajor changes what the participant agrees to: use for the
	// purposes it adds or changes stops until the participant signs it.
	RevisionMajor = "major"
	// RevisionMinor changes wording only and changes no decision.
	RevisionMinor = "minor"
)

// Document is a versioned consent form: what participants read and what
// they can choose.
type Document struct {
	Version  string `json:"version"`
	Title    string `json:"title"`
	Language string `json:"language"`
	// Summary is the plain-language summary shown to participants.
	Summary string `json:"summary"`
	// Text is the full form, in Markdown.
	Text string `json:"text"`
	// Tiers and Modalities are the choices the form offers: a box per tier
	// and modality.
	Tiers      []string `json:"tiers"`
	Modalities []string `json:"modalities"`
	// Purposes are the purpose codes the form describes; empty means every
	// purpose of the offered tiers.
	Purposes           []string `json:"purposes,omitempty"`
	ThirdPartyTransfer bool     `json:"thirdPartyTransfer"`
	// NOTE: Derivatives and RetentionYears are part of the form and its
	// digest, but no decision reads them yet. Ending use with the retention
	// period needs FHIR exports to carry that end for each grant.
	Derivatives    bool   `json:"derivatives"`
	RetentionYears int    `json:"retentionYears"`
	Revision       string `json:"revision"`
	// Supersedes is the version this one revises, empty for an initial form.
	Supersedes string `json:"supersedes,omitempty"`
	// ChangedPurposes are the purposes a major revision adds or changes.
	ChangedPurposes []string `json:"changedPurposes,omitempty"`
	// Effective is the first day (YYYY-MM-DD) participants could sign this
	// version; a grant signed earlier is rejected. Empty means no limit,
	// for forms in use on paper before the registry existed.
	Effective string `json:"effective,omitempty"`
}

// EffectiveFrom returns the start of the document's effective day in UTC,
// or the zero time when it has none.
func (d Document) EffectiveFrom() time.Time {
	t, _ := time.Parse(time.DateOnly, d.Effective)
	return t
}

// Terms are the parts of a document that decisions depend on. They are
// logged with the document's digest, so a verifier can replay decisions.
type Terms struct {
	Version         string   `json:"version"`
	Digest          string   `json:"digest"`
	Revision        string   `json:"revision"`
	Supersedes      string   `json:"supersedes,omitempty"`
	ChangedPurposes []string `json:"changedPurposes,omitempty"`
	Tiers           []string `json:"tiers"`
	Modalities      []string `json:"modalities"`
	// Purposes limits the document to these purposes and their
	// sub-purposes; empty means every purpose of the offered tiers.
	Purposes []string `json:"purposes,omitempty"`
	// ThirdPartyTransfer is whether the form allows licensing the data to
	// other organisations (commercial.third-party).
	ThirdPartyTransfer bool `json:"thirdPartyTransfer,omitempty"`
}

var versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// ParseDocument reads a document from JSON or YAML. name is used in
// messages. Unknown fields are errors, so a misspelt choice is never
// silently dropped.
func ParseDocument(raw []byte, name string) (Document, error) {
	var d Document
	// Editors on Windows may start a UTF-8 file with a byte order mark.
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("\ufeff")))
	var err error
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		err = dec.Decode(&d)
		if path, found := strictjson.DuplicateName(trimmed); err == nil && found {
			err = fmt.Errorf("field %q is given twice: keep one value", path)
		}
		if _, tokErr := dec.Token(); err == nil && !errors.Is(tokErr, io.EOF) {
			err = fmt.Errorf("unexpected data after the first JSON object: a file contains one document")
		}
	} else {
		raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
		err = yaml.UnmarshalWithOptions(raw, &d, yaml.Strict(), yaml.UseJSONUnmarshaler())
	}
	if err != nil {
		return d, fmt.Errorf("%s: invalid consent document: %w", name, err)
	}
	if err := d.Validate(); err != nil {
		return d, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// Validate checks a document's fields.
func (d Document) Validate() error {
	switch {
	case !versionPattern.MatchString(d.Version):
		return fmt.Errorf("invalid version %q: use letters, digits, dots, dashes or underscores, such as v2", d.Version)
	case strings.TrimSpace(d.Title) == "":
		return fmt.Errorf("missing title")
	case strings.TrimSpace(d.Summary) == "":
		return fmt.Errorf("missing summary: participants need a plain-language summary")
	case strings.TrimSpace(d.Text) == "":
		return fmt.Errorf("missing text: the full form the participant reads")
	case d.RetentionYears < 0 || d.RetentionYears > 100:
		return fmt.Errorf("invalid retentionYears %d: expected 0 to 100", d.RetentionYears)
	}
	for _, f := range []struct{ name, value string }{{"title", d.Title}, {"language", d.Language}} {
		if err := plaintext.Line(f.name, f.value); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{{"summary", d.Summary}, {"text", d.Text}} {
		if err := plaintext.Paragraphs(f.name, f.value); err != nil {
			return err
		}
	}
	if d.Effective != "" {
		if _, err := time.Parse(time.DateOnly, d.Effective); err != nil {
			return fmt.Errorf("invalid effective %q: give the first day the form could be signed, as YYYY-MM-DD", d.Effective)
		}
	}
	if len(d.Tiers) == 0 {
		return fmt.Errorf("no tiers offered: list one or more of %s", strings.Join(Tiers, ", "))
	}
	if t := firstRepeat(d.Tiers); t != "" {
		return fmt.Errorf("tier %s is listed twice: list each tier once", t)
	}
	if m := firstRepeat(d.Modalities); m != "" {
		return fmt.Errorf("modality %s is listed twice: list each modality once", m)
	}
	if d.ThirdPartyTransfer && !slices.Contains(d.Tiers, "commercial") {
		return fmt.Errorf("thirdPartyTransfer is true but the document does not offer the commercial tier, which licensing to third parties belongs to: add commercial to tiers or set thirdPartyTransfer to false")
	}
	for _, t := range d.Tiers {
		if !slices.Contains(Tiers, t) {
			return fmt.Errorf("unknown tier %q: use %s", t, strings.Join(Tiers, ", "))
		}
	}
	if len(d.Modalities) == 0 {
		return fmt.Errorf("no modalities offered: list one or more of video, voice, sensor, pressure")
	}
	for _, m := range d.Modalities {
		if !slices.Contains([]string{"video", "voice", "sensor", "pressure"}, m) {
			return fmt.Errorf("unknown modality %q: use video, voice, sensor or pressure", m)
		}
	}
	if p := firstRepeat(d.Purposes); p != "" {
		return fmt.Errorf("purpose %s is listed twice in purposes: list each purpose once", p)
	}
	if p := firstRepeat(d.ChangedPurposes); p != "" {
		return fmt.Errorf("purpose %s is listed twice in changedPurposes: list each purpose once", p)
	}
	for _, p := range append(slices.Clone(d.Purposes), d.ChangedPurposes...) {
		purpose, err := LookupPurpose(p)
		if err != nil {
			return err
		}
		if !slices.Contains(d.Tiers, purpose.Tier) {
			return fmt.Errorf("purpose %q belongs to the %s tier, which the document does not offer: add %s to tiers or remove the purpose", p, purpose.Tier, purpose.Tier)
		}
	}
	if !d.ThirdPartyTransfer && slices.Contains(d.Purposes, PurposeThirdParty) {
		return fmt.Errorf("the document lists %s but thirdPartyTransfer is false: set thirdPartyTransfer to true, or remove the purpose", PurposeThirdParty)
	}
	switch d.Revision {
	case RevisionInitial:
		if d.Supersedes != "" || len(d.ChangedPurposes) > 0 {
			return fmt.Errorf("an initial document supersedes nothing and changes no purpose: set revision to major or minor")
		}
	case RevisionMajor:
		if d.Supersedes == "" || len(d.ChangedPurposes) == 0 {
			return fmt.Errorf("a major revision names the version it supersedes and the purposes it adds or changes (changedPurposes)")
		}
	case RevisionMinor:
		if d.Supersedes == "" {
			return fmt.Errorf("a minor revision names the version it supersedes")
		}
		if len(d.ChangedPurposes) > 0 {
			return fmt.Errorf("a minor revision changes wording only: changedPurposes must be empty, or make it a major revision")
		}
	default:
		return fmt.Errorf("invalid revision %q: use initial, major or minor", d.Revision)
	}
	return nil
}

// SameChoices reports whether two documents offer the same choices, which
// a minor revision must keep: tiers, modalities, purposes and third-party
// transfer. It returns the name of the first field that differs, or "".
func SameChoices(a, b Document) string {
	switch {
	case !sameSet(a.Tiers, b.Tiers):
		return "tiers"
	case !sameSet(a.Modalities, b.Modalities):
		return "modalities"
	case !sameSet(a.Purposes, b.Purposes):
		return "purposes"
	case a.ThirdPartyTransfer != b.ThirdPartyTransfer:
		return "thirdPartyTransfer"
	}
	return ""
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Digest returns sha256 of the document's JSON encoding, the value logged
// and quoted by FHIR exports.
func (d Document) Digest() string {
	raw, _ := json.Marshal(d)
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Terms returns the decision-relevant parts of the document.
func (d Document) Terms() Terms {
	return Terms{
		Version: d.Version, Digest: d.Digest(), Revision: d.Revision, Supersedes: d.Supersedes,
		ChangedPurposes: d.ChangedPurposes, Tiers: d.Tiers, Modalities: d.Modalities,
		Purposes: d.Purposes, ThirdPartyTransfer: d.ThirdPartyTransfer,
	}
}

// PurposeThirdParty is the purpose a form must allow with
// thirdPartyTransfer: licensing the data to other organisations.
const PurposeThirdParty = "commercial.third-party"

// describes reports whether the document's own terms cover purpose p: the
// purpose or one of its parents is among the listed purposes (or none are
// listed), and licensing to third parties needs a form that allows it.
func (t Terms) describes(p Purpose) bool {
	lineage := p.lineage()
	if !t.ThirdPartyTransfer && slices.Contains(lineage, PurposeThirdParty) {
		return false
	}
	if len(t.Purposes) == 0 {
		return true
	}
	for _, listed := range t.Purposes {
		if slices.Contains(lineage, listed) {
			return true
		}
	}
	return false
}

// Library holds the terms of every registered document by version.
type Library map[string]Terms

// restricts reports whether a major revision after version changed purpose p
// or one of its ancestors, so that a grant signed under version no longer
// covers p.
func (lib Library) restricts(version string, p Purpose) bool {
	lineage := p.lineage()
	for _, later := range lib.later(version) {
		if later.Revision != RevisionMajor {
			continue
		}
		for _, changed := range later.ChangedPurposes {
			if slices.Contains(lineage, changed) {
				return true
			}
		}
	}
	return false
}

// Revised returns the purposes of the given tiers that major revisions
// after version changed, which a grant under version does not cover, and
// the newest revision of version. Both are empty when nothing revised it.
func (lib Library) Revised(version string, tiers []string) (changed []string, newest string) {
	later := lib.later(version)
	for _, t := range later {
		if t.Supersedes != "" && len(lib.later(t.Version)) == 0 {
			newest = t.Version
		}
		if t.Revision != RevisionMajor {
			continue
		}
		for _, p := range t.ChangedPurposes {
			tier, err := TierFor(p)
			if err == nil && slices.Contains(tiers, tier) && !slices.Contains(changed, p) {
				changed = append(changed, p)
			}
		}
	}
	slices.Sort(changed)
	return changed, newest
}

// later returns the documents that revise version, directly or through
// other revisions.
func (lib Library) later(version string) []Terms {
	var out []Terms
	seen := map[string]bool{version: true}
	frontier := []string{version}
	for len(frontier) > 0 {
		var next []string
		for _, t := range lib {
			if slices.Contains(frontier, t.Supersedes) && !seen[t.Version] {
				seen[t.Version] = true
				out = append(out, t)
				next = append(next, t.Version)
			}
		}
		frontier = next
	}
	return out
}
