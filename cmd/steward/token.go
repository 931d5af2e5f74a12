package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

func newTokenCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue, list and revoke API tokens of steward serve",
		Long: `API tokens authenticate calls to steward serve. Each has one role:

  admin        everything, including issuing tokens
  steward      the participants of one organisation (--org, the namespace of
               their source ids, such as gaitpdb)
  participant  their own data only (--participant)
  licensee     their own releases, notices and acknowledgements (--licensee)
  auditor      the log, proofs and release evidence, read only

The secret is printed once and stored only as its SHA-256. Issuing and
revoking a token are logged as access events, without the secret. Without
--server these commands act on the local registry, which is how the first
admin token is made.`,
	}
	cmd.AddCommand(newTokenIssueCommand(g), newTokenRevokeCommand(g), newTokenListCommand(g))
	return cmd
}

func newTokenIssueCommand(g *globals) *cobra.Command {
	var spec registry.TokenSpec
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue a token and print its secret once",
		Example: `  steward token issue --role admin
  steward token issue --role steward --org gaitpdb --expires 720h
  steward token issue --role licensee --licensee acme --expires 24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			var tok storage.Token
			var secret string
			if c != nil {
				req := client.TokenRequest{Role: spec.Role, Participant: spec.Participant, Licensee: spec.Licensee, Org: spec.Org}
				if spec.TTL > 0 {
					req.Expires = spec.TTL.String()
				}
				issued, err := c.IssueToken(cmd.Context(), req)
				if err != nil {
					return err
				}
				tok = storage.Token{ID: issued.ID, Role: issued.Role, ExpiresAt: issued.ExpiresAt, EventIndex: issued.EventIndex}
				secret = issued.Secret
			} else {
				r, err := g.open(cmd)
				if err != nil {
					return err
				}
				issued, err := r.IssueToken(cmd.Context(), spec)
				if err != nil {
					return err
				}
				tok, secret = issued.Token, issued.Secret
			}
			expiry := "never expires"
			if tok.ExpiresAt != nil {
				expiry = "expires " + tok.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "issued %s token %s (%s), logged at index %d; the secret below is shown only now\n", tok.Role, tok.ID, expiry, tok.EventIndex)
			printf(cmd, "%s\n", secret)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Role, "role", "", "role: "+strings.Join(registry.Roles, ", ")+" (required)")
	f.StringVar(&spec.Participant, "participant", "", "the participant a participant token is for: source id or pseudonym")
	f.StringVar(&spec.Licensee, "licensee", "", "the licensee a licensee token is for")
	f.StringVar(&spec.Org, "org", "", "the organisation (participant namespace, such as gaitpdb) a steward token is for")
	f.DurationVar(&spec.TTL, "expires", 0, "how long the token is valid, such as 24h (default: until revoked)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenRevokeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TOKEN-ID",
		Short: "Revoke a token by its id (t-...)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			if c != nil {
				if _, err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
					return err
				}
			} else {
				r, err := g.open(cmd)
				if err != nil {
					return err
				}
				if _, err := r.RevokeToken(cmd.Context(), args[0], ""); err != nil {
					return err
				}
			}
			printf(cmd, "revoked token %s\n", args[0])
			return nil
		},
	}
}

func newTokenListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens, sign-in links and sessions, without secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.remote()
			if err != nil {
				return err
			}
			var tokens []storage.Token
			if c != nil {
				listed, err := c.Tokens(cmd.Context())
				if err != nil {
					return err
				}
				for _, t := range listed {
					tokens = append(tokens, storage.Token{ID: t.ID, Kind: t.Kind, Role: t.Role, Participant: t.Participant, Licensee: t.Licensee,
						Org: t.Org, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, UsedAt: t.UsedAt})
				}
			} else {
				r, err := g.open(cmd)
				if err != nil {
					return err
				}
				if tokens, err = r.Tokens(cmd.Context()); err != nil {
					return err
				}
			}
			for _, t := range tokens {
				printf(cmd, "%s  %-7s %-11s %-20s issued %s  %s\n", t.ID, t.Kind, t.Role, t.Participant+t.Licensee+t.Org,
					t.IssuedAt.Format(time.RFC3339), tokenState(t))
			}
			return nil
		},
	}
}

func tokenState(t storage.Token) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked " + t.RevokedAt.Format(time.RFC3339)
	case t.UsedAt != nil:
		return "used " + t.UsedAt.Format(time.RFC3339)
	case t.ExpiresAt != nil && !time.Now().Before(*t.ExpiresAt):
		return "expired " + t.ExpiresAt.Format(time.RFC3339)
	case t.ExpiresAt != nil:
		return "valid until " + t.ExpiresAt.Format(time.RFC3339)
	}
	return "valid"
}
