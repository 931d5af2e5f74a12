package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/registry"
)

// globals are the flags every subcommand shares.
type globals struct {
	dir      string
	db       string
	blobs    string
	logLevel string
	// server, when set, makes commands call that steward serve with the
	// token in STEWARD_TOKEN instead of opening a local registry.
	server string
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "steward",
		Short: "Register rehabilitation recordings with provenance and consent in a verifiable log",
		Long: `Steward records where every recording came from, what its participant allowed
and what they were paid, in a tamper-evident Merkle log. It builds
consent-checked dataset releases that anyone can verify offline with the
registry's public key.

The registry lives in $STEWARD_DIR (default ./steward-data).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.dir, "dir", envOr("STEWARD_DIR", "steward-data"), "registry folder (env STEWARD_DIR)")
	pf.StringVar(&g.db, "db", os.Getenv("STEWARD_DB"), "database URL overriding steward.json: sqlite:///path or postgres://... (env STEWARD_DB)")
	pf.StringVar(&g.blobs, "blobs", os.Getenv("STEWARD_BLOBS"), "blob store URL overriding steward.json: file:///path or s3://bucket?... (env STEWARD_BLOBS)")
	pf.StringVar(&g.server, "server", os.Getenv("STEWARD_SERVER"), "URL of a steward serve to run the command against, with the token in STEWARD_TOKEN (env STEWARD_SERVER)")
	pf.StringVar(&g.logLevel, "log-level", envOr("STEWARD_LOG_LEVEL", "warn"), "log level: debug, info, warn or error")

	root.AddCommand(
		newInitCommand(g),
		newImportCommand(g),
		newIngestCommand(g),
		newConsentCommand(g),
		newReleaseCommand(g),
		newVerifyCommand(),
		newLogCommand(g),
		newGCCommand(g),
		newMigrateCommand(g),
		newBackupCommand(g), newRestoreCommand(g),
		newDemoCommand(g),
		newPurposesCommand(),
		newEraseCommand(g),
		newServeCommand(g),
		newTokenCommand(g),
		newParticipantCommand(g),
		newPolicyCommand(g),
		newSampleCommand(g),
		newLedgerCommand(g),
		newRevenueCommand(g),
		newStatementCommand(g),
		newPayoutCommand(g),
		newPayeeCommand(g),
	)
	return root
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func (g *globals) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func (g *globals) options(cmd *cobra.Command) registry.Options {
	return registry.Options{Database: g.db, Blobs: g.blobs, Logger: g.logger(cmd.ErrOrStderr())}
}

// open opens the registry for a command and closes it when the command
// ends. It fails with --server, because a command that can run against a
// server calls g.remote first and opens the local registry only without
// one. A command that reaches here with --server works on local files only.
func (g *globals) open(cmd *cobra.Command) (*registry.Registry, error) {
	if err := g.rejectServer(cmd); err != nil {
		return nil, err
	}
	r, err := registry.Open(cmd.Context(), g.dir, g.options(cmd))
	if err != nil {
		return nil, err
	}
	cobra.OnFinalize(func() { r.Close() })
	return r, nil
}

// rejectServer fails when --server (or STEWARD_SERVER) is set, for a
// command that works on the registry's files on this machine, such as
// init, backup or restore. Without the check, such a command would quietly
// use the local folder in --dir while the user meant the server's.
func (g *globals) rejectServer(cmd *cobra.Command) error {
	if g.server == "" {
		return nil
	}
	return withHint(fmt.Errorf("%s works on a registry folder on this machine and cannot run through --server %s", cmd.CommandPath(), g.server),
		"run it on the machine that holds the registry, without --server, and unset STEWARD_SERVER if it is set")
}

// remote returns the client of --server, or nil when commands run on the
// local registry.
func (g *globals) remote() (*client.Client, error) {
	if g.server == "" {
		return nil, nil
	}
	return client.New(g.server, os.Getenv("STEWARD_TOKEN"))
}

func printf(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.OutOrStdout(), format, args...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
