package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/importer"
	"github.com/steward-rehab/steward/internal/registry"
)

func newImportCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FORMAT DIR",
		Short: "Import a public dataset folder: gaitpdb, wfdb or bids",
		Long: `Import every recording and participant of a dataset folder.

  gaitpdb  PhysioNet Gait in Parkinson's Disease: walk files and demographics.txt
  wfdb     WFDB records listed in RECORDS, such as PhysioNet gaitndd, with
           subject-description.txt when present
  bids     a Motion-BIDS dataset: participants.tsv and motion recordings

Known quirks of each source are handled and listed; anything that cannot be
read rejects the whole import and leaves the registry unchanged. Importing
the same folder again registers nothing new. With --server, the folder is
uploaded as a tar archive and imported there.`,
	}
	for _, f := range []struct {
		name, short string
		read        func(string) (*registry.Batch, *importer.Report, error)
	}{
		{"gaitpdb", "Import PhysioNet gaitpdb (foot-pressure walks and demographics)", importer.GaitPDB},
		{"wfdb", "Import WFDB records listed in RECORDS (such as PhysioNet gaitndd)", importer.WFDB},
		{"bids", "Import a Motion-BIDS dataset", importer.BIDS},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   f.name + " DIR",
			Short: f.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := g.remote()
				if err != nil {
					return err
				}
				if c != nil {
					return remoteRegister(cmd, func(ctx context.Context) (*client.ImportResult, error) { return c.Import(ctx, f.name, args[0]) })
				}
				batch, rep, err := f.read(args[0])
				if err != nil {
					return err
				}
				return registerBatch(cmd, g, batch, rep)
			},
		})
	}
	return cmd
}

// registerBatch registers what an importer read and prints the outcome.
func registerBatch(cmd *cobra.Command, g *globals, batch *registry.Batch, rep *importer.Report) error {
	if rep != nil {
		for _, n := range rep.Notes {
			verb := "note"
			if n.Skipped {
				verb = "skipped"
			}
			printf(cmd, "%s: %s: %s\n", verb, n.Where, n.Text)
		}
	}
	r, err := g.open(cmd)
	if err != nil {
		return err
	}
	res, err := r.Register(cmd.Context(), batch)
	if err != nil {
		return err
	}
	out := &client.ImportResult{Erased: res.Erased, ParticipantsCreated: res.ParticipantsCreated, ParticipantsUpdated: res.ParticipantsUpdated}
	for _, s := range res.Samples {
		out.Samples = append(out.Samples, client.RegisteredSample{Where: s.Where, Sample: s.Sample, Participant: s.Participant,
			Digest: s.Digest, EventIndex: s.EventIndex, Duplicate: s.Duplicate, Differs: s.Differs})
	}
	printRegistered(cmd, out)
	return nil
}

// printRegistered prints what an import registered, left out and found
// registered before, the same for a local registry and a server.
func printRegistered(cmd *cobra.Command, res *client.ImportResult) {
	fresh, dup := 0, 0
	for _, s := range res.Samples {
		if s.Duplicate {
			dup++
			printf(cmd, "already registered %s (%s) as %s of %s at log index %d\n", s.Where, short(s.Digest), s.Sample, s.Participant, s.EventIndex)
			if len(s.Differs) > 0 {
				printf(cmd, "note: %s: same content as %s, registered before with other values of %s; the first registration's values are kept\n",
					s.Where, s.Sample, strings.Join(s.Differs, ", "))
			}
			continue
		}
		fresh++
		printf(cmd, "registered %s (%s) as %s of %s at log index %d\n", s.Where, short(s.Digest), s.Sample, s.Participant, s.EventIndex)
	}
	for _, where := range res.Erased {
		printf(cmd, "skipped: %s: its participant asked to be erased; it is not registered again\n", where)
	}
	printf(cmd, "%d samples registered, %d already present; %d participants created, %d updated\n",
		fresh, dup, res.ParticipantsCreated, res.ParticipantsUpdated)
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
