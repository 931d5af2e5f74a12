package main

import (
	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/registry"
)

func newMigrateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Upgrade the registry database's schema to this steward's version",
		Long: `Apply the schema migrations that the registry database lacks, so that this
steward can open it. Other commands reject a database whose schema is older
than the binary and name this command.

Migrations only go forward: a schema newer than this steward is rejected,
and the fix is to install the newer steward that wrote it. Back the database
up first; on PostgreSQL, concurrent runs wait for each other.`,
		Example: `  steward migrate
  steward migrate --db postgres://steward@db.example/registry`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.rejectServer(cmd); err != nil {
				return err
			}
			m, err := registry.MigrateDatabase(cmd.Context(), g.dir, g.options(cmd))
			if err != nil {
				return err
			}
			if m.From == m.To {
				printf(cmd, "schema of %s is at version %d, the newest this steward supports; nothing to migrate\n", m.Database, m.To)
				return nil
			}
			printf(cmd, "migrated schema of %s from version %d to %d\n", m.Database, m.From, m.To)
			return nil
		},
	}
}
