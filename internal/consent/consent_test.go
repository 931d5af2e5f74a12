package consent

import (
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
	if got := Decide(records, "commercial", "sensor", date("2024-06-01T00:00:00Z")); !got.Permitted() {
		t.Errorf("inside the period: %v, want permit", got)
	}
	if got := Decide(records, "commercial", "sensor", date("2025-03-01T00:00:00Z")); got.Permitted() {
		t.Errorf("after the period: %v, want deny", got)
	}
}

// C2: a later, time-boxed deny overrides an open permit only while it lasts.
func TestDecideTimeBoxedDeny(t *testing.T) {
	records := []Record{
		grant("A", Permit, "research", "pressure", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z"),
		grant("B", Deny, "research", "pressure", "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2035-01-01T00:00:00Z"),
	}
	if got := Decide(records, "research", "pressure", date("2032-06-01T00:00:00Z")); got.Permitted() || got.Basis[0] != "B" {
		t.Errorf("2032: %+v, want deny by B", got)
	}
	if got := Decide(records, "research", "pressure", date("2036-06-01T00:00:00Z")); !got.Permitted() {
		t.Errorf("2036: %+v, want permit", got)
	}
	// Before B was signed, only A counts.
	if got := Decide(records, "research", "pressure", date("2029-06-01T00:00:00Z")); !got.Permitted() {
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
		if got := Decide(records, "research", "voice", at); got.Permitted() {
			t.Errorf("order %d, voice: %+v, want deny", i, got)
		}
		for _, m := range []string{"sensor", "pressure", "video"} {
			if got := Decide(records, "research", m, at); !got.Permitted() {
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
	if got := Decide(records, "commercial", "pressure", date("2025-01-01T09:59:59Z")); !got.Permitted() {
		t.Errorf("before: %+v, want permit", got)
	}
	if got := Decide(records, "commercial", "pressure", date("2025-01-01T10:00:00Z")); got.Permitted() {
		t.Errorf("at the withdrawal: %+v, want deny", got)
	}
	if got := Decide(records, "commercial", "pressure", date("2025-01-01T10:00:01Z")); got.Permitted() {
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
	if got := Decide(records, "research", "sensor", date("2025-02-15T00:00:00Z")); got.Permitted() {
		t.Errorf("between withdrawal and new grant: %+v, want deny", got)
	}
	if got := Decide(records, "research", "sensor", date("2025-03-15T00:00:00Z")); !got.Permitted() || got.Basis[0] != "g2" {
		t.Errorf("after the new grant: %+v, want permit by g2", got)
	}
}

func TestDecideNarrowWithdrawal(t *testing.T) {
	g := grant("g", Permit, "research", "pressure", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "")
	g.Tiers = []string{"research", "commercial"}
	w := Record{ID: "w", Action: ActionWithdraw, Tiers: []string{"commercial"}, Modalities: []string{"pressure"},
		SignedAt: date("2025-02-01T00:00:00Z"), From: date("2025-02-01T00:00:00Z")}
	at := date("2025-03-01T00:00:00Z")
	if got := Decide([]Record{g, w}, "commercial", "pressure", at); got.Permitted() {
		t.Errorf("withdrawn tier: %+v, want deny", got)
	}
	if got := Decide([]Record{g, w}, "research", "pressure", at); !got.Permitted() {
		t.Errorf("kept tier: %+v, want permit", got)
	}
}

func TestDecideNoRecordDenies(t *testing.T) {
	if got := Decide(nil, "research", "voice", time.Now()); got.Permitted() || len(got.Basis) != 0 {
		t.Errorf("empty history: %+v, want deny without basis", got)
	}
}

func TestDecideIgnoresRecordsSignedLater(t *testing.T) {
	// A grant backdated to start in January but signed in March does not
	// permit use in February.
	records := []Record{grant("g", Permit, "research", "voice", "2025-03-01T00:00:00Z", "2025-01-01T00:00:00Z", "")}
	if got := Decide(records, "research", "voice", date("2025-02-01T00:00:00Z")); got.Permitted() {
		t.Errorf("%+v, want deny", got)
	}
}

func TestExplainReasons(t *testing.T) {
	at := date("2025-06-01T00:00:00Z")
	g := grant("g", Permit, "research", "voice", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
	if got := Explain([]Record{g}, "research", "voice", at); got != ReasonExpired {
		t.Errorf("expired grant: %q", got)
	}
	if got := Explain(nil, "research", "voice", at); got != ReasonNoConsent {
		t.Errorf("no records: %q", got)
	}
	if got := Explain([]Record{g}, "commercial", "voice", date("2024-06-01T00:00:00Z")); got != ReasonNotGranted {
		t.Errorf("other tier: %q", got)
	}
	open := grant("o", Permit, "research", "voice", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "")
	w := Record{ID: "w", Action: ActionWithdraw, Tiers: []string{"research"}, Modalities: []string{"voice"},
		SignedAt: date("2025-02-01T00:00:00Z"), From: date("2025-02-01T00:00:00Z")}
	if got := Explain([]Record{open, w}, "research", "voice", at); got != ReasonWithdrawn {
		t.Errorf("withdrawn: %q", got)
	}
	if got := Explain([]Record{open}, "research", "voice", at); got != "" {
		t.Errorf("permitted: %q", got)
	}
}
