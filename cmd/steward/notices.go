package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
)

func newReleaseStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status BUNDLE",
		Short: "List the samples of a bundle revoked since it was built",
		Long: `Read a release bundle and ask the registry which of its samples lost their
consent since the bundle was built: the revocation notices, their reasons,
what the licensee must do (delete, or delete and retrain) and who
acknowledged them. Exits 0; the notices are the output.`,
		Example: `  steward release status release-1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, inBundle, digest, err := readBundleSamples(args[0])
			if err != nil {
				return err
			}
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				rel, notices, err := remoteReleaseStatus(cmd, c, h.Release)
				if err != nil {
					return err
				}
				if err := sameManifest(args[0], rel, digest); err != nil {
					return err
				}
				printStatus(cmd, rel, h, inBundle, notices)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			rel, notices, err := r.ReleaseStatus(cmd.Context(), h.Release)
			if err != nil {
				return err
			}
			if err := sameManifest(args[0], rel, digest); err != nil {
				return err
			}
			printStatus(cmd, rel, h, inBundle, notices)
			return nil
		},
	}
}

// readBundleSamples reads a bundle's manifest header and sample ids, and
// returns the manifest's sha256 digest.
func readBundleSamples(dir string) (release.Header, map[string]bool, string, error) {
	if err := checkBundleFolder(dir); err != nil {
		return release.Header{}, nil, "", err
	}
	f, err := os.Open(filepath.Join(dir, release.ManifestFile))
	if err != nil {
		return release.Header{}, nil, "", fmt.Errorf("read bundle: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	ids := map[string]bool{}
	h, _, err := release.DecodeManifest(io.TeeReader(f, sum), func(_ release.Header, s release.Sample) error {
		ids[s.ID] = true
		return nil
	})
	if err != nil {
		return h, nil, "", fmt.Errorf("%s: invalid manifest: %w", filepath.Join(dir, release.ManifestFile), err)
	}
	// The decoder stops at the closing brace, so the rest is hashed here.
	if _, err := io.Copy(sum, f); err != nil {
		return h, nil, "", fmt.Errorf("read bundle: %w", err)
	}
	return h, ids, "sha256:" + hex.EncodeToString(sum.Sum(nil)), nil
}

// sameManifest rejects a bundle whose manifest is not the one the release
// event committed to, because its sample list and build time decide which
// notices concern the holder.
func sameManifest(dir string, rel storage.Release, digest string) error {
	if rel.ManifestDigest == "" || rel.ManifestDigest == digest {
		return nil
	}
	return fmt.Errorf("%s: manifest digest %s differs from the %s that release %s logged: the bundle was modified; export it again with `steward release export %s --out DIR`",
		filepath.Join(dir, release.ManifestFile), digest, rel.ManifestDigest, rel.ID, rel.ID)
}

func printStatus(cmd *cobra.Command, rel storage.Release, h release.Header, inBundle map[string]bool, notices []storage.Notice) {
	// A sample can be in several notices (withdrawn, then invalidated,
	// then erased); it counts once.
	revoked := map[string]bool{}
	for _, n := range notices {
		if !n.IssuedAt.After(h.BuiltAt) {
			continue
		}
		var mine []string
		for _, s := range n.Samples {
			if inBundle[s] {
				mine = append(mine, s)
			}
		}
		if len(mine) == 0 {
			continue
		}
		for _, id := range mine {
			revoked[id] = true
		}
		acked := "not acknowledged"
		if len(n.Acks) > 0 {
			var who []string
			for _, a := range n.Acks {
				who = append(who, a.Licensee+" at "+a.At.Format(time.RFC3339))
			}
			acked = "acknowledged by " + strings.Join(who, ", ")
		}
		printf(cmd, "notice %s (%s, log index %d): %s; %s %d samples: %s; %s\n", n.ID, n.IssuedAt.Format(time.RFC3339), n.EventIndex,
			n.Reason, n.Action, len(mine), strings.Join(mine, ", "), acked)
	}
	printf(cmd, "release %s v%s built %s: %d of %d samples revoked since\n", rel.ID, rel.Version, h.BuiltAt.Format(time.RFC3339), len(revoked), len(inBundle))
}

func newReleaseAckCommand(g *globals) *cobra.Command {
	var licensee string
	cmd := &cobra.Command{
		Use:   "ack NOTICE",
		Short: "Record that a licensee acted on a revocation notice",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				ack, err := c.Acknowledge(cmd.Context(), args[0], licensee)
				if err != nil {
					return err
				}
				printf(cmd, "acknowledgement of %s by %s logged at index %d\n", args[0], ack.Licensee, ack.EventIndex)
				return nil
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			ack, err := r.Acknowledge(cmd.Context(), args[0], licensee)
			if err != nil {
				return err
			}
			printf(cmd, "acknowledgement of %s by %s logged at index %d\n", ack.Notice, ack.Licensee, ack.EventIndex)
			return nil
		},
	}
	cmd.Flags().StringVar(&licensee, "licensee", "", "the licensee acknowledging (required, except with --server and a licensee token)")
	return cmd
}

func newReleaseScanCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "scan",
		Short: "Issue the revocation notices that time made due, such as for expired consent",
		Long: `Check every published release against consent now and issue revocation
notices for samples whose consent expired or whose minor participant came of
age. Withdrawals and invalidations issue their notices when they are
recorded; run this daily, for example from cron.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var notices []storage.Notice
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				scanned, err := c.ScanNotices(cmd.Context())
				if err != nil {
					return err
				}
				for _, n := range scanned {
					notices = append(notices, toStorageNotice(n))
				}
			} else {
				r, err := g.open(cmd)
				if err != nil {
					return err
				}
				if notices, err = r.ScanNotices(cmd.Context()); err != nil {
					return err
				}
			}
			for _, n := range notices {
				printf(cmd, "notice %s: release %s, %s, %s %d samples\n", n.ID, n.Release, n.Reason, n.Action, len(n.Samples))
			}
			printf(cmd, "%d notices issued\n", len(notices))
			return nil
		},
	}
}

// checkBundleFolder reports a path that is not a release bundle folder in
// words a user can act on, before any file in it is opened.
func checkBundleFolder(dir string) error {
	if id, _ := release.Pending(dir); id != "" {
		return fmt.Errorf("%s: the build of release %s stopped before its bundle was written: run `steward release export %s --out %s` to write it", dir, id, id, dir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a release bundle folder: pass the folder steward release build wrote, or write one with steward release export RELEASE --out DIR", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, release.ManifestFile)); err != nil {
		return fmt.Errorf("%s contains no %s, so it is not a release bundle: pass the folder steward release build wrote", dir, release.ManifestFile)
	}
	return nil
}
