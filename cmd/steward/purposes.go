package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/consent"
)

func newPurposesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "purposes",
		Short: "List the purposes a release can state, with their tiers and DUO codes",
		Long: `List the purpose hierarchy. A grant of a tier covers every purpose under it,
unless a major revision of the consent document changed that purpose. Each
purpose maps to GA4GH Data Use Ontology terms, which licences and Croissant
metadata carry.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range consent.Purposes() {
				depth := len(p.Lineage()) - 1
				var codes []string
				for _, d := range p.DUO {
					t, _ := consent.LookupDUO(d)
					codes = append(codes, d+" ("+t.Shorthand+")")
				}
				printf(cmd, "%s%-*s tier %-10s %s\n", strings.Repeat("  ", depth), 28-2*depth, p.Code, p.Tier, strings.Join(codes, ", "))
			}
			return nil
		},
	}
}
