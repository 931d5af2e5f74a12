package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

// TestVerifyLogFindsEditedRows edits and deletes rows behind the
// registry's back, keeping each row's pointer to its event; log verify
// must report every such edit.
func TestVerifyLogFindsEditedRows(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		sql  string
		want string
	}{
		"consent widened": {`UPDATE consent_records SET record = replace(record, '"tiers":["research","commercial"]', '"tiers":["research","commercial","clinical"]') WHERE record LIKE '%"action":"grant"%'`,
			"consent record c-"},
		"withdrawal deleted": {`DELETE FROM consent_records WHERE record LIKE '%"action":"withdraw"%'`, "has no consent record row"},
		"modality changed":   {`UPDATE samples SET provenance = replace(provenance, '"modality":"voice"', '"modality":"video"'), modality = 'video'`, "differs from event"},
		"sample deleted":     {`DELETE FROM samples WHERE id NOT IN (SELECT sample_id FROM release_samples)`, "has no sample row"},
		"attributes edited":  {`UPDATE participants SET salt = X'00'`, "attributes whose digest differs"},
		"marked erased":      {`UPDATE participants SET erased_at = '2025-05-01T12:00:00.000000000Z'`, "no participant.erased event"},
		"time reformatted":   {`UPDATE samples SET registered_at = '2020-01-01T00:00:00Z'`, "stored value cannot be read"},
		"release retargeted": {`UPDATE releases SET purpose = 'commercial'`, "release r-"},
		"release emptied":    {`DELETE FROM release_samples`, "lists 0 samples but its event says"},
		"token promoted":     {`UPDATE access_tokens SET role = 'admin'`, "access token"},
		"revocation shrunk":  {`DELETE FROM revoked_samples`, "revocation notice n-"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, clk := newTestRegistry(t)
			registerVoices(t, r, 7, "P1", "P2")
			clk.advance(time.Hour)
			grantVoice(t, r, "P1")
			clk.advance(time.Hour)
			if _, err := r.Withdraw(ctx, "P1", WithdrawInput{Tiers: []string{"commercial"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.BuildRelease(ctx, ReleaseSpec{Purpose: "research", Out: filepath.Join(t.TempDir(), "b")}); err != nil {
				t.Fatal(err)
			}
			// A withdrawal after the release issues a revocation notice.
			clk.advance(time.Hour)
			if _, err := r.Withdraw(ctx, "P1", WithdrawInput{Tiers: []string{"research"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.IssueToken(ctx, TokenSpec{Role: RoleAuditor}); err != nil {
				t.Fatal(err)
			}
			verifyRegistry(t, r)

			db := r.Store().(*sqlstore.Store).DB()
			res, err := db.ExecContext(ctx, c.sql)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				t.Fatalf("the edit changed no row: %s", c.sql)
			}
			_, err = r.VerifyLog(ctx)
			var ve *LogVerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("verify after the edit: %v, want a LogVerificationError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("verify after the edit did not report %q:\n%v", c.want, err)
			}
		})
	}
}
