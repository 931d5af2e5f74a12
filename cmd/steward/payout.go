package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/ledger/bankfile"
	"github.com/steward-rehab/steward/internal/registry"
)

func newPayoutCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "payout",
		Short: "Pay participants' balances to their bank accounts in batches",
		Long: `A payout batch pays every participant's available balance in one currency to
the bank details stored with steward payee set. Making a batch posts a payout
transfer from each participant's account and records the payments as sent,
in one transaction, before any file is written. So exporting again, or
retrying after a failed write, never pays anyone twice: a batch's file is
written again with --batch, the same each time. A payment the bank rejects
is returned to the participant's balance with steward payout reject, and the
next batch pays it again.`,
	}
	cmd.AddCommand(newPayoutExportCommand(g), newPayoutRejectCommand(g), newPayoutListCommand(g))
	return cmd
}

func newPayoutExportCommand(g *globals) *cobra.Command {
	var spec registry.PayoutSpec
	var format, out, batchID, execution string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Make a payout batch of every balance due and write it as a bank file",
		Long: `Make a payout batch of every participant's available balance and write it to
--out as an ISO 20022 pain.001.001.10 credit transfer initiation (one
message id, the batch id, and one end-to-end id per payment, the id of its
payout transfer) or as CSV. Participants without bank details keep their
balance and are listed.

With --batch, write the file of an existing batch again instead; no new
payment is made. The debtor is the registry's own bank account; the
--debtor flags default to STEWARD_DEBTOR_NAME, STEWARD_DEBTOR_IBAN and
STEWARD_DEBTOR_BIC.`,
		Example: `  steward payout export --format pain.001 --out payouts-2026-05.xml --debtor-name "Rehab Clinic" --debtor-iban DE89370400440532013000
  steward payout export --batch b-4k2m9q7x3w8za --format csv --out payouts-2026-05.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, err := bankFileWriter(format)
			if err != nil {
				return err
			}
			if spec.ExecutionDate, err = parseTimeFlag("--execution-date", execution, false); err != nil {
				return err
			}
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			if batchID == "" {
				res, err := r.CreatePayoutBatch(cmd.Context(), spec)
				if err != nil {
					return err
				}
				for _, a := range res.Skipped {
					printf(cmd, "skipped %s: %s due but no bank details (steward payee set)\n", a.ID, ledger.FormatAmount(a.Available(), a.Currency))
				}
				printUnclaimed(cmd, "balances of erased participants", res.Unclaimed)
				if res.Batch.ID == "" {
					printf(cmd, "nothing to pay: no participant with bank details has a balance; no file written\n")
					// An export killed after its batch was recorded leaves
					// nothing to pay and no file, so name that batch.
					batches, _, err := r.Batches(cmd.Context())
					if err == nil && len(batches) > 0 {
						last := batches[len(batches)-1]
						printf(cmd, "the newest batch is %s of %s (%d payments, %s); if its file is missing, write it again with: steward payout export --batch %s --format %s --out FILE\n",
							last.ID, last.CreatedAt.UTC().Format(time.RFC3339), last.Payments, ledger.FormatAmount(last.Total, last.Currency), last.ID, format)
					}
					return nil
				}
				batchID = res.Batch.ID
				printf(cmd, "batch %s: %d payments, %s in all, recorded as sent at log index %d\n", batchID, res.Batch.Payments,
					ledger.FormatAmount(res.Batch.Total, res.Batch.Currency), res.Batch.EventIndex)
			}
			raw, err := bankFile(cmd, r, batchID, format, write)
			if err == nil {
				err = writePrivateFile(out, raw)
			}
			if err != nil {
				return withHint(fmt.Errorf("batch %s is recorded, but its file was not written: %w", batchID, err),
					fmt.Sprintf("write it again with: steward payout export --batch %s --format %s --out FILE", batchID, format))
			}
			printf(cmd, "%s file of batch %s written to %s\n", format, batchID, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "pain.001", "file format: pain.001 (ISO 20022 pain.001.001.10) or csv")
	f.StringVar(&out, "out", "", "file to write (required)")
	f.StringVar(&batchID, "batch", "", "write the file of this existing batch again instead of making a new one")
	f.StringVar(&spec.Currency, "currency", "", "ISO 4217 currency to pay (default: the only one with balances due)")
	f.StringVar(&spec.Debtor.Name, "debtor-name", os.Getenv("STEWARD_DEBTOR_NAME"), "name of the registry's bank account holder (env STEWARD_DEBTOR_NAME)")
	f.StringVar(&spec.Debtor.IBAN, "debtor-iban", os.Getenv("STEWARD_DEBTOR_IBAN"), "IBAN the bank debits (env STEWARD_DEBTOR_IBAN)")
	f.StringVar(&spec.Debtor.BIC, "debtor-bic", os.Getenv("STEWARD_DEBTOR_BIC"), "BIC of the debtor's bank, optional within SEPA (env STEWARD_DEBTOR_BIC)")
	f.StringVar(&execution, "execution-date", "", "day the bank is to pay, YYYY-MM-DD (default: today)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// printUnclaimed prints, on one line, the sum that transfers moved to the
// unclaimed account, and nothing when there are none.
func printUnclaimed(cmd *cobra.Command, what string, moved []ledger.Transfer) {
	if len(moved) == 0 {
		return
	}
	sums := map[string]int64{}
	for _, t := range moved {
		sums[t.Currency] += t.Amount
	}
	var parts []string
	for _, c := range sortedKeys(sums) {
		parts = append(parts, ledger.FormatAmount(sums[c], c))
	}
	printf(cmd, "moved %s, %s, to the unclaimed account by %d transfers: the registry cannot pay erased participants\n",
		what, strings.Join(parts, " and "), len(moved))
}

func bankFileWriter(format string) (func(*bytes.Buffer, bankfile.Batch) error, error) {
	switch format {
	case "pain.001":
		return func(b *bytes.Buffer, batch bankfile.Batch) error { return bankfile.WritePain001(b, batch) }, nil
	case "csv":
		return func(b *bytes.Buffer, batch bankfile.Batch) error { return bankfile.WriteCSV(b, batch) }, nil
	}
	return nil, fmt.Errorf("unknown --format %q: use pain.001 or csv", format)
}

// bankFile returns the bytes of a batch's bank file: the server writes
// them with --server, else write does from the local registry's batch.
func bankFile(cmd *cobra.Command, r compensation, batchID, format string, write func(*bytes.Buffer, bankfile.Batch) error) ([]byte, error) {
	if c, ok := r.(*client.Client); ok {
		return c.PayoutFile(cmd.Context(), batchID, format)
	}
	b, err := r.(*registry.Registry).PayoutFile(cmd.Context(), batchID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := write(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writePrivateFile writes data to path through a temporary file beside
// it, so path holds either the whole file or what it held before. The
// temporary file's name follows from path, so a write killed half-way is
// overwritten and removed by the next write to the same path.
func writePrivateFile(path string, data []byte) error {
	name := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".steward-payout")
	tmp, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// The file holds bank details: readable by its owner only.
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newPayoutRejectCommand(g *globals) *cobra.Command {
	var payments []string
	var reason, status string
	var all bool
	cmd := &cobra.Command{
		Use:   "reject [BATCH]",
		Short: "Return payments the bank rejected to the participants' balances",
		Long: `Record that the bank rejected payments of a batch, named by their end-to-end
ids with --payments, every payment with --all, or read from the bank's
ISO 20022 pain.002 payment status report with --status, whose original
message id names the batch. Each rejected payment is returned to its
participant's balance by a return transfer and paid by the next batch; its
record as sent stays. Rejecting a payment again changes nothing.`,
		Example: `  steward payout reject b-4k2m9q7x3w8za --payments t-aaaaaaaaaaaaa --reason AC04
  steward payout reject --status pain.002-2026-05-05.xml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			batchID := ""
			if len(args) == 1 {
				batchID = args[0]
			}
			var rejected []registry.RejectedPayment
			for _, p := range payments {
				rejected = append(rejected, registry.RejectedPayment{EndToEndID: p, Reason: reason})
			}
			if status != "" {
				if len(payments) > 0 || all {
					return fmt.Errorf("--status reads the rejected payments from the report: leave out --payments and --all")
				}
				rep, err := readStatusReport(status)
				if err != nil {
					return err
				}
				if batchID != "" && batchID != rep.MessageID {
					return fmt.Errorf("%s reports on batch %s, not %s", status, rep.MessageID, batchID)
				}
				batchID, all, reason = rep.MessageID, rep.GroupRejected && len(rep.Rejected) == 0, rep.GroupReason
				for _, rj := range rep.Rejected {
					rejected = append(rejected, registry.RejectedPayment{EndToEndID: rj.EndToEndID, Reason: rj.Reason})
				}
				if !all && len(rejected) == 0 {
					printf(cmd, "%s rejects no payment of batch %s\n", status, batchID)
					return nil
				}
			}
			if batchID == "" {
				return fmt.Errorf("no batch given: name it, or pass --status with the bank's report")
			}
			results, err := g.rejectPayments(cmd, batchID, rejected, all, reason)
			if err != nil {
				return err
			}
			for _, res := range results {
				p := res.Payment
				verb := "returned"
				if res.Repeated {
					verb = "returned before"
				}
				printf(cmd, "payment %s of %s to %s %s by transfer %s (%s)\n", p.EndToEndID, ledger.FormatAmount(p.Amount, res.Return.Currency),
					p.Participant, verb, res.Return.ID, res.Return.Reason)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&payments, "payments", nil, "end-to-end ids of the rejected payments, comma-separated or repeated")
	f.BoolVar(&all, "all", false, "the bank rejected every payment of the batch")
	f.StringVar(&reason, "reason", "", "the bank's reason code, such as AC04 (closed account) or AC01 (wrong IBAN)")
	f.StringVar(&status, "status", "", "the bank's pain.002 payment status report")
	return cmd
}

