package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/importer"
)

func newIngestCommand(g *globals) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "ingest MANIFEST",
		Short: "Register the recordings listed in a CSV or JSON Lines manifest",
		Long: `Register one sample per manifest row. A JSON Lines row looks like:

  {"path":"walks/w1.wav","participant":"P017","modality":"voice","format":"wav",
   "samplingRate":16000,"collectorId":"site-a/slp-2","device":{"model":"H5","firmware":"2.1"},
   "capturedAt":"2025-05-01T10:00:00Z","protocol":"sustained-vowel",
   "labelSchemaVersion":"1","consentVersion":"v1"}

CSV uses the same names as columns, with device.model style for nested
fields. Paths are relative to the manifest and may not leave its folder:
the row above belongs to a manifest that sits beside the folder walks. The
schema is schemas/sample.schema.json; a field given twice, or a value with
control, bidirectional or zero-width characters, is rejected. consentVersion
names a registered consent document (steward consent document list). The
sampling rate in a WAV or WFDB header must equal the declared one; one
estimated from a tabular file's time column may be off by 1 %. Declared
channels are checked too, and empty files are rejected.

Every row is checked before anything is registered: one bad row rejects the
whole manifest and leaves the registry unchanged. Content registered before
returns the original sample, with a note naming the declared fields whose
values differ from the original's, which are kept.

With --server, the manifest is checked here, then it and its recordings are
uploaded as a tar archive; a steward token registers into its organisation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteRegister(cmd, func(ctx context.Context) (*client.ImportResult, error) { return c.Ingest(ctx, args[0], namespace) })
			}
			batch, rep, err := importer.Manifest(args[0], namespace)
			if err != nil {
				return err
			}
			return registerBatch(cmd, g, batch, rep)
		},
	}
	cmd.Flags().StringVar(&namespace, "namespace", "", "namespace of the manifest's participant ids (default: find an existing participant anywhere, create new ones in \"manifest\")")
	return cmd
}
