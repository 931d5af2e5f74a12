package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/fhirconsent"
	"github.com/steward-rehab/steward/internal/registry"
)

func newConsentExportCommand(g *globals) *cobra.Command {
	var version, out string
	cmd := &cobra.Command{
		Use:   "export PARTICIPANT",
		Short: "Write a participant's consent history as FHIR Consent and Provenance resources",
		Long: `Write a participant's whole consent history as a FHIR Bundle (type collection):
one Consent per grant and withdrawal and one Provenance per record, naming the
log entry of its event. Invalidated grants have status entered-in-error and a
Provenance that nullifies them; withdrawn ones end where the withdrawal took
effect. The participant appears only by pseudonym.

Purposes use the code system ` + fhirconsent.SystemPurpose + `
with their GA4GH DUO terms, and modalities the code system
` + fhirconsent.SystemModality + `
in provision.documentType (R5) or provision.class (R4). The same history always
gives the same bytes.`,
		Example: `  steward consent export GaPt03 --out gapt03-consent.json
  steward consent export p-4k2m9q7x3w8za --fhir r4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := fhirconsent.ParseVersion(version)
			if err != nil {
				return fmt.Errorf("invalid --fhir: %w", err)
			}
			raw, err := g.exportConsentFHIR(cmd, args[0], v)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(raw)
				return err
			}
			if err := writeFileReplacing(out, raw); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (FHIR %s)\n", out, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "fhir", "r5", "FHIR release to write: r5 or r4")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	return cmd
}

// writeFileReplacing writes data to a temporary file beside path and
// renames it over path, so a failed write leaves no partial file.
func writeFileReplacing(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newConsentImportCommand(g *globals) *cobra.Command {
	var opts registry.ImportOptions
	var version string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Record consent from FHIR Consent resources (R4 or R5)",
		Long: `Read a FHIR Consent resource, or a Bundle of them, in R4 or R5 and record consent
records that decide every purpose, modality and time as the Consents do. A
Consent that a Steward export marks as a withdrawal is recorded as a
withdrawal again, so a grant recorded later applies as it would have in the
history the file came from.

Nested provisions are exceptions to their parent, sibling provisions are
OR-ed, the attributes of one provision AND-ed, and periods bound them.
Purposes must use the Steward purpose codes (steward purposes lists them),
optionally with the DUO terms of those purposes; modalities go in
documentType (R5) or class (R4). Steward rejects, and records nothing for, a
file with malformed JSON, a resource that is not a Consent, an unknown FHIR
version, unknown purpose, modality or DUO codes, contradictory provisions, a
period that ends before it starts, an element it cannot evaluate (such as
actor or action), or two Consents where one permits and the other denies the
same use at the same time.

The participant is the one the Consents' subject names: by Steward pseudonym,
or by an identifier whose value is a participant's source id. --participant is
for a file whose subject names no participant of this registry, such as an
export of another registry; a file whose subject names another participant
than --participant is rejected. The records join the participant's history.

Importing is idempotent: Consents imported for the participant before, with
the same id and content, are left alone, and one with the same id and other
content is rejected, naming it.`,
		Example: `  steward consent import gapt03-consent.json --participant GaPt03
  steward consent import consent-r4.json --participant P017 --document v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version != "" {
				v, err := fhirconsent.ParseVersion(version)
				if err != nil {
					return fmt.Errorf("invalid --fhir: %w", err)
				}
				opts.Version = v
			}
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteImportConsent(cmd, c, args[0], raw, opts)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			res, err := r.ImportConsent(cmd.Context(), raw, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			printImport(cmd, args[0], res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Participant, "participant", "", "participant to record for, by source id or pseudonym, when the file's subject names nobody in this registry (default: the participant the subject names)")
	f.StringVar(&opts.Document, "document", "", "consent document version for Consents that name none in policyBasis (R5) or policy (R4), such as v1")
	f.StringVar(&version, "fhir", "", "FHIR release of the file, r5 or r4 (default: detected per resource)")
	return cmd
}

// exportConsentFHIR exports a participant's consent as FHIR, from the
// server with --server, else from the local registry.
func (g *globals) exportConsentFHIR(cmd *cobra.Command, ref string, v fhirconsent.Version) ([]byte, error) {
	c, err := g.remote()
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c.ExportConsentFHIR(cmd.Context(), ref, string(v))
	}
	r, err := g.open(cmd)
	if err != nil {
		return nil, err
	}
	return r.ExportConsentFHIR(cmd.Context(), ref, v)
}

// printImport prints what a FHIR import recorded, one record a line, and
// what it left alone.
func printImport(cmd *cobra.Command, file string, res *registry.ImportResult) {
	for _, n := range res.Notes {
		printf(cmd, "note: %s\n", n)
	}
	if len(res.Records) == 0 {
		printf(cmd, "nothing changed: the %d consents of %s were imported for %s before\n", res.Consents, file, res.Participant)
		return
	}
	withdrawals := 0
	for _, rec := range res.Records {
		if rec.Action == consent.ActionWithdraw {
			withdrawals++
		}
	}
	printf(cmd, "imported %d consents of %s as %d grant records and %d withdrawals", res.Consents-len(res.Unchanged), res.Participant,
		len(res.Records)-withdrawals, withdrawals)
	if len(res.Unchanged) > 0 {
		printf(cmd, "; %d imported before, unchanged", len(res.Unchanged))
	}
	printf(cmd, "\n")
	for _, rec := range res.Records {
		from := rec.From.Format(time.RFC3339Nano)
		if rec.Action == consent.ActionWithdraw {
			printf(cmd, "  #%d %s withdraw %v %v from %s\n", rec.Seq, rec.ID, rec.Tiers, rec.Modalities, from)
			continue
		}
		until := "open-ended"
		if rec.Until != nil {
			until = "until " + rec.Until.Format(time.RFC3339Nano)
		}
		printf(cmd, "  #%d %s %s %v %v from %s %s (document %s)\n", rec.Seq, rec.ID, rec.Decision, rec.Tiers, rec.Modalities, from, until, rec.Document)
	}
}
