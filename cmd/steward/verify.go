package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/tlog"
)

func newVerifyCommand() *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Verify a release bundle offline with the registry's public key",
		Long: `Verify a release bundle without the registry: the checkpoint's signature, every
inclusion proof, the manifest against the release event, every document and
data file against its digest, the registry's signed attestation of every file
in the bundle (attestation.dsse.json), and each sample's consent by replaying
the bundled consent history at the build time. When the release states
compensation terms, each sample must carry its posted per-sample payment
and, for a licensed release, the licensee's per-use payment, as events with
inclusion proofs; a sample without them is reported. Exits 1 and names
every failure.`,
		Example: `  steward verify release-1 --key steward-data/log.pub`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return withHint(errors.New("no public key given"), "pass --key with the registry's log.pub, which its steward hands out")
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("read public key: %w", err)
			}
			if strings.HasPrefix(strings.TrimSpace(string(key)), "PRIVATE+KEY+") {
				return fmt.Errorf("--key %s is the registry's private signing key, which must stay secret: pass its public key, log.pub", keyFile)
			}
			if _, err := tlog.NewVerifier(string(key)); err != nil {
				return fmt.Errorf("--key %s is not a log public key: %w; pass the log.pub of the registry that built the release", keyFile, err)
			}
			if err := checkBundleFolder(args[0]); err != nil {
				return err
			}
			rep, err := release.Verify(args[0], string(key))
			if err != nil {
				return err
			}
			printf(cmd, "release %s verified against checkpoint of size %d signed by %s\n", rep.Release, rep.CheckpointSize, rep.Origin)
			printf(cmd, "  %d samples, %d inclusion proofs", rep.Samples, rep.ProofsChecked)
			if rep.DataPresent {
				printf(cmd, ", %d data files\n", rep.FilesChecked)
			} else {
				printf(cmd, "; the bundle carries no data files, only metadata was verified\n")
			}
			printf(cmd, "  attestation signed by %s covers all %d files\n", rep.Origin, rep.Attested)
			printf(cmd, "  %s\n", rep.CompensationSummary())
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the registry's public log key file, log.pub (required)")
	return cmd
}
