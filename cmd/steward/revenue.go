package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

func newRevenueCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revenue",
		Short: "Record licence revenue and split the royalty among a release's contributors",
	}
	cmd.AddCommand(newRevenueRecordCommand(g))
	return cmd
}

func newRevenueRecordCommand(g *globals) *cobra.Command {
	var req registry.RevenueRequest
	cmd := &cobra.Command{
		Use:   "record RELEASE AMOUNT",
		Short: "Record licence revenue for a release, in whole minor units",
		Long: `Record revenue a licensee paid for a release and split it in one transaction.
AMOUNT is in whole minor units of the currency of the policy the release's
licence states, such as 9999 for EUR 99.99. The royalty share of that policy,
rounded down to the minor unit, goes to the release's contributors in
proportion to their samples, split by the largest-remainder method: each gets
the whole units of their quota, and the units left over go one each to the
largest remainders, equal remainders in order of pseudonym. The parts always
sum exactly. The rest goes to the platform account.

--reference makes the record idempotent: the same release and reference
record the revenue once.`,
		Example: `  steward revenue record r-4k2m9q7x3w8za 250000 --reference INV-2026-017`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			req.Release = args[0]
			if req.Amount, err = ledger.ParseMinor(args[1]); err != nil {
				return fmt.Errorf("AMOUNT: %w", err)
			}
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			res, err := r.RecordRevenue(cmd.Context(), req)
			if errors.Is(err, ledger.ErrKeyConflict) {
				return withHint(err, "a reference names one payment: use the reference of this payment")
			} else if err != nil {
				return err
			}
			v := res.Revenue
			amount := func(x int64) string { return ledger.FormatAmount(x, v.Currency) }
			verb := "recorded"
			if res.Repeated {
				verb = "recorded before with this reference"
			}
			printf(cmd, "revenue %s %s: %s from %s for release %s under policy %s, logged at index %d\n",
				v.ID, verb, amount(v.Amount), v.Payer, v.Release, v.Policy, v.EventIndex)
			printf(cmd, "  royalty pool %s split among %d contributors\n", amount(v.RoyaltyPool), len(res.Royalties))
			for _, t := range res.Royalties {
				printf(cmd, "    %-36s %s\n", t.Credit, amount(t.Amount))
			}
			printf(cmd, "  platform share %s\n", amount(res.Platform.Amount))
			printUnclaimed(cmd, "the royalties of erased contributors", res.Unclaimed)
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Reference, "reference", "", "the payment's reference, such as the invoice number; it is logged (required)")
	cmd.Flags().StringVar(&req.Payer, "payer", "", "the licensee who paid (default: the release's licensee)")
	_ = cmd.MarkFlagRequired("reference")
	return cmd
}
