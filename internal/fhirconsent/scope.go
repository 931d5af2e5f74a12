package fhirconsent

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// timeline is the set of instants at which some decision of a history can
// change. consent.Decide compares the decision time only with the signing
// times, period bounds, withdrawal times and majority months of the
// records, always as t < x or t >= x, so every decision is constant on each
// interval [points[k], points[k+1]) and on [points[last], ∞). Nothing is in
// force before points[0], since no record counts before it is signed.
type timeline struct {
	points []time.Time
}

func newTimeline(times []time.Time) timeline {
	var points []time.Time
	for _, t := range times {
		if !t.IsZero() {
			points = append(points, t.UTC())
		}
	}
	sort.Slice(points, func(i, j int) bool { return points[i].Before(points[j]) })
	points = slices.CompactFunc(points, func(a, b time.Time) bool { return a.Equal(b) })
	return timeline{points: points}
}

// interval returns the span of intervals first..last; the last interval
// has no end.
func (tl timeline) interval(first, last int) Interval {
	iv := Interval{Start: tl.points[first]}
	if last+1 < len(tl.points) {
		iv.End = tl.points[last+1]
	}
	return iv
}

// recordTimes returns the instants at which a record's effect can change.
func recordTimes(r consent.Record) []time.Time {
	times := []time.Time{r.SignedAt, r.From}
	if r.Until != nil {
		times = append(times, *r.Until)
	}
	if r.Grantor == consent.GrantorGuardian {
		if m, err := time.Parse("2006-01", r.MajorityMonth); err == nil {
			times = append(times, m)
		}
	}
	return times
}

// cells holds one boolean per purpose, modality and interval of a
// timeline.
type cells struct {
	n   int
	set map[[2]string][]bool
}

func newCells(n int) cells { return cells{n: n, set: map[[2]string][]bool{}} }

func (c cells) put(purpose, modality string, k int) {
	key := [2]string{purpose, modality}
	if c.set[key] == nil {
		c.set[key] = make([]bool, c.n)
	}
	c.set[key][k] = true
}

func (c cells) get(purpose, modality string, k int) bool {
	row := c.set[[2]string{purpose, modality}]
	return row != nil && row[k]
}

func (c cells) empty() bool { return len(c.set) == 0 }

// box is a product of purposes, modalities and a run of intervals: the
// shape one provision can state.
type box struct {
	purposes    []string
	modalities  []string
	first, last int
}

// boxes covers exactly the true cells inside within (every cell when
// within is nil) with boxes, in a deterministic order: for each maximal run
// of intervals in one tier, the modalities that share the same purposes
// form one box.
func (c cells) boxes(within *box) []box {
	purposes, modalities, first, last := purposeCodes(), Modalities, 0, c.n-1
	if within != nil {
		purposes, modalities, first, last = within.purposes, within.modalities, within.first, within.last
	}

	// runs maps a run of intervals within one tier to the purposes of
	// each modality. Tiers never share a box, so the DUO terms of one
	// provision describe purposes of one tier.
	type runKey struct {
		first, last int
		tier        string
	}
	runs := map[runKey]map[string][]string{}
	for _, m := range modalities {
		for _, p := range purposes {
			for k := first; k <= last; k++ {
				if !c.get(p, m, k) {
					continue
				}
				end := k
				for end+1 <= last && c.get(p, m, end+1) {
					end++
				}
				run := runKey{k, end, tierOf(p)}
				if runs[run] == nil {
					runs[run] = map[string][]string{}
				}
				runs[run][m] = append(runs[run][m], p)
				k = end
			}
		}
	}

	var out []box
	for run, byModality := range runs {
		groups := map[string]*box{}
		for _, m := range modalities {
			ps, ok := byModality[m]
			if !ok {
				continue
			}
			key := strings.Join(ps, ",")
			if groups[key] == nil {
				groups[key] = &box{purposes: ps, first: run.first, last: run.last}
			}
			groups[key].modalities = append(groups[key].modalities, m)
		}
		for _, b := range groups {
			out = append(out, *b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.first != b.first:
			return a.first < b.first
		case a.last != b.last:
			return a.last < b.last
		case purposeIndex(a.purposes[0]) != purposeIndex(b.purposes[0]):
			return purposeIndex(a.purposes[0]) < purposeIndex(b.purposes[0])
		}
		return modalityIndex(a.modalities[0]) < modalityIndex(b.modalities[0])
	})
	return out
}

