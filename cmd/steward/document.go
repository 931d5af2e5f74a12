package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/consent"
)

func newDocumentCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "document",
		Short: "Register and list consent documents (versioned consent forms)",
		Long: `Consent documents are versioned forms: a plain-language summary, the full text,
and the choices they offer (tiers by modality, third-party transfer,
derivatives, retention). steward init registers Steward's default form as v1.

A major revision names the purposes it adds or changes: use for those stops
until the participant signs the new version. A minor revision changes wording
only and changes no decision.`,
	}
	cmd.AddCommand(newDocumentAddCommand(g), newDocumentListCommand(g), newDocumentShowCommand(g))
	return cmd
}

func newDocumentAddCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add FILE",
		Short: "Register a consent document from a YAML or JSON file",
		Example: `  steward consent document add consent-v2.yaml

A major revision, in YAML:

  version: v2
  title: Consent to use my rehabilitation recordings
  language: en
  revision: major
  supersedes: v1
  changedPurposes: [commercial.third-party]
  tiers: [research, clinical, commercial]
  modalities: [video, voice, sensor, pressure]
  thirdPartyTransfer: true
  derivatives: true
  retentionYears: 10
  summary: ...
  text: ...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			d, err := consent.ParseDocument(raw, args[0])
			if err != nil {
				return err
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			idx, err := r.AddDocument(cmd.Context(), d)
			if err != nil {
				return err
			}
			printf(cmd, "registered consent document %s (%s revision, %s) at log index %d\n", d.Version, d.Revision, d.Digest(), idx)
			return nil
		},
	}
}

func newDocumentListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered consent documents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			docs, err := r.Documents(cmd.Context())
			if err != nil {
				return err
			}
			for _, sd := range docs {
				d := sd.Document
				line := fmt.Sprintf("%-6s %-7s %s", d.Version, d.Revision, d.Title)
				if d.Supersedes != "" {
					line += " (supersedes " + d.Supersedes
					if len(d.ChangedPurposes) > 0 {
						line += ", changes " + strings.Join(d.ChangedPurposes, ", ")
					}
					line += ")"
				}
				printf(cmd, "%s\n", line)
			}
			return nil
		},
	}
}

func newDocumentShowCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show VERSION",
		Short: "Print a consent document's summary and full text",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			docs, err := r.Documents(cmd.Context())
			if err != nil {
				return err
			}
			for _, sd := range docs {
				if d := sd.Document; d.Version == args[0] {
					printf(cmd, "%s (%s, %s revision, %s)\n\n%s\n%s", d.Title, d.Version, d.Revision, d.Digest(), d.Summary, d.Text)
					return nil
				}
			}
			return fmt.Errorf("no consent document %q: see steward consent document list", args[0])
		},
	}
}
