package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/storage"
)

func testTokens(t *testing.T, s storage.Store) {
	ctx := context.Background()
	issued := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	expires := issued.Add(24 * time.Hour)
	hashOf := func(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }
	api := storage.Token{
		ID: "t-api", Hash: hashOf("secret-1"), Kind: storage.TokenAPI, Role: "licensee", Licensee: "acme",
		IssuedBy: "t-admin", IssuedAt: issued, ExpiresAt: &expires, EventIndex: 7,
	}
	link := storage.Token{ID: "t-link", Hash: hashOf("secret-2"), Kind: storage.TokenSignIn, Role: "participant", Participant: "p-1", IssuedAt: issued.Add(time.Second)}
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.InsertToken(ctx, api); err != nil {
			return err
		}
		return tx.InsertToken(ctx, link)
	})
	if err != nil {
		t.Fatal(err)
	}

	// A second token with the same hash collides.
	err = s.Update(ctx, func(tx storage.Tx) error {
		return tx.InsertToken(ctx, storage.Token{ID: "t-other", Hash: api.Hash, Kind: storage.TokenAPI, Role: "admin", IssuedAt: issued})
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("insert with a repeated hash: %v, want ErrConflict", err)
	}

	err = s.View(ctx, func(tx storage.ReadTx) error {
		got, err := tx.TokenByHash(ctx, api.Hash)
		if err != nil {
			return err
		}
		if got.ID != api.ID || got.Role != "licensee" || got.Licensee != "acme" || got.IssuedBy != "t-admin" || got.EventIndex != 7 {
			t.Errorf("token by hash = %+v, want %+v", got, api)
		}
		if !bytes.Equal(got.Hash, api.Hash) {
			t.Errorf("stored hash %x, want %x", got.Hash, api.Hash)
		}
		if got.ExpiresAt == nil || !got.ExpiresAt.Equal(expires) {
			t.Errorf("expiry %v, want %v", got.ExpiresAt, expires)
		}
		if got.RevokedAt != nil || got.UsedAt != nil {
			t.Errorf("new token revoked %v, used %v", got.RevokedAt, got.UsedAt)
		}
		if _, err := tx.TokenByHash(ctx, hashOf("unknown")); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("token by unknown hash: %v, want ErrNotFound", err)
		}
		var ids []string
		if err := tx.Tokens(ctx, func(tok storage.Token) error { ids = append(ids, tok.ID); return nil }); err != nil {
			return err
		}
		if len(ids) != 2 || ids[0] != "t-api" || ids[1] != "t-link" {
			t.Errorf("tokens listed %v, want [t-api t-link]", ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Revoking twice keeps the first time; revoking an unknown id fails.
	for _, at := range []time.Time{issued.Add(time.Hour), issued.Add(2 * time.Hour)} {
		if err := s.Update(ctx, func(tx storage.Tx) error { return tx.RevokeToken(ctx, api.ID, at) }); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Update(ctx, func(tx storage.Tx) error { return tx.RevokeToken(ctx, "t-absent", issued) })
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoke unknown token: %v, want ErrNotFound", err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		got, err := tx.Token(ctx, api.ID)
		if err != nil {
			return err
		}
		if got.RevokedAt == nil || !got.RevokedAt.Equal(issued.Add(time.Hour)) {
			t.Errorf("revoked at %v, want %v", got.RevokedAt, issued.Add(time.Hour))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Of several concurrent uses of a single-use token, exactly one wins.
	var wg sync.WaitGroup
	results := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Update(ctx, func(tx storage.Tx) error { return tx.UseToken(ctx, link.ID, issued.Add(time.Minute)) })
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("concurrent use: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent uses of a single-use token succeeded, want 1", won)
	}
	err = s.Update(ctx, func(tx storage.Tx) error { return tx.UseToken(ctx, "t-absent", issued) })
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("use unknown token: %v, want ErrNotFound", err)
	}
}