// effect is what one record contributes to a history's decisions: where it
// counts (scope) and, inside that, where the history decides against the
// record's own decision (exceptions).
type effect struct {
	decision   Decision
	scope      cells
	exceptions cells
}

// effects computes the effect of every grant and withdrawal record.
//
// The scope of a grant comes from consent.Decide itself, run on the history
// without the other grants: the record is in force for a purpose, modality
// and time exactly when it is then the basis of the decision. So the export
// can never drift from the decision rules. A withdrawal's scope is its tiers
// and modalities from the time it takes effect, when it is both signed and
// effective.
func effects(records []consent.Record, lib consent.Library, tl timeline) map[string]*effect {
	final := map[[2]string][]string{}
	for _, p := range purposeCodes() {
		for _, m := range Modalities {
			row := make([]string, len(tl.points))
			for k, t := range tl.points {
				row[k] = consent.Decide(records, lib, p, m, t).Decision
			}
			final[[2]string{p, m}] = row
		}
	}

	out := map[string]*effect{}
	for _, r := range records {
		var e *effect
		switch r.Action {
		case consent.ActionGrant:
			e = grantEffect(records, r, lib, tl)
		case consent.ActionWithdraw:
			e = withdrawalEffect(r, tl)
		default:
			continue
		}
		e.exceptions = newCells(len(tl.points))
		for key, row := range e.scope.set {
			for k, in := range row {
				if in && final[key][k] != string(e.decision) {
					e.exceptions.put(key[0], key[1], k)
				}
			}
		}
		out[r.ID] = e
	}
	return out
}

func grantEffect(records []consent.Record, g consent.Record, lib consent.Library, tl timeline) *effect {
	alone := []consent.Record{g}
	for _, r := range records {
		if r.Action != consent.ActionGrant {
			alone = append(alone, r)
		}
	}
	e := &effect{decision: Decision(g.Decision), scope: newCells(len(tl.points))}
	for _, p := range purposeCodes() {
		for _, m := range Modalities {
			for k, t := range tl.points {
				if slices.Contains(consent.Decide(alone, lib, p, m, t).Basis, g.ID) {
					e.scope.put(p, m, k)
				}
			}
		}
	}
	return e
}

func withdrawalEffect(w consent.Record, tl timeline) *effect {
	start := w.From
	if w.SignedAt.After(start) {
		start = w.SignedAt
	}
	e := &effect{decision: Deny, scope: newCells(len(tl.points))}
	for _, p := range purposeCodes() {
		for _, m := range Modalities {
			if !w.Covers(tierOf(p), m) {
				continue
			}
			for k, t := range tl.points {
				if !t.Before(start) {
					e.scope.put(p, m, k)
				}
			}
		}
	}
	return e
}

// signedBefore orders records as consent.Decide does: by signing time,
// then by log index.
func signedBefore(a, b consent.Record) bool {
	if !a.SignedAt.Equal(b.SignedAt) {
		return a.SignedAt.Before(b.SignedAt)
	}
	return a.Seq < b.Seq
}

// withdrawnEverywhere reports whether withdrawals signed after g cover
// every tier and modality of g.
func withdrawnEverywhere(records []consent.Record, g consent.Record) bool {
	for _, t := range g.Tiers {
		for _, m := range g.Modalities {
			covered := false
			for _, w := range records {
				if w.Action == consent.ActionWithdraw && signedBefore(g, w) && w.Covers(t, m) {
					covered = true
					break
				}
			}
			if !covered {
				return false
			}
		}
	}
	return true
}

// invalidatedBy returns the invalidation that voids g, if any.
func invalidatedBy(records []consent.Record, g consent.Record) (consent.Record, bool) {
	for _, r := range records {
		if r.Action == consent.ActionInvalidate && r.Voids == g.ID {
			return r, true
		}
	}
	return consent.Record{}, false
}
