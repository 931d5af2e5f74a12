package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

func newPayeeCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "payee",
		Short: "Store, show and erase the bank details participants are paid to",
		Long: `A participant's bank details are direct identifiers: they are kept out of the
log, which records only a salted digest of them, and erasing the participant
deletes them. Payout batches copy the details of each payment so that a
batch's file can be written again.`,
	}
	cmd.AddCommand(newPayeeSetCommand(g), newPayeeShowCommand(g), newPayeeEraseCommand(g))
	return cmd
}

func newPayeeSetCommand(g *globals) *cobra.Command {
	var in registry.PayeeInput
	cmd := &cobra.Command{
		Use:     "set PARTICIPANT",
		Short:   "Store or replace a participant's bank details; the IBAN's check digits are verified",
		Example: `  steward payee set GaPt03 --name "Ada Lovelace" --iban "GB29 NWBK 6016 1331 9268 19"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			p, err := r.SetPayee(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			printf(cmd, "bank details of %s stored: %s; the log holds their digest at index %d\n", p.Participant, ledger.MaskIBAN(p.IBAN), p.EventIndex)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Name, "name", "", "account holder's name (required)")
	cmd.Flags().StringVar(&in.IBAN, "iban", "", "IBAN, with or without spaces (required)")
	cmd.Flags().StringVar(&in.BIC, "bic", "", "BIC of the bank, 8 or 11 characters (optional within SEPA)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("iban")
	return cmd
}

func newPayeeShowCommand(g *globals) *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "show PARTICIPANT",
		Short: "Show a participant's bank details, the IBAN masked unless --full",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.payee(cmd, args[0], full)
			if err != nil {
				return err
			}
			iban := ledger.MaskIBAN(p.IBAN)
			if full {
				iban = p.IBAN
			}
			printf(cmd, "%s: %s, %s %s, updated %s\n", p.Participant, p.Name, iban, p.BIC, p.UpdatedAt.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "show the whole IBAN")
	return cmd
}

// payee returns a participant's bank details, from the server with
// --server, else from the local registry. A server sends the IBAN whole
// only when full is set.
func (g *globals) payee(cmd *cobra.Command, ref string, full bool) (storage.Payee, error) {
	c, err := g.remote()
	if err != nil {
		return storage.Payee{}, err
	}
	if c != nil {
		return c.Payee(cmd.Context(), ref, full)
	}
	r, err := g.open(cmd)
	if err != nil {
		return storage.Payee{}, err
	}
	return r.Payee(cmd.Context(), ref)
}

func newPayeeEraseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "erase PARTICIPANT",
		Short: "Delete a participant's bank details; their balance stays and is not paid out until new details are set",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			p, err := r.ErasePayee(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printf(cmd, "bank details of %s deleted\n", p)
			return nil
		},
	}
}
