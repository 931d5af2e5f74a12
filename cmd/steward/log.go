package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/registry"
)

func newLogCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Verify the log and sign checkpoints",
	}
	cmd.AddCommand(newLogVerifyCommand(g), newLogCheckpointCommand(g))
	return cmd
}

func newLogVerifyCommand(g *globals) *cobra.Command {
	var withContent bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-derive the whole Merkle tree and check every checkpoint ever signed",
		Long: `Hash every stored entry again, rebuild every tree node and compare it with the
stored one, check the signature and root of every checkpoint ever signed,
report two checkpoints of one size with different roots as a fork, and check
that every table row points at the event that created it. With --content,
also read back, decrypt and hash every stored recording.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteVerifyLog(cmd, c, withContent)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			rep, err := r.VerifyLog(cmd.Context())
			if err != nil {
				return err
			}
			if withContent {
				if err := r.VerifyContent(cmd.Context(), rep); err != nil {
					return err
				}
				if len(rep.Problems) > 0 {
					return &registry.LogVerificationError{Report: rep}
				}
			}
			printf(cmd, "log verified: %d entries, %d checkpoints, %d projected rows\n", rep.Size, rep.Checkpoints, rep.Projections)
			if withContent {
				printf(cmd, "every recording reads back with its registered digest\n")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withContent, "content", false, "also decrypt and hash every stored recording")
	return cmd
}

func newLogCheckpointCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign a checkpoint of the current log and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				note, err := c.SignCheckpoint(cmd.Context())
				if err != nil {
					return err
				}
				printf(cmd, "%s", note)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			cp, err := r.Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			printf(cmd, "%s", cp.Note)
			return nil
		},
	}
}

func newGCCommand(g *globals) *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove uploads that killed or failed imports left behind",
		Long: `Remove staged uploads and stored recordings that no sample references. They
are what an import leaves when it is killed or fails after storing files and
before logging them. Objects younger than --grace are kept, because an import
running now may be about to log them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep *registry.GCReport
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				got, err := c.CollectGarbage(cmd.Context(), grace)
				if err != nil {
					return err
				}
				rep = &registry.GCReport{Staging: got.Staging, Orphans: got.Orphans, Kept: got.Kept, Examined: got.Examined}
			} else {
				r, err := g.open(cmd)
				if err != nil {
					return err
				}
				if rep, err = r.CollectGarbage(cmd.Context(), grace); err != nil {
					return err
				}
			}
			printf(cmd, "examined %d objects: removed %d staged uploads and %d unreferenced recordings, kept %d younger than %s\n",
				rep.Examined, rep.Staging, rep.Orphans, rep.Kept, grace)
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", time.Hour, "keep unreferenced objects younger than this")
	return cmd
}
