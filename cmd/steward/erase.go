package main

import (
	"errors"

	"github.com/spf13/cobra"
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
				for _, n := range res.Notices {
					printf(cmd, "notice %s: release %s must delete %d samples\n", n.ID, n.Release, len(n.Samples))
				}
				printf(cmd, "erased participant %s: %d samples, %d packs rewritten, logged at index %d\n",
					res.Participant, res.Samples, res.PacksRewritten, res.EventIndex)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			rep, err := r.Erase(cmd.Context(), args[0])
			if rep != nil {
				for _, n := range rep.Notices {
					printf(cmd, "notice %s: release %s must delete %d samples\n", n.ID, n.Release, len(n.Samples))
				}
			}
			if err != nil {
				return err
			}
			printf(cmd, "erased participant %s: %d samples, %d packs rewritten, logged at index %d\n",
				rep.Participant, rep.Samples, rep.PacksRewritten, rep.EventIndex)
			return nil
		},
	}
	cmd.Flags().BoolVar(&confirm, "yes", false, "confirm the erasure")
	return cmd
}
