// Package regobench compares Steward's consent decisions in Go with the same
// rules evaluated by Open Policy Agent. It holds only tests and benchmarks,
// so OPA is never linked into steward.
package regobench

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/steward-rehab/steward/internal/consent"
)

//go:embed consent.rego
var policy string

var modalities = []string{"video", "voice", "sensor", "pressure"}

// library has an initial form v1 and a major revision v2 that changes
// licensing to third parties, so document rules matter in the queries.
var library = consent.Library{
	"v1": {Version: "v1", Revision: consent.RevisionInitial},
	"v2": {Version: "v2", Revision: consent.RevisionMajor, Supersedes: "v1", ChangedPurposes: []string{"commercial.third-party"}, ThirdPartyTransfer: true},
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// history generates a participant's history of 1 to 20 records: grants and
// denies over random periods, withdrawals, guardians' grants and
// invalidations, signed over three years.
func history(rng *rand.Rand, id int) []consent.Record {
	n := 1 + rng.IntN(20)
	var out []consent.Record
	for i := 0; i < n; i++ {
		signed := epoch.Add(time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour))))
		rec := consent.Record{
			ID: fmt.Sprintf("c-%d-%d", id, i), Participant: fmt.Sprintf("p-%d", id), SignedAt: signed, From: signed,
			Tiers: pick(rng, consent.Tiers), Modalities: pick(rng, modalities), Seq: uint64(i),
		}
		switch k := rng.IntN(20); {
		case k < 12:
			rec.Action, rec.Decision, rec.Document = consent.ActionGrant, consent.Permit, []string{"v1", "v2"}[rng.IntN(2)]
			if rng.IntN(3) == 0 {
				until := signed.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
				rec.Until = &until
			}
			if rng.IntN(8) == 0 {
				rec.Grantor, rec.Assent = consent.GrantorGuardian, []string{consent.AssentGiven, consent.AssentRefused}[rng.IntN(2)]
				rec.MajorityMonth = signed.AddDate(rng.IntN(3), 0, 0).Format("2006-01")
			}
		case k < 15:
			rec.Action, rec.Decision, rec.Document = consent.ActionGrant, consent.Deny, "v1"
		case k < 19:
			rec.Action = consent.ActionWithdraw
		default:
			if len(out) == 0 {
				rec.Action, rec.Decision, rec.Document = consent.ActionGrant, consent.Permit, "v1"
				break
			}
			rec.Action, rec.Voids, rec.Authority = consent.ActionInvalidate, out[rng.IntN(len(out))].ID, "ethics board"
		}
		out = append(out, rec)
	}
	return out
}

func pick(rng *rand.Rand, from []string) []string {
	var out []string
	for _, v := range from {
		if rng.IntN(2) == 0 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		out = append(out, from[rng.IntN(len(from))])
	}
	return out
}

// query is one decision to make.
type query struct {
	participant int
	purpose     string
	modality    string
	at          time.Time
}

func queries(rng *rand.Rand, n, participants int) []query {
	purposes := consent.Purposes()
	out := make([]query, n)
	for i := range out {
		out[i] = query{
			participant: rng.IntN(participants),
			purpose:     purposes[rng.IntN(len(purposes))].Code,
			modality:    modalities[rng.IntN(len(modalities))],
			at:          epoch.Add(time.Duration(rng.Int64N(int64(4 * 365 * 24 * time.Hour)))),
		}
	}
	return out
}

// restrictedFor lists, per document version, the purpose codes that a later
// major revision changed: what Library.restricts computes.
func restrictedFor() map[string]any {
	return map[string]any{"v1": []any{"commercial.third-party"}, "v2": []any{}}
}

// recordsValue converts a history to the Rego input form once, outside the
// timed loop, as the Go side also works on parsed records.
func recordsValue(records []consent.Record) []any {
	out := make([]any, len(records))
	for i, r := range records {
		m := map[string]any{
			"id": r.ID, "action": r.Action, "decision": r.Decision, "document": r.Document,
			"tiers": strings(r.Tiers), "modalities": strings(r.Modalities),
			"signedAt": r.SignedAt.UnixNano(), "from": r.From.UnixNano(), "until": int64(0), "seq": int64(r.Seq),
			"grantor": r.Grantor, "assent": r.Assent, "majority": int64(0), "voids": r.Voids,
		}
		if r.Until != nil {
			m["until"] = r.Until.UnixNano()
		}
		if r.MajorityMonth != "" {
			t, _ := time.Parse("2006-01", r.MajorityMonth)
			m["majority"] = t.UnixNano()
		}
		out[i] = m
	}
	return out
}

