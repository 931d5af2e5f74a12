package release

import (
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// Coverage finds the purposes narrower than a release's purpose that the
// consent behind some included sample does not permit. A grant still
// permits a broad purpose after a major revision of its form changed a
// narrower one. The release for the broad purpose then includes the
// sample, so its licence must prohibit the narrower use.
type Coverage struct {
	lib      consent.Library
	at       time.Time
	narrower []consent.Purpose
	excluded map[string]bool

	// seen records the modalities of the current participant already
	// decided. The decision depends on nothing else, and samples arrive
	// grouped by participant.
	participant string
	seen        map[string]bool
}

// NewCoverage returns a Coverage for purpose, deciding with the document
// terms lib at time at.
func NewCoverage(purpose consent.Purpose, lib consent.Library, at time.Time) *Coverage {
	return &Coverage{lib: lib, at: at, narrower: purpose.Narrower(), excluded: map[string]bool{}, seen: map[string]bool{}}
}

// Add takes one included sample with its participant's consent history.
func (c *Coverage) Add(participant, modality string, records []consent.Record) {
	if participant != c.participant {
		c.participant = participant
		clear(c.seen)
	}
	if c.seen[modality] {
		return
	}
	c.seen[modality] = true
	for _, p := range c.narrower {
		if c.excluded[p.Code] {
			continue
		}
		if !consent.Decide(records, c.lib, p.Code, modality, c.at).Permitted() {
			c.excluded[p.Code] = true
		}
	}
}

// Excluded returns the codes of the narrower purposes that at least one
// sample's consent does not permit, in hierarchy order, or nil.
func (c *Coverage) Excluded() []string {
	var out []string
	for _, p := range c.narrower {
		if c.excluded[p.Code] {
			out = append(out, p.Code)
		}
	}
	return out
}
