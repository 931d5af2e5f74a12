package main

import (
	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

func newSampleCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sample",
		Short: "Record the outcome of samples' data checks",
		Long: `Record whether samples passed their data checks, such as a review of signal
quality. A sample's per-sample payment is posted once it passed and its
participant's consent for its modality is in force in any tier, and voided
if it is rejected. A rejected sample never enters a release, and a
rejection is final.

Samples are named by id (s-...) or by their collector's own id.`,
	}
	cmd.AddCommand(newSampleCheckCommand(g, event.CheckPassed), newSampleCheckCommand(g, event.CheckRejected))
	return cmd
}

func newSampleCheckCommand(g *globals, outcome string) *cobra.Command {
	var reason string
	use, short, example := "pass SAMPLE...", "Record that samples passed their data checks", "  steward sample pass s-d465e2a6116404a98928"
	if outcome == event.CheckRejected {
		use, short = "reject SAMPLE...", "Record that samples failed their data checks"
		example = `  steward sample reject s-d465e2a6116404a98928 --reason "signal clipped"`
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			results, err := r.CheckSamples(cmd.Context(), args, outcome, reason)
			if err != nil {
				return err
			}
			for _, res := range results {
				printCheck(cmd, res)
			}
			return nil
		},
	}
	if outcome == event.CheckRejected {
		cmd.Flags().StringVar(&reason, "reason", "", "why the samples failed, one line; it is logged, so it must describe the recording and never name anyone (required)")
		_ = cmd.MarkFlagRequired("reason")
	}
	return cmd
}

func printCheck(cmd *cobra.Command, res registry.CheckResult) {
	what := res.Outcome
	if !res.Changed {
		what = "already " + res.Outcome
	}
	switch res.Payment {
	case "":
		printf(cmd, "%s %s; no payment: no compensation policy was in force\n", res.Sample, what)
	default:
		printf(cmd, "%s %s; payment of %s %s\n", res.Sample, what, ledger.FormatAmount(res.Amount, res.Currency), res.Payment)
	}
}
