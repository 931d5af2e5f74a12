package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

func newLedgerCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Check the compensation ledger, list its accounts and post transfers",
		Long: `The ledger records what participants are paid, in double entry: every
transfer moves whole minor units from a debit account to a credit account,
and balances derive from the transfers. Accounts:

  participant:PSEUDONYM  what the registry owes the participant; never negative
  clinic[:NAME]          funds per-sample payments
  licensee:NAME          funds per-use payments and pays licence revenue
  platform               the registry's share of licence revenue
  payable                payments sent to the bank and not returned

Every transfer is an event in the log.`,
	}
	cmd.AddCommand(newLedgerVerifyCommand(g), newLedgerAccountsCommand(g), newLedgerTransferCommand(g), newLedgerSettleCommand(g))
	return cmd
}

func newLedgerVerifyCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check that every transfer balances, the balances match the transfers, and every transfer is in the log",
		Long: `Replay every transfer in log order with an implementation independent of the
database's, checking that each is valid, resolves a pending transfer at most
once and never takes an account that may not go negative below zero. Then
compare the replayed balances with the stored ones, check that each
currency's debits equal its credits, that every transfer is the event the log
holds at its index, that every transfer event has its transfer, and that each
revenue and payout batch adds up. Exits 1 on any problem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			rep, err := r.VerifyLedger(cmd.Context())
			if err != nil {
				return err
			}
			printf(cmd, "ledger verified: %d transfers, %d accounts, %d revenue records, %d payout batches\n", rep.Transfers, rep.Accounts, rep.Revenues, rep.Batches)
			for _, c := range sortedKeys(rep.Totals) {
				printf(cmd, "  %s: debits equal credits, %s posted in all\n", c, ledger.FormatAmount(rep.Totals[c], c))
			}
			return nil
		},
	}
}

func newLedgerAccountsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "accounts",
		Short: "List every account with its posted balance, pending amounts and available balance",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			accounts, err := r.Accounts(cmd.Context())
			if err != nil {
				return err
			}
			printf(cmd, "%-36s %-4s %16s %16s %16s %16s\n", "account", "ccy", "balance", "pending in", "pending out", "available")
			for _, a := range accounts {
				f := func(v int64) string { return ledger.FormatDecimal(v, a.Currency) }
				printf(cmd, "%-36s %-4s %16s %16s %16s %16s\n", a.ID, a.Currency, f(a.Balance()), f(a.CreditsPending), f(a.DebitsPending), f(a.Available()))
			}
			return nil
		},
	}
}

func newLedgerTransferCommand(g *globals) *cobra.Command {
	var req registry.TransferRequest
	var amount string
	cmd := &cobra.Command{
		Use:   "transfer",
		Short: "Post a transfer an operator enters, such as a clinic's deposit or a correction",
		Long: `Post a transfer between two accounts. The amount is in whole minor units of
the currency. --key makes the request idempotent: running it again with the
same key and request returns the first transfer, and the same key with a
different request is rejected and changes nothing. A participant's account
may be named by source id or pseudonym; the log holds the pseudonym. An
account that may not go negative rejects a transfer it cannot cover.`,
		Example: `  steward ledger transfer --from clinic --to participant:GaPt03 --amount 500 --currency EUR --key correction-2026-05-01`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.Amount, err = ledger.ParseMinor(amount); err != nil {
				return fmt.Errorf("--amount: %w", err)
			}
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			t, repeated, err := r.Transfer(cmd.Context(), req)
			switch {
			case registry.IsInsufficientFunds(err):
				return withHint(err, "see the balances with steward ledger accounts")
			case errors.Is(err, ledger.ErrKeyConflict):
				return withHint(err, "a key names one request: use a new --key for a new transfer")
			case err != nil:
				return err
			}
			verb := "posted"
			if repeated {
				verb = "already posted with this key"
			}
			printf(cmd, "transfer %s %s: %s from %s to %s at log index %d\n", t.ID, verb, ledger.FormatAmount(t.Amount, t.Currency), t.Debit, t.Credit, t.EventIndex)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Debit, "from", "", "account to debit, such as clinic or participant:GaPt03 (required)")
	f.StringVar(&req.Credit, "to", "", "account to credit (required)")
	f.StringVar(&amount, "amount", "", "amount in whole minor units, such as 500 for EUR 5.00 (required)")
	f.StringVar(&req.Currency, "currency", "", "ISO 4217 currency code, such as EUR (required)")
	f.StringVar(&req.Key, "key", "", "idempotency key unique to this transfer, such as an invoice number; it is logged (required)")
	for _, name := range []string{"from", "to", "amount", "currency", "key"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newLedgerSettleCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "settle",
		Short: "Post or void pending per-sample payments that time alone has decided",
		Long: `Decide every pending per-sample payment against the data checks and consent
now. Data checks and consent changes decide their own payments at once, so
this is needed only when time alone made a difference, as for consent whose
period has begun since it was recorded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			n, err := r.SettlePending(cmd.Context())
			if err != nil {
				return err
			}
			printf(cmd, "%d pending payments decided\n", n)
			return nil
		},
	}
}