// rejectPayments returns rejected payments to the participants' balances,
// through the server with --server, else in the local registry.
func (g *globals) rejectPayments(cmd *cobra.Command, batchID string, rejected []registry.RejectedPayment, all bool, reason string) ([]registry.ReturnResult, error) {
	c, err := g.remote()
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c.RejectPayments(cmd.Context(), batchID, rejected, all, reason)
	}
	r, err := g.open(cmd)
	if err != nil {
		return nil, err
	}
	if all {
		return r.RejectBatch(cmd.Context(), batchID, reason)
	}
	return r.RejectPayments(cmd.Context(), batchID, rejected)
}

func readStatusReport(path string) (bankfile.StatusReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return bankfile.StatusReport{}, err
	}
	defer f.Close()
	rep, err := bankfile.ReadPain002(f)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

func newPayoutListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List payout batches with their payments: sent, or returned after a rejection",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			batches, payments, err := r.Batches(cmd.Context())
			if err != nil {
				return err
			}
			for _, b := range batches {
				printf(cmd, "%s  %s  %d payments, %s, to be paid %s, log index %d\n", b.ID, b.CreatedAt.Format(time.RFC3339), b.Payments,
					ledger.FormatAmount(b.Total, b.Currency), b.ExecutionDate.Format(time.DateOnly), b.EventIndex)
				for _, p := range payments[b.ID] {
					state := "sent"
					if p.Return.ID != "" {
						state = fmt.Sprintf("returned %s (%s) by %s", p.Return.At.Format(time.DateOnly), p.Return.Reason, p.Return.ID)
					}
					printf(cmd, "  %s  %-24s %14s  %s\n", p.EndToEndID, p.Participant, ledger.FormatDecimal(p.Amount, b.Currency), state)
				}
			}
			return nil
		},
	}
}
