package registry

import (
	"context"
	"fmt"
	"testing"

	"github.com/steward-rehab/steward/internal/ledger"
)

// BenchmarkPostings posts transfers from the clinic account to 1,000
// participant accounts through the registry's posting path: each transfer
// is looked up by idempotency key, logged as an event and stored with its
// balance check, and each transaction signs a checkpoint. batch is the
// number of transfers per transaction; the postings/s metric counts
// transfers.
func BenchmarkPostings(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			r := benchRegistry(b)
			posted := 0
			for b.Loop() {
				requests := make([]ledger.Transfer, batch)
				for i := range requests {
					requests[i] = ledger.Transfer{
						Key: fmt.Sprintf("bench:%d", posted+i), Phase: ledger.PhasePosted, Debit: ledger.Clinic,
						Credit: ledger.ParticipantAccount(fmt.Sprintf("p-%04d", (posted+i)%1000)), Amount: 500, Currency: "EUR",
						Trigger: ledger.TriggerAdjustment,
					}
				}
				err := r.update(ctx, func(ctx context.Context, w *writer) error {
					_, err := r.post(ctx, w, requests)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				posted += batch
			}
			b.ReportMetric(float64(posted)/b.Elapsed().Seconds(), "postings/s")
		})
	}
}
