package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// compensation is the set of operations that the policy, sample, ledger,
// revenue, payee, payout and statement commands call, on the local
// registry or, with --server, on a server's API. Both return the
// registry's types, so one printer serves both.
type compensation interface {
	Policies(ctx context.Context) ([]storage.StoredPolicy, error)
	PolicyByRef(ctx context.Context, ref string) (storage.StoredPolicy, error)
	CheckSamples(ctx context.Context, refs []string, outcome, reason string) ([]registry.CheckResult, error)
	Accounts(ctx context.Context) ([]ledger.Account, error)
	VerifyLedger(ctx context.Context) (*registry.LedgerReport, error)
	Transfer(ctx context.Context, req registry.TransferRequest) (ledger.Transfer, bool, error)
	SettlePending(ctx context.Context) (int, error)
	RecordRevenue(ctx context.Context, req registry.RevenueRequest) (*registry.RevenueResult, error)
	SetPayee(ctx context.Context, ref string, in registry.PayeeInput) (storage.Payee, error)
	ErasePayee(ctx context.Context, ref string) (string, error)
	CreatePayoutBatch(ctx context.Context, spec registry.PayoutSpec) (*registry.PayoutResult, error)
	Batches(ctx context.Context) ([]storage.PayoutBatch, map[string][]storage.PayoutPayment, error)
	Statement(ctx context.Context, ref string) (*registry.Statement, error)
}

var (
	_ compensation = (*registry.Registry)(nil)
	_ compensation = (*client.Client)(nil)
)

// compensation returns the server's client with --server, else the local
// registry.
func (g *globals) compensation(cmd *cobra.Command) (compensation, error) {
	c, err := g.remote()
	if err != nil || c != nil {
		return c, err
	}
	return g.open(cmd)
}
