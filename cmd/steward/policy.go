package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

func newPolicyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Register and list compensation policies",
		Long: `A compensation policy sets what participants are paid: per sample by modality
and task, per use when a licensed release includes a sample, a royalty share
of licence revenue, bonuses for subgroups a recruitment plan asks for, and
non-monetary benefits. Amounts are whole minor units of the policy's
currency, such as cents.

The newest policy registered is in force: each sample registered from then
on is paid under it, and each release built states its terms. The schema is
schemas/compensation-policy.schema.json.`,
	}
	cmd.AddCommand(newPolicyAddCommand(g), newPolicyListCommand(g), newPolicyShowCommand(g))
	return cmd
}

func newPolicyAddCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add FILE",
		Short: "Register a version of a compensation policy from a JSON or YAML file",
		Long: `Register a compensation policy. The file is checked against the policy's JSON
Schema and the ISO 4217 currency list; any problem names the field and
registers nothing. Without a version, the policy becomes one more than the
newest version of its id, unless it equals that version.`,
		Example: `  cat policy.yaml
  id: rehab-2026
  currency: EUR
  perSample: {pressure: 500, sensor: 400, voice: 300, video: 800}
  perUse: {commercial: 100, clinical: 50, research: 0}
  royaltyShare: 0.10
  benefits: [personal progress report]
  steward policy add policy.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			p, err := ledger.ParsePolicy(filepath.Base(args[0]), raw)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			stored, added, err := g.addPolicy(cmd, p, raw, strings.HasSuffix(strings.ToLower(args[0]), ".json"))
			if err != nil {
				return err
			}
			if !added {
				printf(cmd, "policy %s is registered already, unchanged, at log index %d\n", stored.Policy.Ref(), stored.EventIndex)
				return nil
			}
			printf(cmd, "registered policy %s (%s) at log index %d; it is in force for samples registered from now on\n",
				stored.Policy.Ref(), stored.Digest, stored.EventIndex)
			return nil
		},
	}
}

// addPolicy registers a parsed policy, through the server with --server,
// which parses the file's bytes again, else in the local registry.
func (g *globals) addPolicy(cmd *cobra.Command, p ledger.Policy, raw []byte, isJSON bool) (storage.StoredPolicy, bool, error) {
	c, err := g.remote()
	if err != nil {
		return storage.StoredPolicy{}, false, err
	}
	if c != nil {
		return c.AddPolicy(cmd.Context(), raw, isJSON)
	}
	r, err := g.open(cmd)
	if err != nil {
		return storage.StoredPolicy{}, false, err
	}
	return r.AddPolicy(cmd.Context(), p)
}

func newPolicyListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered policy versions, the one in force last",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			policies, err := r.Policies(cmd.Context())
			if err != nil {
				return err
			}
			if len(policies) == 0 {
				printf(cmd, "no compensation policy: participants are not paid until one is added with steward policy add\n")
				return nil
			}
			for i, p := range policies {
				mark := ""
				if i == len(policies)-1 {
					mark = "  (in force)"
				}
				printf(cmd, "%-24s %s  %s  added %s  log index %d%s\n", p.Policy.Ref(), p.Policy.Currency, p.Digest,
					p.AddedAt.Format(time.RFC3339), p.EventIndex, mark)
			}
			return nil
		},
	}
}

func newPolicyShowCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show POLICY",
		Short:   "Show a policy version's terms; POLICY is id@version or id for its newest version",
		Example: `  steward policy show rehab-2026@1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := g.compensation(cmd)
			if err != nil {
				return err
			}
			stored, err := r.PolicyByRef(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printPolicy(cmd, stored)
			return nil
		},
	}
}

func printPolicy(cmd *cobra.Command, stored storage.StoredPolicy) {
	p := stored.Policy
	amount := func(v int64) string { return ledger.FormatAmount(v, p.Currency) }
	printf(cmd, "policy %s, %s, added %s at log index %d\n", p.Ref(), stored.Digest, stored.AddedAt.Format(time.RFC3339), stored.EventIndex)
	if p.Description != "" {
		printf(cmd, "  %s\n", p.Description)
	}

	// Per-sample rates, task rates and bonuses.
	printf(cmd, "  per-sample payments from account %s, %s\n", p.Funder(), p.Triggers.PerSample)
	for _, m := range sortedKeys(p.PerSample) {
		printf(cmd, "    %-10s %s\n", m, amount(p.PerSample[m]))
	}
	for _, task := range sortedKeys(p.PerTask) {
		for _, m := range sortedKeys(p.PerTask[task]) {
			printf(cmd, "    %-10s %s for task %s\n", m, amount(p.PerTask[task][m]), task)
		}
	}
	for _, b := range p.Bonuses {
		var when []string
		for _, c := range [][2]string{{"condition", b.Condition}, {"sex", b.Sex}, {"age band", b.AgeBand}, {"modality", b.Modality}, {"task", b.Task}} {
			if c[1] != "" {
				when = append(when, c[0]+" "+c[1])
			}
		}
		printf(cmd, "    bonus %s: %s when %s\n", b.Name, amount(b.Amount), strings.Join(when, " and "))
	}

	// Per-use rates, the royalty and benefits.
	printf(cmd, "  per use in a licensed release, %s\n", p.Triggers.PerUse)
	tiers := sortedKeys(p.PerUse)
	sort.Strings(tiers)
	for _, tier := range tiers {
		printf(cmd, "    %-10s %s\n", tier, amount(p.PerUse[tier]))
	}
	printf(cmd, "  royalty share %s of licence revenue, %s\n", p.RoyaltyPercent(), p.Triggers.Royalty)
	for _, b := range p.Benefits {
		printf(cmd, "  benefit: %s\n", b)
	}
}
