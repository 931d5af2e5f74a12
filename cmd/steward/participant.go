package main

import (
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newParticipantCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "participant",
		Short: "Give participants access to their own pages",
	}
	cmd.AddCommand(newParticipantLinkCommand(g))
	return cmd
}

func newParticipantLinkCommand(g *globals) *cobra.Command {
	var ttl time.Duration
	var baseURL string
	cmd := &cobra.Command{
		Use:   "link PARTICIPANT",
		Short: "Print a single-use sign-in link to a participant's pages",
		Long: `Print a link that signs the participant in to their own pages on steward
serve: their recordings and who received them, their consent (which they can
change), their payments, a copy of their data, and erasure. The link works
once and expires after --expires; opening it shows a sign-in button, so a
mail scanner that fetches the link does not use it up. Send it to the
participant by a channel you trust.

With --server the server makes the link and its address; without, the local
registry makes it and --base-url gives the server's address.`,
		Example: `  steward --server https://steward.example.org participant link GaPt03
  steward participant link GaPt03 --base-url https://steward.example.org --expires 2h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				link, err := c.IssueSignInLink(cmd.Context(), args[0], ttl.String())
				if err != nil {
					return err
				}
				printf(cmd, "%s\n", link.URL)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			issued, err := r.IssueSignInLink(cmd.Context(), args[0], "", ttl)
			if err != nil {
				return err
			}
			printf(cmd, "%s/signin?token=%s\n", strings.TrimRight(baseURL, "/"), url.QueryEscape(issued.Secret))
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "expires", 24*time.Hour, "how long the link stays valid, at most 720h (30 days)")
	cmd.Flags().StringVar(&baseURL, "base-url", envOr("STEWARD_BASE_URL", "http://127.0.0.1:8080"), "address of steward serve that the link starts with (env STEWARD_BASE_URL)")
	return cmd
}
