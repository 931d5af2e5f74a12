package main

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/registry"
)

func newInitCommand(g *globals) *cobra.Command {
	var origin, keeper string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a registry: database, blob folder, log key and registry key",
		Long: `Create a registry in $STEWARD_DIR (default ./steward-data).

It writes steward.json, the log's signing key (log.key, secret), its public
key (log.pub, give it to anyone who verifies releases), the registry key that
wraps participants' data keys (keeper.key, secret, unless --keeper names a
key management service), the SQLite database and the blob folder, and logs
the first event.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.rejectServer(cmd); err != nil {
				return err
			}
			opts := registry.InitOptions{Options: g.options(cmd), Origin: origin, Keeper: keeper}
			r, err := registry.Init(cmd.Context(), g.dir, opts)
			if err != nil {
				return err
			}
			defer r.Close()
			printf(cmd, "created registry %s in %s\n", r.Origin(), g.dir)
			printf(cmd, "public log key: %s\n", filepath.Join(g.dir, registry.LogPubFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&origin, "origin", "", "log origin named in checkpoints, such as clinic.example/steward (default: steward.local/<random>)")
	cmd.Flags().StringVar(&keeper, "keeper", "", "gocloud.dev/secrets URL of the key that wraps data keys (default: a new local key in keeper.key)")
	return cmd
}
