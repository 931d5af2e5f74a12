package consent

import (
	"testing"
	"time"
)

// BenchmarkDecideHistory decides one query over a history of 20 records:
// grants, a deny, withdrawals and an invalidation.
func BenchmarkDecideHistory(b *testing.B) {
	docs := Library{
		"v1": {Version: "v1", Revision: RevisionInitial},
		"v2": {Version: "v2", Revision: RevisionMajor, Supersedes: "v1", ChangedPurposes: []string{"commercial.third-party"}, ThirdPartyTransfer: true},
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var records []Record
	for i := 0; i < 20; i++ {
		at := start.Add(time.Duration(i) * 24 * time.Hour)
		r := Record{ID: string(rune('a' + i)), Action: ActionGrant, Decision: Permit, Document: "v1",
			Tiers: []string{"research", "commercial"}, Modalities: []string{"voice", "sensor"}, SignedAt: at, From: at, Seq: uint64(i)}
		switch i % 5 {
		case 3:
			r.Action, r.Decision, r.Document = ActionWithdraw, "", ""
		case 4:
			r.Decision = Deny
			r.Modalities = []string{"video"}
		}
		records = append(records, r)
	}
	at := start.AddDate(0, 2, 0)
	for b.Loop() {
		Decide(records, docs, "commercial.third-party", "voice", at)
	}
}
