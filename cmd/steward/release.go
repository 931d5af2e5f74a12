package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

func newReleaseCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build, export and list consent-checked dataset releases",
	}
	cmd.AddCommand(newReleaseBuildCommand(g), newReleaseExportCommand(g), newReleaseListCommand(g),
		newReleaseStatusCommand(g), newReleaseAckCommand(g), newReleaseScanCommand(g))
	return cmd
}

func newReleaseBuildCommand(g *globals) *cobra.Command {
	var spec registry.ReleaseSpec
	var until string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build a release of every sample whose consent permits the purpose",
		Long: `Build a release bundle in --out: manifest.json; the licence as licence.json
and as an ODRL 2.2 Offer in licence.jsonld; datasheet.md and datasheet.html;
Croissant metadata in metadata.json; a checkpoint signed at build time; every
registration, consent and document event behind the included samples with
its inclusion proof in log/entries.jsonl; attestation.dsse.json, a signed
in-toto statement over every file; and with --with-data the recordings
under data/.

Only samples whose participant's consent in force at build time permits the
purpose for the sample's modality go in. Give the bundle and log.pub to the
licensee; they check it with steward verify. With --server, the server builds
the release and sends the bundle as a tar archive, which is unpacked in --out.`,
		Example: `  steward release build --purpose commercial --modality pressure --out release-1 --with-data`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if spec.Terms.Until, err = parseTimeFlag("--until", until, true); err != nil {
				return err
			}
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteBuildRelease(cmd, c, spec)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			res, err := r.BuildRelease(cmd.Context(), spec)
			if err != nil {
				return err
			}
			sel := res.Trailer.Selection
			printBuilt(cmd, res.Release, sel.Considered, sel.Excluded, res.Trailer.ExcludedPurposes, res.Checkpoint.Size, spec.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Purpose, "purpose", "", "purpose of use, such as research, research.health, clinical or commercial.third-party (required; see steward purposes)")
	f.StringVar(&spec.Licensee, "licensee", "", "who the release is for; releases of the same purpose, modalities and licensee form a versioned series")
	f.StringSliceVar(&spec.Modalities, "modality", nil, "modalities to include, repeatable or comma-separated (default: all)")
	f.StringVar(&spec.Out, "out", "", "folder to write the bundle to; it must not exist or be empty (required)")
	f.BoolVar(&spec.WithData, "with-data", false, "include the decrypted recordings under data/")
	f.StringVar(&until, "until", "", "end of the licence's permission to use, RFC 3339 or YYYY-MM-DD (default: five years after the build)")
	_ = cmd.MarkFlagRequired("purpose")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newReleaseExportCommand(g *globals) *cobra.Command {
	var out string
	var withData bool
	cmd := &cobra.Command{
		Use:   "export RELEASE",
		Short: "Write the bundle of a logged release again, with proofs against the newest checkpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				if err := c.ExportRelease(cmd.Context(), args[0], out, withData); err != nil {
					return err
				}
				printf(cmd, "bundle of %s written to %s\n", args[0], out)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			if err := r.ExportRelease(cmd.Context(), args[0], out, withData); err != nil {
				return err
			}
			printf(cmd, "bundle of %s written to %s\n", args[0], out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "folder to write the bundle to (required)")
	cmd.Flags().BoolVar(&withData, "with-data", false, "include the decrypted recordings under data/")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newReleaseListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List logged releases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteListReleases(cmd, c)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			return r.Store().View(cmd.Context(), func(tx storage.ReadTx) error {
				return tx.Releases(cmd.Context(), func(rel storage.Release) error {
					printf(cmd, "%s  v%-7s %s  %-22s %-22s %d samples  log index %d\n", rel.ID, rel.Version, rel.BuiltAt.Format(time.RFC3339),
						rel.Purpose, strings.Join(rel.Modalities, ","), rel.SampleCount, rel.EventIndex)
					return nil
				})
			})
		},
	}
}

// printBuilt reports a release build, local or through a server.
func printBuilt(cmd *cobra.Command, rel storage.Release, considered int, excluded map[string]int, purposes []string, checkpoint uint64, out string) {
	printf(cmd, "release %s version %s: %d of %d samples for %s use of %s\n", rel.ID, rel.Version,
		rel.SampleCount, considered, rel.Purpose, strings.Join(rel.Modalities, ", "))
	if rel.Replaces != "" {
		printf(cmd, "  replaces %s\n", rel.Replaces)
	}
	for _, reason := range sortedKeys(excluded) {
		printf(cmd, "  left out %d: %s\n", excluded[reason], reason)
	}
	if rel.SampleCount == 0 {
		printf(cmd, "  the release holds no samples: licensees learn that none may be used\n")
	}
	for _, p := range purposes {
		printf(cmd, "  licence prohibits %s: the consent of at least one sample does not permit it\n", p)
	}
	printf(cmd, "logged at index %d, checkpoint size %d\nbundle written to %s\n", rel.EventIndex, checkpoint, out)
}
