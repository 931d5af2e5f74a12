package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

func newStatementCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "statement PARTICIPANT",
		Short: "List what a participant was paid, for what, under which policy, and their balance",
		Long: `List every payment to or from a participant in log order: per-sample payments
with their sample and state (pending, posted or voided), per-use payments
with their release, royalties with their revenue record, payouts with their
batch (returned if the bank rejected them), and adjustments. The sums at the
end reconcile with the ledger's account to the minor unit.

PARTICIPANT is a source id or a pseudonym.`,
		Example: `  steward statement GaPt03`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			st, err := r.Statement(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printf(cmd, "statement of participant %s\n", st.Participant)
			if len(st.Currencies) == 0 {
				printf(cmd, "  no payments\n")
			}
			for _, cs := range st.Currencies {
				printCurrencyStatement(cmd, cs)
			}
			return nil
		},
	}
}

func printCurrencyStatement(cmd *cobra.Command, cs registry.CurrencyStatement) {
	amount := func(v int64) string { return ledger.FormatDecimal(v, cs.Currency) }
	printf(cmd, "\n%s\n", cs.Currency)
	for _, l := range cs.Lines {
		t := l.Transfer
		state := l.State
		if !l.DecidedAt.IsZero() {
			state += " " + l.DecidedAt.Format(time.DateOnly)
		}
		if l.Reason != "" {
			state += " (" + l.Reason + ")"
		}
		var extra []string
		if t.Policy != "" {
			extra = append(extra, "policy "+t.Policy)
		}
		for _, d := range t.Detail {
			extra = append(extra, fmt.Sprintf("%s %s", d.Name, amount(d.Amount)))
		}
		printf(cmd, "  %s  %12s  %-22s %s", t.At.Format(time.DateOnly), amount(l.Amount), state, l.Describe())
		if len(extra) > 0 {
			printf(cmd, "  [%s]", strings.Join(extra, ", "))
		}
		printf(cmd, "  log index %d\n", t.EventIndex)
	}
	a := cs.Account
	printf(cmd, "  earned %s, paid out %s, balance %s (available %s); pending %s\n",
		amount(cs.Earned), amount(cs.PaidOut), amount(a.Balance()), amount(a.Available()), amount(cs.Pending))
	if len(cs.Policies()) > 0 {
		printf(cmd, "  paid under %s\n", strings.Join(cs.Policies(), ", "))
	}
	if !cs.Reconciles() {
		printf(cmd, "  warning: the lines do not add up to the ledger's account %s: run steward ledger verify\n", a.ID)
	}
}
