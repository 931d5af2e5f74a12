package fhirconsent

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// testDocuments returns the default form v1, a major revision v2 that
// changes licensing to third parties, and a minor revision v3 of v2, as
// consent documents and as the library decisions use.
func testDocuments() (map[string]consent.Document, consent.Library, []string) {
	v1 := consent.DefaultDocument()
	v2 := v1
	v2.Version, v2.Revision, v2.Supersedes = "v2", consent.RevisionMajor, "v1"
	v2.ChangedPurposes = []string{"commercial.third-party"}
	v3 := v2
	v3.Version, v3.Revision, v3.Supersedes, v3.ChangedPurposes = "v3", consent.RevisionMinor, "v2", nil
	docs := map[string]consent.Document{"v1": v1, "v2": v2, "v3": v3}
	lib := consent.Library{}
	for v, d := range docs {
		lib[v] = d.Terms()
	}
	return docs, lib, []string{"v1", "v2", "v3"}
}

// historyGen makes random consent histories shaped as the registry makes
// them: records appended in log order, withdrawals signed when recorded,
// invalidations voiding earlier grants, grants signed in the past.
type historyGen struct {
	rnd  *rand.Rand
	base time.Time
}

func (g historyGen) subset(all []string) []string {
	var out []string
	for _, x := range all {
		if g.rnd.IntN(2) == 0 {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		out = []string{all[g.rnd.IntN(len(all))]}
	}
	return out
}

// at returns a time up to about ten years after the base, on whole days
// half of the time so that date-only FHIR values are exercised too.
func (g historyGen) at() time.Time {
	t := g.base.Add(time.Duration(g.rnd.Int64N(int64(10 * 365 * 24 * time.Hour))))
	switch g.rnd.IntN(4) {
	case 0:
		return midnight(t)
	case 1:
		return t.Truncate(time.Second)
	case 2:
		return t.Truncate(time.Millisecond)
	}
	return t
}

func (g historyGen) history(n int) []consent.Record {
	var records []consent.Record
	clock := g.base
	for i := range n {
		clock = clock.Add(time.Duration(1+g.rnd.IntN(400)) * 24 * time.Hour)
		id := fmt.Sprintf("c-%02d", i)
		seq := uint64(10 + i)
		switch kind := g.rnd.IntN(10); {
		case kind < 6:
			r := consent.Record{ID: id, Participant: "p-1", Action: consent.ActionGrant, Decision: consent.Permit,
				Document: []string{"v1", "v2", "v3"}[g.rnd.IntN(3)], Tiers: g.subset(consent.Tiers), Modalities: g.subset(Modalities),
				Method: "written", Seq: seq}
			if g.rnd.IntN(4) == 0 {
				r.Decision = consent.Deny
			}
			r.SignedAt = g.at()
			if r.SignedAt.After(clock) {
				r.SignedAt = clock
			}
			r.From = r.SignedAt
			if g.rnd.IntN(3) == 0 {
				r.From = g.at()
			}
			if g.rnd.IntN(2) == 0 {
				u := r.From.Add(time.Duration(1+g.rnd.Int64N(int64(5*365*24*time.Hour))) + time.Nanosecond)
				if g.rnd.IntN(2) == 0 {
					u = midnight(u).AddDate(0, 0, 1)
				}
				r.Until = &u
			}
			if g.rnd.IntN(4) == 0 {
				r.Grantor = consent.GrantorGuardian
				r.Assent = []string{consent.AssentGiven, consent.AssentRefused, consent.AssentNotApplicable}[g.rnd.IntN(3)]
				r.MajorityMonth = g.at().Format("2006-01")
			}
			if g.rnd.IntN(3) == 0 {
				r.Witness = "staff-7"
			}
			records = append(records, r)
		case kind < 9:
			r := consent.Record{ID: id, Participant: "p-1", Action: consent.ActionWithdraw, Tiers: g.subset(consent.Tiers),
				Modalities: g.subset(Modalities), SignedAt: clock, From: clock, Method: "written", Seq: seq}
			if g.rnd.IntN(3) == 0 {
				r.From = g.at()
			}
			records = append(records, r)
		default:
			var grants []string
			for _, r := range records {
				if r.Action == consent.ActionGrant {
					if _, voided := invalidatedBy(records, r); !voided {
						grants = append(grants, r.ID)
					}
				}
			}
			if len(grants) == 0 {
				continue
			}
			records = append(records, consent.Record{ID: id, Participant: "p-1", Action: consent.ActionInvalidate,
				Voids: grants[g.rnd.IntN(len(grants))], Authority: "ethics board", Reason: "signed without capacity",
				SignedAt: clock, From: clock, Method: "written", Tiers: []string{}, Modalities: []string{}, Seq: seq})
		}
	}
	return records
}

func testHistory(records []consent.Record) *History {
	docs, lib, _ := testDocuments()
	h := &History{Participant: "p-1", Origin: "steward.test/log", Records: records, Library: lib, Documents: docs, Events: map[uint64]Event{}}
	for _, r := range records {
		typ := "consent.granted"
		switch r.Action {
		case consent.ActionWithdraw:
			typ = "consent.withdrawn"
		case consent.ActionInvalidate:
			typ = "consent.invalidated"
		}
		h.Events[r.Seq] = Event{Type: typ, Time: r.SignedAt.Add(time.Minute)}
	}
	return h
}

// importRecords parses an export and converts it as the registry would,
// giving the records ids and log indexes.
func importRecords(t *testing.T, out []byte, lib consent.Library, versions []string) []consent.Record {
	t.Helper()
	parsed, err := Parse(out, "")
	if err != nil {
		t.Fatalf("parse export: %v\n%s", err, out)
	}
	records, err := Convert(parsed.Consents, ConvertOptions{Library: lib, Documents: versions, Now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("convert export: %v\n%s", err, out)
	}
	for i := range records {
		records[i].ID, records[i].Participant, records[i].Seq = fmt.Sprintf("i-%d", i), "p-2", uint64(1000+i)
		if err := records[i].Validate(Modalities); err != nil {
			t.Fatalf("imported record %d is invalid: %v: %+v", i, err, records[i])
		}
	}
	return records
}

// probeTimes returns every instant where a decision can change, the
// instants just before and after, and points in between.
func probeTimes(records []consent.Record, rnd *rand.Rand) []time.Time {
	var times []time.Time
	for _, r := range records {
		times = append(times, recordTimes(r)...)
	}
	tl := newTimeline(times)
	var out []time.Time
	for i, p := range tl.points {
		out = append(out, p, p.Add(-time.Nanosecond), p.Add(time.Nanosecond))
		if i+1 < len(tl.points) {
			gap := tl.points[i+1].Sub(p)
			out = append(out, p.Add(gap/2), p.Add(time.Duration(rnd.Int64N(int64(gap)+1))))
		}
	}
	if len(tl.points) > 0 {
		out = append(out, tl.points[len(tl.points)-1].AddDate(30, 0, 0))
	}
	return out
}

func compareDecisions(t *testing.T, original, imported []consent.Record, lib consent.Library, times []time.Time, out []byte) {
	t.Helper()
	for _, at := range times {
		for _, p := range purposeCodes() {
			for _, m := range Modalities {
				want := consent.Decide(original, lib, p, m, at).Decision
				got := consent.Decide(imported, lib, p, m, at).Decision
				if got != want {
					t.Fatalf("%s/%s at %s: imported %s, original %s\noriginal: %s\nimported: %s\nexport:\n%s",
						p, m, at.Format(time.RFC3339Nano), got, want, dump(original), dump(imported), out)
				}
			}
		}
	}
}

func dump(records []consent.Record) string {
	s := ""
	for _, r := range records {
		until := "open"
		if r.Until != nil {
			until = r.Until.Format(time.RFC3339Nano)
		}
		s += fmt.Sprintf("\n  %s #%d %s %s %s %v %v from %s until %s signed %s %s %s %s voids %s",
			r.ID, r.Seq, r.Action, r.Decision, r.Document, r.Tiers, r.Modalities, r.From.Format(time.RFC3339Nano), until,
			r.SignedAt.Format(time.RFC3339Nano), r.Grantor, r.Assent, r.MajorityMonth, r.Voids)
	}
	return s
}

// TestRoundTripGenerated exports generated histories in both releases,
// imports them and compares every decision on a grid of times.
func TestRoundTripGenerated(t *testing.T) {
	_, lib, versions := testDocuments()
	histories := 300
	if testing.Short() {
		histories = 40
	}
	for seed := range histories {
		rnd := rand.New(rand.NewPCG(uint64(seed), 7))
		g := historyGen{rnd: rnd, base: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		records := g.history(1 + rnd.IntN(9))
		if len(records) == 0 {
			continue
		}
		times := probeTimes(records, rnd)
		for _, v := range []Version{R5, R4} {
			out, err := Export(testHistory(records), v)
			if err != nil {
				t.Fatalf("seed %d: export %s: %v", seed, v, err)
			}
			imported := importRecords(t, out, lib, versions)
			compareDecisions(t, records, imported, lib, times, out)
		}
	}
}

// TestExportDeterministic checks that exporting one history twice, with
// its records in another order, gives the same bytes.
func TestExportDeterministic(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	records := historyGen{rnd: rnd, base: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}.history(8)
	for _, v := range []Version{R5, R4} {
		first, err := Export(testHistory(records), v)
		if err != nil {
			t.Fatal(err)
		}
		reversed := slices.Clone(records)
		slices.Reverse(reversed)
		second, err := Export(testHistory(reversed), v)
		if err != nil {
			t.Fatal(err)
		}
		if string(first) != string(second) {
			t.Errorf("%s: two exports of one history differ", v)
		}
	}
}

// TestRoundTripFutureRecords exports generated histories, imports them,
// then adds the same later record to the original and to the import: a
// permit, a deny or a withdrawal, signed after everything. Every decision
// must still agree, so the import behaves as the history did, not only at
// the time of import.
func TestRoundTripFutureRecords(t *testing.T) {
	_, lib, versions := testDocuments()
	histories := 200
	if testing.Short() {
		histories = 30
	}
	for seed := range histories {
		rnd := rand.New(rand.NewPCG(uint64(seed), 11))
		g := historyGen{rnd: rnd, base: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		records := g.history(1 + rnd.IntN(9))
		if len(records) == 0 {
			continue
		}
		for _, v := range []Version{R5, R4} {
			out, err := Export(testHistory(records), v)
			if err != nil {
				t.Fatalf("seed %d: export %s: %v", seed, v, err)
			}
			imported := importRecords(t, out, lib, versions)
			for i := range 3 {
				later := laterRecord(rnd, i)
				original := append(slices.Clone(records), withSeq(later, "later-o", 900))
				again := append(slices.Clone(imported), withSeq(later, "later-i", 5000))
				times := probeTimes(original, rnd)
				compareDecisions(t, original, again, lib, times, out)
			}
		}
	}
}

// laterRecord returns a record signed in 2045, after every generated one:
// a permit, a deny or a withdrawal by kind, whose period may reach back.
func laterRecord(rnd *rand.Rand, kind int) consent.Record {
	signed := time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	from := time.Date(2020+rnd.IntN(30), time.Month(1+rnd.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
	r := consent.Record{Action: consent.ActionGrant, Decision: consent.Permit, Document: "v3", Tiers: slices.Clone(consent.Tiers),
		Modalities: slices.Clone(Modalities), From: from, SignedAt: signed, Method: "written"}
	switch kind {
	case 1:
		r.Decision = consent.Deny
		r.Tiers = []string{consent.Tiers[rnd.IntN(len(consent.Tiers))]}
	case 2:
		r.Action, r.Decision, r.Document = consent.ActionWithdraw, "", ""
		r.Modalities = []string{Modalities[rnd.IntN(len(Modalities))]}
	}
	return r
}

func withSeq(r consent.Record, id string, seq uint64) consent.Record {
	r.ID, r.Seq = id, seq
	return r
}
