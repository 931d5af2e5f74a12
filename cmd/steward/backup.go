package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/registry"
)

func newBackupCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "backup DIR",
		Short: "Write a consistent copy of the registry to a new folder while it stays in use",
		Long: `Copy the registry in $STEWARD_DIR to DIR, which must be new or empty: the
database as one consistent snapshot (SQLite's VACUUM INTO), then the blob
folder, steward.json, log.pub, log.key, keeper.key and erasure.key. Other
processes may keep importing meanwhile: every recording the copied database
references is in the copy, and recordings stored after the snapshot are copied
unreferenced.

The backup holds the log's signing key and the registry key, so keep it as
secret as the registry. It copies the embedded default (SQLite and a local
blob folder); back up PostgreSQL and S3 with their own tools.

Restore it with: steward restore DIR NEW-REGISTRY-DIR`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.rejectServer(cmd); err != nil {
				return err
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			m, err := r.Backup(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printf(cmd, "backed up registry %s to %s: %d log entries, %d samples, %d releases, %d blob files (%d bytes)\n",
				m.Origin, args[0], m.LogSize, m.Samples, m.Releases, m.Objects, m.Bytes)
			printf(cmd, "latest checkpoint:\n%s", m.Checkpoint)
			if len(m.Missing) > 0 {
				warnMissing(cmd, m)
			}
			return nil
		},
	}
}

// warnMissing lists the objects that the registry lacked when it was backed
// up, which the backup lacks too.
func warnMissing(cmd *cobra.Command, m *registry.BackupManifest) {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "warning: the registry lacks %d object(s) that its database references, so the backup lacks them too:\n", len(m.Missing))
	for _, key := range m.Missing {
		fmt.Fprintf(w, "  %s\n", key)
	}
	fmt.Fprintln(w, "hint: steward log verify --content lists the samples whose recordings are missing")
}

func newRestoreCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore BACKUP DIR",
		Short: "Create a registry folder from a backup",
		Long: `Create a registry in DIR, which must be new or empty, from a folder that
steward backup wrote. Then open it, verify its whole log, check that every
recording and release document is present and that the latest checkpoint is
the one the backup recorded. If any check fails, DIR is removed again.

Use the restored registry with --dir DIR or STEWARD_DIR=DIR. To also decrypt
and hash every recording, run: steward --dir DIR log verify --content`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.rejectServer(cmd); err != nil {
				return err
			}
			backup, dir := args[0], args[1]
			m, err := registry.Restore(cmd.Context(), backup, dir, g.logger(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			printf(cmd, "restored registry %s in %s from the backup of %s: %d log entries, %d samples, %d releases\n",
				m.Origin, dir, m.CreatedAt.Format("2006-01-02 15:04:05 MST"), m.LogSize, m.Samples, m.Releases)
			printf(cmd, "latest checkpoint:\n%s", m.Checkpoint)
			if len(m.Missing) > 0 {
				warnMissing(cmd, m)
			}
			printf(cmd, "check every recording with: steward --dir %s log verify --content\n", filepath.Clean(dir))
			return nil
		},
	}
}