func strings(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

func purposeData() map[string]any {
	out := map[string]any{}
	for _, p := range consent.Purposes() {
		out[p.Code] = map[string]any{"tier": p.Tier, "lineage": strings(p.Lineage())}
	}
	return out
}

func prepare(b testing.TB) rego.PreparedEvalQuery {
	pq, err := rego.New(
		rego.Query("data.steward.consent.decision"),
		rego.Module("consent.rego", policy),
		rego.Data(map[string]any{"purposes": purposeData()}),
	).PrepareForEval(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return pq
}

// population holds generated histories in both forms.
type population struct {
	records [][]consent.Record
	values  []ast.Value
}

func newPopulation(t testing.TB, participants int) *population {
	rng := rand.New(rand.NewPCG(7, 11))
	p := &population{records: make([][]consent.Record, participants), values: make([]ast.Value, participants)}
	for i := range p.records {
		p.records[i] = history(rng, i)
		v, err := ast.InterfaceToValue(recordsValue(p.records[i]))
		if err != nil {
			t.Fatal(err)
		}
		p.values[i] = v
	}
	return p
}

// evalRego evaluates one query with OPA.
func evalRego(ctx context.Context, pq rego.PreparedEvalQuery, restricted ast.Value, records ast.Value, q query) (string, error) {
	input := ast.NewObject(
		ast.Item(ast.StringTerm("records"), ast.NewTerm(records)),
		ast.Item(ast.StringTerm("purpose"), ast.StringTerm(q.purpose)),
		ast.Item(ast.StringTerm("modality"), ast.StringTerm(q.modality)),
		ast.Item(ast.StringTerm("t"), ast.NewTerm(ast.Number(fmt.Sprint(q.at.UnixNano())))),
		ast.Item(ast.StringTerm("restricted"), ast.NewTerm(restricted)),
	)
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return "", err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return "", fmt.Errorf("unexpected result %v", rs)
	}
	return rs[0].Expressions[0].Value.(string), nil
}

func TestRegoMatchesGo(t *testing.T) {
	ctx := context.Background()
	pop := newPopulation(t, 2000)
	pq := prepare(t)
	restricted := ast.MustInterfaceToValue(restrictedFor())
	permits := 0
	for _, q := range queries(rand.New(rand.NewPCG(3, 5)), 20000, 2000) {
		want := consent.Decide(pop.records[q.participant], library, q.purpose, q.modality, q.at).Decision
		got, err := evalRego(ctx, pq, restricted, pop.values[q.participant], q)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("participant %d, %s, %s at %s: Rego says %s, Go says %s\nrecords: %+v", q.participant, q.purpose, q.modality, q.at, got, want, pop.records[q.participant])
		}
		if want == consent.Permit {
			permits++
		}
	}
	// The population must exercise both outcomes for the comparison to mean anything.
	if permits < 1000 || permits > 19000 {
		t.Fatalf("%d of 20000 queries permitted: the generated histories are too one-sided", permits)
	}
}

const (
	benchParticipants = 100_000
	benchQueries      = 1_000_000
)

// BenchmarkDecisions makes 1,000,000 decisions over 100,000 participants
// with 1 to 20 records each, in Go and with OPA, and reports decisions per
// second. One benchmark iteration is the whole million.
func BenchmarkDecisions(b *testing.B) {
	pop := newPopulation(b, benchParticipants)
	qs := queries(rand.New(rand.NewPCG(3, 5)), benchQueries, benchParticipants)
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			for _, q := range qs {
				consent.Decide(pop.records[q.participant], library, q.purpose, q.modality, q.at)
			}
		}
		b.ReportMetric(float64(b.N*benchQueries)/b.Elapsed().Seconds(), "decisions/s")
	})
	b.Run("opa", func(b *testing.B) {
		ctx := context.Background()
		pq := prepare(b)
		restricted := ast.MustInterfaceToValue(restrictedFor())
		for b.Loop() {
			for _, q := range qs {
				if _, err := evalRego(ctx, pq, restricted, pop.values[q.participant], q); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*benchQueries)/b.Elapsed().Seconds(), "decisions/s")
	})
}
