package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/storage"
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
		Long: `Register a consent document from a YAML or JSON file. Its fields:

  version             letters, digits, dots, dashes or underscores, such as v2
  title, summary, text, language
  tiers, modalities   the choices the form offers
  purposes            optional: the purposes it covers (and their sub-purposes);
                      empty means every purpose of its tiers
  thirdPartyTransfer  whether the data may be licensed to other organisations
                      (commercial.third-party); false denies that use
  derivatives, retentionYears
                      recorded with the form; decisions and releases do not
                      read them yet
  revision            initial, major or minor; a revision names the version it
                      supersedes, and a major one the purposes it changes
                      (changedPurposes)
  effective           optional first day (YYYY-MM-DD) the form could be signed;
                      grants signed earlier under it are rejected

Unknown fields and fields given twice are rejected.`,
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
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				added, err := c.AddDocument(cmd.Context(), raw, strings.HasSuffix(args[0], ".json"))
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				printf(cmd, "registered consent document %s (%s revision, %s) at log index %d\n", added.Version, added.Revision, added.Digest, added.EventIndex)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			idx, err := r.AddDocument(cmd.Context(), d)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
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
			docs, err := g.documents(cmd)
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
			docs, err := g.documents(cmd)
			if err != nil {
				return err
			}
			if d, ok := consentDocument(docs, args[0]); ok {
				printf(cmd, "%s (%s, %s revision, %s)\n\n%s\n%s", d.Title, d.Version, d.Revision, d.Digest(), d.Summary, d.Text)
				return nil
			}
			return fmt.Errorf("no consent document %q: see steward consent document list", args[0])
		},
	}
}

// documents lists the registered consent documents, from the server with
// --server, else from the local registry.
func (g *globals) documents(cmd *cobra.Command) ([]storage.ConsentDocument, error) {
	c, err := g.remote()
	if err != nil {
		return nil, err
	}
	if c != nil {
		return remoteDocuments(cmd, c)
	}
	r, err := g.open(cmd)
	if err != nil {
		return nil, err
	}
	return r.Documents(cmd.Context())
}
