package registry

import (
	"context"
	"errors"
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
