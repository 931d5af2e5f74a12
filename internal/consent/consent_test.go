package consent

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

// lib holds an initial document v1 offering everything.
var lib = Library{"v1": {Version: "v1", Revision: RevisionInitial, Tiers: Tiers, Modalities: []string{"video", "voice", "sensor", "pressure"}}}

func grant(id, decision, tier, modality, signed, from string, until string) Record {
	r := Record{ID: id, Participant: "p-1", Action: ActionGrant, Decision: decision, Document: "v1",
		Tiers: []string{tier}, Modalities: []string{modality}, SignedAt: date(signed), From: date(from), Method: "written"}
	if until != "" {
		r.Until = ptr(date(until))
	}
	return r
}

// C1: a grant for 2024 no longer permits a release built in 2025, although
// nothing was withdrawn.
func TestDecideExpiredGrant(t *testing.T) {
	records := []Record{grant("a", Permit, "commercial", "sensor", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")}
	if got := Decide(records, lib, "commercial", "sensor", date("2024-06-01T00:00:00Z")); !got.Permitted() {
		t.Errorf("inside the period: %v, want permit", got)
	}
	if got := Decide(records, lib, "commercial", "sensor", date("2025-03-01T00:00:00Z")); got.Permitted() {
		t.Errorf("after the period: %v, want deny", got)
	}
}

// C2: a later, time-boxed deny overrides an open permit only while it lasts.
func TestDecideTimeBoxedDeny(t *testing.T) {
	records := []Record{
		grant("A", Permit, "research", "pressure", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z"),
		grant("B", Deny, "research", "pressure", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2035-01-01T00:00:00Z"),
	}
	if got := Decide(records, lib, "research", "pressure", date("2032-06-01T00:00:00Z")); got.Permitted() || got.Basis[0] != "B" {
		t.Errorf("2032: %+v, want deny by B", got)
	}
	if got := Decide(records, lib, "research", "pressure", date("2036-06-01T00:00:00Z")); !got.Permitted() {
		t.Errorf("2036: %+v, want permit", got)
	}
	// Before B was signed, only A counts.
	if got := Decide(records, lib, "research", "pressure", date("2029-06-01T00:00:00Z")); !got.Permitted() {
		t.Errorf("2029: %+v, want permit", got)
	}
}

// C5: one narrower deny among permits decides its modality only, whatever
// the order the records were signed in.
func TestDecideDenyNeverLost(t *testing.T) {
	wide := func(id, signed string) Record {
		r := grant(id, Permit, "research", "voice", signed, "2024-01-01T00:00:00Z", "")
		r.Modalities = []string{"voice", "sensor", "pressure", "video"}
		return r
	}
	orders := [][]Record{
		{wide("p1", "2024-01-01T00:00:00Z"), wide("p2", "2024-02-01T00:00:00Z"), grant("d", Deny, "research", "voice", "2024-03-01T00:00:00Z", "2024-01-01T00:00:00Z", "")},
		{grant("d", Deny, "research", "voice", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", ""), wide("p1", "2024-02-01T00:00:00Z"), wide("p2", "2024-03-01T00:00:00Z")},
	}
	at := date("2025-01-01T00:00:00Z")
	for i, records := range orders {
		if got := Decide(records, lib, "research", "voice", at); got.Permitted() {
			t.Errorf("order %d, voice: %+v, want deny", i, got)
		}
		for _, m := range []string{"sensor", "pressure", "video"} {
			if got := Decide(records, lib, "research", m, at); !got.Permitted() {
				t.Errorf("order %d, %s: %+v, want permit", i, m, got)
			}
		}
	}
}

// C6: a withdrawal at 10:00:00 excludes the participant at 10:00:01.
func TestDecideWithdrawalIsImmediate(t *testing.T) {
	g := grant("g", Permit, "commercial", "pressure", "2025-01-01T09:00:00Z", "2025-01-01T09:00:00Z", "")
	w := Record{ID: "w", Participant: "p-1", Action: ActionWithdraw, Tiers: []string{"commercial"}, Modalities: []string{"pressure"},
		SignedAt: date("2025-01-01T10:00:00Z"), From: date("2025-01-01T10:00:00Z"), Method: "electronic"}
	records := []Record{g, w}
	if got := Decide(records, lib, "commercial", "pressure", date("2025-01-01T09:59:59Z")); !got.Permitted() {
		t.Errorf("before: %+v, want permit", got)
	}
	if got := Decide(records, lib, "commercial", "pressure", date("2025-01-01T10:00:00Z")); got.Permitted() {
		t.Errorf("at the withdrawal: %+v, want deny", got)
	}
	if got := Decide(records, lib, "commercial", "pressure", date("2025-01-01T10:00:01Z")); got.Permitted() {
		t.Errorf("one second after: %+v, want deny", got)
	}
}

func TestDecideGrantAfterWithdrawal(t *testing.T) {
	records := []Record{
		grant("g1", Permit, "research", "sensor", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", ""),
		{ID: "w", Action: ActionWithdraw, Tiers: []string{"research"}, Modalities: []string{"sensor"},
			SignedAt: date("2025-02-01T00:00:00Z"), From: date("2025-02-01T00:00:00Z")},
		grant("g2", Permit, "research", "sensor", "2025-03-01T00:00:00Z", "2025-03-01T00:00:00Z", ""),
	}
	if got := Decide(records, lib, "research", "sensor", date("2025-02-15T00:00:00Z")); got.Permitted() {
		t.Errorf("between withdrawal and new grant: %+v, want deny", got)
	}
	if got := Decide(records, lib, "research", "sensor", date("2025-03-15T00:00:00Z")); !got.Permitted() || got.Basis[0] != "g2" {
		t.Errorf("after the new grant: %+v, want permit by g2", got)
	}
}

func TestDecideNarrowWithdrawal(t *testing.T) {
	g := grant("g", Permit, "research", "pressure", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	g.Tiers = []string{"research", "commercial"}
	w := Record{ID: "w", Action: ActionWithdraw, Tiers: []string{"commercial"}, Modalities: []string{"pressure"},
		SignedAt: date("2025-02-01T00:00:00Z"), From: date("2025-02-01T00:00:00Z")}
	at := date("2025-03-01T00:00:00Z")
	if got := Decide([]Record{g, w}, lib, "commercial", "pressure", at); got.Permitted() {
		t.Errorf("withdrawn tier: %+v, want deny", got)
	}
	if got := Decide([]Record{g, w}, lib, "research", "pressure", at); !got.Permitted() {
		t.Errorf("kept tier: %+v, want permit", got)
	}
}

func TestDecideNoRecordDenies(t *testing.T) {
	if got := Decide(nil, lib, "research", "voice", time.Now()); got.Permitted() || len(got.Basis) != 0 {
		t.Errorf("empty history: %+v, want deny without basis", got)
	}
}

func TestDecideIgnoresRecordsSignedLater(t *testing.T) {
	// A grant backdated to start in January but signed in March does not
	// permit use in February.
	records := []Record{grant("g", Permit, "research", "voice", "2025-03-01T00:00:00Z", "2025-01-01T00:00:00Z", "")}
	if got := Decide(records, lib, "research", "voice", date("2025-02-01T00:00:00Z")); got.Permitted() {
		t.Errorf("%+v, want deny", got)
	}
}

func TestExplainReasons(t *testing.T) {
	at := date("2025-06-01T00:00:00Z")
	g := grant("g", Permit, "research", "voice", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
	if got := Explain([]Record{g}, lib, "research", "voice", at); got != ReasonExpired {
		t.Errorf("expired grant: %q", got)
	}
	if got := Explain(nil, lib, "research", "voice", at); got != ReasonNoConsent {
		t.Errorf("no records: %q", got)
	}
	if got := Explain([]Record{g}, lib, "commercial", "voice", date("2024-06-01T00:00:00Z")); got != ReasonNotGranted {
		t.Errorf("other tier: %q", got)
	}
	open := grant("o", Permit, "research", "voice", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "")
	w := Record{ID: "w", Action: ActionWithdraw, Tiers: []string{"research"}, Modalities: []string{"voice"},
		SignedAt: date("2025-02-01T00:00:00Z"), From: date("2025-02-01T00:00:00Z")}
	if got := Explain([]Record{open, w}, lib, "research", "voice", at); got != ReasonWithdrawn {
		t.Errorf("withdrawn: %q", got)
	}
	if got := Explain([]Record{open}, lib, "research", "voice", at); got != "" {
		t.Errorf("permitted: %q", got)
	}
}

// C8: a major revision that adds licensing to third parties stops that use
// for participants who signed only the earlier version; a minor revision
// changes nothing.
func TestDecideMajorRevision(t *testing.T) {
	docs := Library{
		"v1": {Version: "v1", Revision: RevisionInitial},
		"v2": {Version: "v2", Revision: RevisionMajor, Supersedes: "v1", ChangedPurposes: []string{"commercial.third-party"}, ThirdPartyTransfer: true},
		"v3": {Version: "v3", Revision: RevisionMinor, Supersedes: "v2"},
	}
	underV1 := grant("g1", Permit, "commercial", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	at := date("2025-06-01T00:00:00Z")
	if got := Decide([]Record{underV1}, docs, "commercial.third-party", "voice", at); got.Permitted() {
		t.Errorf("third-party licensing under v1 only: %+v, want deny", got)
	}
	if got := Explain([]Record{underV1}, docs, "commercial.third-party", "voice", at); got != ReasonNewDocument {
		t.Errorf("reason %q", got)
	}
	// Plain commercial use did not change, and neither did its other children.
	for _, purpose := range []string{"commercial", "commercial.product"} {
		if got := Decide([]Record{underV1}, docs, purpose, "voice", at); !got.Permitted() {
			t.Errorf("%s under v1: %+v, want permit", purpose, got)
		}
	}
	underV2 := underV1
	underV2.ID, underV2.Document = "g2", "v2"
	underV2.SignedAt = date("2025-05-01T00:00:00Z")
	if got := Decide([]Record{underV1, underV2}, docs, "commercial.third-party", "voice", at); !got.Permitted() || got.Basis[0] != "g2" {
		t.Errorf("after signing v2: %+v, want permit by g2", got)
	}
	// v3 is a minor revision after v2: it restricts nothing.
	if got := Decide([]Record{underV2}, docs, "commercial.third-party", "voice", at); !got.Permitted() {
		t.Errorf("v2 grant with minor v3 published: %+v, want permit", got)
	}
}

// A grant permits only what its form describes: a form without
// thirdPartyTransfer never permits licensing to third parties, and a form
// that lists purposes permits those and their sub-purposes only.
func TestDecideDocumentScope(t *testing.T) {
	docs := Library{
		"v1":    {Version: "v1", Revision: RevisionInitial},
		"open":  {Version: "open", Revision: RevisionInitial, ThirdPartyTransfer: true},
		"rehab": {Version: "rehab", Revision: RevisionInitial, Purposes: []string{"research.health"}},
	}
	at := date("2025-06-01T00:00:00Z")
	g := grant("g1", Permit, "commercial", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	if got := Decide([]Record{g}, docs, "commercial.third-party", "voice", at); got.Permitted() {
		t.Errorf("third-party licensing under a form that does not allow it: %+v, want deny", got)
	}
	if got := Explain([]Record{g}, docs, "commercial.third-party", "voice", at); got != ReasonNotInDocument {
		t.Errorf("reason %q, want %q", got, ReasonNotInDocument)
	}
	if got := Decide([]Record{g}, docs, "commercial.product", "voice", at); !got.Permitted() {
		t.Errorf("commercial.product under v1: %+v, want permit", got)
	}
	g.Document = "open"
	if got := Decide([]Record{g}, docs, "commercial.third-party", "voice", at); !got.Permitted() {
		t.Errorf("third-party licensing under a form that allows it: %+v, want permit", got)
	}
	r := grant("g2", Permit, "research", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	r.Document = "rehab"
	for purpose, want := range map[string]bool{"research.health": true, "research.rehabilitation": true, "research": false} {
		if got := Decide([]Record{r}, docs, purpose, "voice", at); got.Permitted() != want {
			t.Errorf("%s under a form listing research.health: %+v, want permitted %v", purpose, got, want)
		}
	}
}

func TestDecideMajorRevisionOfParentPurpose(t *testing.T) {
	docs := Library{
		"v1": {Version: "v1", Revision: RevisionInitial},
		"v2": {Version: "v2", Revision: RevisionMajor, Supersedes: "v1", ChangedPurposes: []string{"commercial"}},
	}
	g := grant("g1", Permit, "commercial", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	if got := Decide([]Record{g}, docs, "commercial.third-party", "voice", date("2025-06-01T00:00:00Z")); got.Permitted() {
		t.Errorf("child of a changed purpose: %+v, want deny", got)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	g := grant("g1", Permit, "research", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	at := date("2025-06-01T00:00:00Z")
	for _, purpose := range []string{"", "marketing", "RESEARCH"} {
		if got := Decide([]Record{g}, lib, purpose, "voice", at); got.Permitted() {
			t.Errorf("purpose %q: %+v, want deny", purpose, got)
		}
	}
	if got := Explain([]Record{g}, lib, "marketing", "voice", at); got != ReasonUnknownPurpose {
		t.Errorf("reason %q", got)
	}
	// A grant under a document the registry does not know permits nothing.
	g.Document = "v9"
	if got := Decide([]Record{g}, lib, "research", "voice", at); got.Permitted() {
		t.Errorf("unknown document: %+v, want deny", got)
	}
}

func TestDecidePurposeHierarchy(t *testing.T) {
	g := grant("g1", Permit, "research", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	at := date("2025-06-01T00:00:00Z")
	for _, purpose := range []string{"research", "research.health", "research.rehabilitation"} {
		if got := Decide([]Record{g}, lib, purpose, "voice", at); !got.Permitted() {
			t.Errorf("%s under a research grant: %+v, want permit", purpose, got)
		}
	}
	for _, purpose := range []string{"commercial", "commercial.third-party", "clinical"} {
		if got := Decide([]Record{g}, lib, purpose, "voice", at); got.Permitted() {
			t.Errorf("%s under a research grant: %+v, want deny", purpose, got)
		}
	}
}

func guardianGrant(assent, majority string) Record {
	g := grant("gg", Permit, "research", "sensor", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "")
	g.Grantor, g.Assent, g.MajorityMonth = GrantorGuardian, assent, majority
	return g
}

func TestDecideMinorComesOfAge(t *testing.T) {
	g := guardianGrant(AssentGiven, "2026-03")
	if got := Decide([]Record{g}, lib, "research", "sensor", date("2026-02-28T23:59:59Z")); !got.Permitted() {
		t.Errorf("before majority: %+v, want permit", got)
	}
	at := date("2026-03-01T00:00:00Z")
	if got := Decide([]Record{g}, lib, "research", "sensor", at); got.Permitted() {
		t.Errorf("at majority: %+v, want deny", got)
	}
	if got := Explain([]Record{g}, lib, "research", "sensor", at); got != ReasonMajority {
		t.Errorf("reason %q", got)
	}
	adult := grant("ga", Permit, "research", "sensor", "2026-04-01T00:00:00Z", "2026-04-01T00:00:00Z", "")
	if got := Decide([]Record{g, adult}, lib, "research", "sensor", date("2026-05-01T00:00:00Z")); !got.Permitted() || got.Basis[0] != "ga" {
		t.Errorf("after confirming as an adult: %+v, want permit by ga", got)
	}
}

func TestDecideRefusedAssent(t *testing.T) {
	g := guardianGrant(AssentRefused, "2030-01")
	if got := Decide([]Record{g}, lib, "research", "sensor", date("2025-01-01T00:00:00Z")); got.Permitted() {
		t.Errorf("refused assent: %+v, want deny", got)
	}
}

func TestDecideInvalidationIsRetroactive(t *testing.T) {
	g := grant("g1", Permit, "research", "voice", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "")
	void := Record{ID: "x1", Participant: "p-1", Action: ActionInvalidate, Voids: "g1", Authority: "ethics board",
		SignedAt: date("2025-06-01T00:00:00Z"), From: date("2025-06-01T00:00:00Z")}
	// A decision for a time before the invalidation was recorded is denied
	// too: the record never counted.
	if got := Decide([]Record{g, void}, lib, "research", "voice", date("2024-06-01T00:00:00Z")); got.Permitted() {
		t.Errorf("past use after invalidation: %+v, want deny", got)
	}
	if got := Explain([]Record{g, void}, lib, "research", "voice", date("2025-07-01T00:00:00Z")); got != ReasonInvalidated {
		t.Errorf("reason %q", got)
	}
}

func TestDocumentValidation(t *testing.T) {
	base := `version: v2
title: Consent for rehabilitation recordings
language: en
summary: You choose how your recordings are used.
text: Full text.
tiers: [research, commercial]
modalities: [voice]
retentionYears: 10
`
	cases := map[string]string{
		"major without purposes":     base + "revision: major\nsupersedes: v1\n",
		"minor with purposes":        base + "revision: minor\nsupersedes: v1\nchangedPurposes: [commercial]\n",
		"unknown purpose":            base + "revision: major\nsupersedes: v1\nchangedPurposes: [marketing]\n",
		"unknown field":              base + "revision: initial\nboxes: 3\n",
		"unknown tier":               strings.Replace(base, "research, commercial", "research, advertising", 1) + "revision: initial\n",
		"initial superseding":        base + "revision: initial\nsupersedes: v1\n",
		"third party not allowed":    base + "revision: initial\npurposes: [commercial.third-party]\n",
		"purpose of another tier":    base + "revision: initial\npurposes: [clinical]\n",
		"tier listed twice":          strings.Replace(base, "research, commercial", "research, research", 1) + "revision: initial\n",
		"third party, no commercial": strings.Replace(base, "research, commercial", "research", 1) + "revision: initial\nthirdPartyTransfer: true\n",
		"JSON with trailing data":    `{"version": "v2", "title": "t", "summary": "s", "text": "x", "tiers": ["research"], "modalities": ["voice"], "revision": "initial"} {"version": "v3"}`,
		"JSON field twice":           `{"version": "v2", "title": "t", "summary": "s", "text": "x", "tiers": ["research"], "modalities": ["voice"], "revision": "initial", "tiers": ["commercial"]}`,
	}
	for name, doc := range cases {
		if _, err := ParseDocument([]byte(doc), "doc.yaml"); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "doc.yaml") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	bom := "\ufeff" + `{"version": "v2", "title": "t", "summary": "s", "text": "x", "tiers": ["research"], "modalities": ["voice"], "revision": "initial"}`
	if _, err := ParseDocument([]byte(bom), "doc.json"); err != nil {
		t.Errorf("JSON with a byte order mark: %v", err)
	}
	d, err := ParseDocument([]byte(base+"revision: major\nsupersedes: v1\nchangedPurposes: [commercial.third-party]\n"), "doc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Terms().Digest != d.Digest() || len(d.Digest()) != 71 {
		t.Fatalf("digest %q", d.Digest())
	}
}

func TestDUOCodes(t *testing.T) {
	for _, p := range Purposes() {
		for _, code := range p.DUO {
			if _, err := LookupDUO(code); err != nil {
				t.Errorf("purpose %s: %v", p.Code, err)
			}
		}
	}
	if _, err := LookupDUO("DUO:9999999"); err == nil {
		t.Error("unknown DUO code accepted")
	}
}

func TestDefaultDocumentParses(t *testing.T) {
	d := DefaultDocument()
	if d.Version != "v1" || len(d.Tiers) != 3 || len(d.Modalities) != 4 || d.Revision != RevisionInitial {
		t.Fatalf("default document %+v", d.Terms())
	}
}

func TestValidateRejectsMethodAndRepeats(t *testing.T) {
	modalities := []string{"video", "voice", "sensor", "pressure"}
	ok := grant("c-1", Permit, "research", "voice", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	if err := ok.Validate(modalities); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		change func(*Record)
		want   string
	}{
		"unknown method":          {func(r *Record) { r.Method = "paper" }, `invalid method "paper"`},
		"empty method":            {func(r *Record) { r.Method = "" }, "invalid method"},
		"verbal without witness":  {func(r *Record) { r.Method = MethodVerbalWitnessed }, "--witness"},
		"tier twice":              {func(r *Record) { r.Tiers = []string{"research", "research"} }, "tier research is given twice"},
		"modality twice":          {func(r *Record) { r.Modalities = []string{"voice", "video", "voice"} }, "modality voice is given twice"},
		"guardian, nothing else":  {func(r *Record) { r.Grantor = GrantorGuardian }, "needs --majority with the month the participant comes of age, such as 2031-04, and --assent"},
		"guardian without assent": {func(r *Record) { r.Grantor, r.MajorityMonth = GrantorGuardian, "2031-04" }, "a guardian's grant needs --assent"},
		"period ends at start":    {func(r *Record) { u := r.From; r.Until = &u }, "give an --until after the start"},
	}
	for name, c := range cases {
		r := ok
		c.change(&r)
		if err := r.Validate(modalities); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	witnessed := ok
	witnessed.Method, witnessed.Witness = MethodVerbalWitnessed, "nurse B. Okafor"
	if err := witnessed.Validate(modalities); err != nil {
		t.Errorf("witnessed verbal consent: %v", err)
	}
}

func TestLibraryRevised(t *testing.T) {
	lib := Library{
		"v1": {Version: "v1", Revision: RevisionInitial},
		"v2": {Version: "v2", Revision: RevisionMajor, Supersedes: "v1", ChangedPurposes: []string{"commercial.product"}},
		"v3": {Version: "v3", Revision: RevisionMinor, Supersedes: "v2"},
		"v4": {Version: "v4", Revision: RevisionMajor, Supersedes: "v3", ChangedPurposes: []string{"research.health", "clinical"}},
	}
	changed, newest := lib.Revised("v1", []string{"research", "commercial"})
	if want := []string{"commercial.product", "research.health"}; !slices.Equal(changed, want) {
		t.Errorf("changed %v, want %v", changed, want)
	}
	if newest != "v4" {
		t.Errorf("newest %q, want v4", newest)
	}
	changed, newest = lib.Revised("v4", []string{"research"})
	if changed != nil || newest != "" {
		t.Errorf("newest form: changed %v, newest %q", changed, newest)
	}
	if changed, _ := lib.Revised("v3", []string{"clinical"}); !slices.Equal(changed, []string{"clinical"}) {
		t.Errorf("v3 clinical: changed %v", changed)
	}
}

func TestDocumentRepeatedPurposeRejected(t *testing.T) {
	d := DefaultDocument()
	d.Version, d.Revision, d.Supersedes = "v2", RevisionMajor, "v1"
	d.ChangedPurposes = []string{"research", "research"}
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "listed twice in changedPurposes") {
		t.Errorf("changedPurposes with research twice: %v", err)
	}
}
