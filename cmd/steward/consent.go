package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/registry"
)

func newConsentCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "consent",
		Short: "Grant, withdraw and show participants' consent",
		Long: `Consent is an append-only history per participant. The decision for a purpose,
modality and time comes from the records in force at that time: a deny in
force always wins, a withdrawal ends every earlier record in its scope, and
no record means no use.

Participants are named by their source id (GaPt03, or gaitpdb:GaPt03 when the
id exists in several sources) or by their pseudonym (p-...).`,
	}
	cmd.AddCommand(newGrantCommand(g), newWithdrawCommand(g), newInvalidateCommand(g), newShowConsentCommand(g), newDocumentCommand(g), newConsentExportCommand(g), newConsentImportCommand(g))
	return cmd
}

func newGrantCommand(g *globals) *cobra.Command {
	var in registry.GrantInput
	var from, until, signed string
	cmd := &cobra.Command{
		Use:   "grant PARTICIPANT",
		Short: "Record a consent form's choices",
		Example: `  steward consent grant GaPt03 --document v1 --tiers research,commercial --modalities pressure
  steward consent grant P017 --document v1 --tiers research --modalities voice --until 2026-12-31
  steward consent grant P017 --document v1 --tiers commercial --modalities voice --deny`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if in.From, err = parseTimeFlag("--from", from, false); err != nil {
				return err
			}
			if in.SignedAt, err = parseTimeFlag("--signed", signed, false); err != nil {
				return err
			}
			if until != "" {
				u, err := parseTimeFlag("--until", until, true)
				if err != nil {
					return err
				}
				in.Until = &u
			}

			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteGrant(cmd, c, args[0], in)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			rec, err := r.Grant(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			printf(cmd, "recorded %s %s of %s at log index %d\n", rec.ID, rec.Decision, rec.Participant, rec.Seq)
			if !in.Deny {
				changed, newest, err := r.RevisedSince(cmd.Context(), in.Document, in.Tiers)
				if err != nil {
					return err
				}
				printRevisedNote(cmd, in.Document, changed, newest)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Document, "document", "", "version of the consent document signed, such as v1 (required)")
	f.StringSliceVar(&in.Tiers, "tiers", nil, "tiers consented to: research, clinical, commercial (required)")
	f.StringSliceVar(&in.Modalities, "modalities", nil, "modalities covered: video, voice, sensor, pressure (required)")
	f.StringVar(&from, "from", "", "start of the consent period, RFC 3339 or YYYY-MM-DD (default: the signing time)")
	f.StringVar(&until, "until", "", "end of the consent period; a date includes that whole day (default: open-ended)")
	f.StringVar(&signed, "signed", "", "when the participant signed, RFC 3339 or YYYY-MM-DD (default: now)")
	f.StringVar(&in.Method, "method", "written", "how consent was given: written, electronic, verbal-witnessed")
	f.StringVar(&in.Witness, "witness", "", "staff id of the witness, if any")
	f.BoolVar(&in.Deny, "deny", false, "record a refusal for these tiers and modalities instead of a permission")
	f.BoolVar(&in.Guardian, "guardian", false, "the participant is a minor and their guardian grants; needs --assent and --majority")
	f.StringVar(&in.Assent, "assent", "", "the minor's assent to the guardian's grant: given, refused or not-applicable")
	f.StringVar(&in.MajorityMonth, "majority", "", "month the minor comes of age, YYYY-MM; use stops then until they confirm as an adult")
	for _, name := range []string{"document", "tiers", "modalities"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newWithdrawCommand(g *globals) *cobra.Command {
	var in registry.WithdrawInput
	cmd := &cobra.Command{
		Use:   "withdraw PARTICIPANT",
		Short: "Withdraw consent, for some tiers and modalities or for everything",
		Long: `Record a withdrawal. It takes effect now and ends every earlier record for the
tiers and modalities it names (all of them when none are named). Releases
built from now on leave the participant's samples out.`,
		Example: `  steward consent withdraw GaPt03
  steward consent withdraw GaPt03 --tiers commercial --modalities pressure`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// An empty list, as from an unset shell variable, must not
			// widen the withdrawal to everything.
			for _, name := range []string{"tiers", "modalities"} {
				if v, _ := cmd.Flags().GetStringSlice(name); cmd.Flags().Changed(name) && len(v) == 0 {
					return fmt.Errorf("--%s is empty: name the %s to withdraw, or leave out --%s to withdraw all of them", name, name, name)
				}
			}
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteWithdraw(cmd, c, args[0], in)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			rec, err := r.Withdraw(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			printf(cmd, "recorded withdrawal %s of %s (%s; %s) at log index %d\n",
				rec.ID, rec.Participant, strings.Join(rec.Tiers, ","), strings.Join(rec.Modalities, ","), rec.Seq)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&in.Tiers, "tiers", nil, "tiers withdrawn (default: all)")
	f.StringSliceVar(&in.Modalities, "modalities", nil, "modalities withdrawn (default: all)")
	f.StringVar(&in.Method, "method", "written", "how the withdrawal was made: written, electronic, verbal-witnessed")
	f.StringVar(&in.Witness, "witness", "", "staff id of the witness, if any")
	return cmd
}

func newShowConsentCommand(g *globals) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "show PARTICIPANT",
		Short: "Show a participant's consent history and current decisions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			when, err := parseTimeFlag("--at", at, false)
			if err != nil {
				return err
			}
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteShowConsent(cmd, c, args[0], when)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			p, records, lib, err := r.ConsentHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if when.IsZero() {
				when = time.Now().UTC()
			}
			printConsent(cmd, p.Pseudonym, records, lib, when)
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "show decisions at this time, RFC 3339 or YYYY-MM-DD (default: now)")
	return cmd
}

func printConsent(cmd *cobra.Command, pseudonym string, records []consent.Record, lib consent.Library, at time.Time) {
	printRecords(cmd, pseudonym, records)
	printf(cmd, "decisions at %s:\n", at.Format(time.RFC3339))
	for _, p := range consent.Purposes() {
		var cells []string
		for _, m := range []string{"video", "voice", "sensor", "pressure"} {
			cells = append(cells, fmt.Sprintf("%s=%s", m, consent.Decide(records, lib, p.Code, m, at).Decision))
		}
		printf(cmd, "  %-24s %s\n", p.Code, strings.Join(cells, " "))
	}
}

// printRecords prints a participant's consent history, one record a line.
func printRecords(cmd *cobra.Command, pseudonym string, records []consent.Record) {
	printf(cmd, "participant %s: %d consent records\n", pseudonym, len(records))
	for _, rec := range records {
		what := rec.Action
		switch rec.Action {
		case consent.ActionGrant:
			what = "grant " + rec.Decision
			if rec.Grantor == consent.GrantorGuardian {
				what += fmt.Sprintf(" by guardian (assent %s, of age from %s)", rec.Assent, rec.MajorityMonth)
			}
		case consent.ActionInvalidate:
			printf(cmd, "  #%d %s invalidates %s: %s, %s (%s)\n", rec.Seq, rec.ID, rec.Voids, rec.Authority, rec.Reason, rec.SignedAt.Format(time.RFC3339))
			continue
		}
		period := "from " + rec.From.Format(time.RFC3339)
		if rec.Until != nil {
			period += " until " + rec.Until.Format(time.RFC3339)
		}
		doc := ""
		if rec.Document != "" {
			doc = " document " + rec.Document + ","
		}
		printf(cmd, "  #%d %s %s:%s tiers %s, modalities %s, %s, signed %s (%s)\n", rec.Seq, rec.ID, what, doc,
			strings.Join(rec.Tiers, ","), strings.Join(rec.Modalities, ","), period, rec.SignedAt.Format(time.RFC3339), rec.Method)
	}
}

// parseTimeFlag reads RFC 3339 or a date. With endOfDay, a date means the
// end of that day, so --until 2024-12-31 includes the 31st.
func parseTimeFlag(flag, value string, endOfDay bool) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid %s %q: use RFC 3339 (2025-05-01T10:00:00Z) or a date (2025-05-01)", flag, value)
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

func newInvalidateCommand(g *globals) *cobra.Command {
	var authority, reason string
	cmd := &cobra.Command{
		Use:   "invalidate PARTICIPANT RECORD",
		Short: "Record that an ethics board or court voided a consent record",
		Long: `Record that an authority voided a consent record. Unlike a withdrawal, which
stops future use, an invalidated record never counted: past releases that
relied on it lose their basis too.`,
		Example: `  steward consent invalidate GaPt03 c-4k2m9q7x3w8za --authority "ethics board" --reason "form signed without capacity"`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				return remoteInvalidate(cmd, c, args[0], args[1], authority, reason)
			}
			r, err := g.open(cmd)
			if err != nil {
				return err
			}
			rec, err := r.Invalidate(cmd.Context(), args[0], args[1], authority, reason)
			if err != nil {
				return err
			}
			printf(cmd, "recorded invalidation %s of %s at log index %d\n", rec.ID, rec.Voids, rec.Seq)
			return nil
		},
	}
	cmd.Flags().StringVar(&authority, "authority", "", "who voided the record, such as \"ethics board\" or a court (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the record was voided")
	_ = cmd.MarkFlagRequired("authority")
	return cmd
}

// printRevisedNote prints the purposes that a grant under a revised form
// does not cover. Recording such a grant is right when the participant
// signed that form, but those purposes stay denied until they sign the
// newest one.
func printRevisedNote(cmd *cobra.Command, document string, changed []string, newest string) {
	if len(changed) == 0 {
		return
	}
	printf(cmd, "  note: form %s was revised since; this grant does not cover %s, which major revisions changed, until the participant signs %s\n",
		document, strings.Join(changed, ", "), newest)
}
