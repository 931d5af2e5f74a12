package registry

import (
	"context"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/storage"
)

// accessEventRef returns the token id an access event is about.
func accessEventRef(ev event.Event) string {
	var d struct {
		Token string `json:"token"`
	}
	if err := ev.DecodeData(&d); err != nil {
		return ""
	}
	return d.Token
}

// checkAccessProjections checks that every API token points at the
// access.granted event that issued it. Sign-in links and sessions are not
// logged and have no event.
func checkAccessProjections(ctx context.Context, tx storage.ReadTx, expect func(what, key string, idx uint64, typ, sum string),
	sameFields func(what, key string, idx uint64, row fieldsDigest)) error {
	return tx.Tokens(ctx, func(t storage.Token) error {
		if t.Kind == storage.TokenAPI {
			expect("access token", t.ID, t.EventIndex, event.TypeAccessGranted, "")
			sameFields("access token", t.ID, t.EventIndex, tokenFields(t.Role, t.Participant, t.Licensee, t.Org))
		}
		return nil
	})
}
