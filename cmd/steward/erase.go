package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

func newEraseCommand(g *globals) *cobra.Command {
	var confirm bool
	cmd := &cobra.Command{
		Use:   "erase PARTICIPANT",
		Short: "Erase a participant at their request: recordings, data key and identifiers",
		Long: `Carry out a participant's request to be forgotten. Steward sends a revocation
notice to every release that holds their samples, destroys their data key
(which makes every copy of their recordings unreadable, backups included),
clears their source id, demographics and the file names of their samples,
and deletes their recordings from the blob store, rewriting shared packs.
In the same transaction it revokes their API tokens, sign-in links and
sessions.

The registry can no longer pay an erased participant, because their bank
details are deleted with the rest. So the erasure voids their pending
payments and moves their balance to the ledger's unclaimed account, and
later credits to them (royalties of earlier releases, payouts the bank
returns) go there too. To pay what is owed first, run steward statement and
steward payout export before erasing.

The log keeps the participant's pseudonym and the digests of their samples
and consent, never their identity, so every earlier checkpoint, proof and
release bundle stays verifiable. This cannot be undone.`,
		Example: `  steward erase GaPt03 --yes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !confirm {
				return withHint(errors.New("erasure cannot be undone and needs confirmation"), "run again with --yes")
			}
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				res, err := c.Erase(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				rep := &registry.ErasureReport{Participant: res.Participant, Samples: res.Samples, EventIndex: res.EventIndex,
					PacksRewritten: res.PacksRewritten, TokensRevoked: res.TokensRevoked, PaymentsVoided: res.PaymentsVoided, Unclaimed: res.Unclaimed}
				for _, n := range res.Notices {
					rep.Notices = append(rep.Notices, toStorageNotice(n))
				}
				printErasure(cmd, rep)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			// A report with an error means the erasure committed but removing
			// the recordings failed: the report is still true.
			rep, err := r.Erase(cmd.Context(), args[0])
			if rep != nil {
				printErasure(cmd, rep)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&confirm, "yes", false, "confirm the erasure")
	return cmd
}

// printErasure prints what an erasure did.
func printErasure(cmd *cobra.Command, rep *registry.ErasureReport) {
	for _, n := range rep.Notices {
		printf(cmd, "notice %s: release %s must delete %d samples\n", n.ID, n.Release, len(n.Samples))
	}
	printf(cmd, "revoked %d tokens, sign-in links and sessions; voided %d pending payments\n", rep.TokensRevoked, rep.PaymentsVoided)
	for _, t := range rep.Unclaimed {
		printf(cmd, "moved %s owed to the participant to the unclaimed account by transfer %s at log index %d\n",
			ledger.FormatAmount(t.Amount, t.Currency), t.ID, t.EventIndex)
	}
	printf(cmd, "erased participant %s: %d samples, %d packs rewritten, logged at index %d\n",
		rep.Participant, rep.Samples, rep.PacksRewritten, rep.EventIndex)
}
