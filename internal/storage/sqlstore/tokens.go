package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/steward-rehab/steward/internal/storage"
)

const tokenColumns = "id, hash, kind, role, participant, licensee, org, issued_by, issued_at, expires_at, revoked_at, used_at, event_idx"

func scanToken(s scanner) (storage.Token, error) {
	var tok storage.Token
	var hash, issued string
	var expires, revoked, used sql.NullString
	if err := s.Scan(&tok.ID, &hash, &tok.Kind, &tok.Role, &tok.Participant, &tok.Licensee, &tok.Org, &tok.IssuedBy,
		&issued, &expires, &revoked, &used, &tok.EventIndex); err != nil {
		return tok, err
	}
	var err error
	if tok.Hash, err = hex.DecodeString(hash); err != nil {
		return tok, fmt.Errorf("token %s: stored hash: %w", tok.ID, err)
	}
	if tok.IssuedAt, err = parseTime(issued); err != nil {
		return tok, err
	}
	for _, f := range []struct {
		in  sql.NullString
		out **time.Time
	}{{expires, &tok.ExpiresAt}, {revoked, &tok.RevokedAt}, {used, &tok.UsedAt}} {
		if !f.in.Valid {
			continue
		}
		at, err := parseTime(f.in.String)
		if err != nil {
			return tok, err
		}
		*f.out = &at
	}
	return tok, nil
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func (t *tx) TokenByHash(ctx context.Context, hash []byte) (storage.Token, error) {
	tok, err := scanToken(t.queryRow(ctx, "SELECT "+tokenColumns+" FROM access_tokens WHERE hash = ?", hex.EncodeToString(hash)))
	return tok, notFound(err, "access token")
}

func (t *tx) Token(ctx context.Context, id string) (storage.Token, error) {
	tok, err := scanToken(t.queryRow(ctx, "SELECT "+tokenColumns+" FROM access_tokens WHERE id = ?", id))
	return tok, notFound(err, "access token "+id)
}

func (t *tx) Tokens(ctx context.Context, fn func(storage.Token) error) error {
	page := func(last *storage.Token) (string, []any) {
		if last == nil {
			return fmt.Sprintf("SELECT %s FROM access_tokens ORDER BY issued_at, id LIMIT %d", tokenColumns, pageSize), nil
		}
		return fmt.Sprintf("SELECT %s FROM access_tokens WHERE (issued_at, id) > (?, ?) ORDER BY issued_at, id LIMIT %d", tokenColumns, pageSize),
			[]any{formatTime(last.IssuedAt), last.ID}
	}
	if err := paginate(ctx, t, page, scanToken, fn); err != nil {
		return fmt.Errorf("list access tokens: %w", err)
	}
	return nil
}

func (t *tx) InsertToken(ctx context.Context, tok storage.Token) error {
	_, err := t.exec(ctx, "INSERT INTO access_tokens ("+tokenColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		tok.ID, hex.EncodeToString(tok.Hash), tok.Kind, tok.Role, tok.Participant, tok.Licensee, tok.Org, tok.IssuedBy,
		formatTime(tok.IssuedAt), nullTime(tok.ExpiresAt), nullTime(tok.RevokedAt), nullTime(tok.UsedAt), tok.EventIndex)
	if err != nil {
		return fmt.Errorf("insert access token %s: %w", tok.ID, err)
	}
	return nil
}

func (t *tx) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, "UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", formatTime(at), id)
	if err != nil {
		return fmt.Errorf("revoke access token %s: %w", id, err)
	}
	return requireRow(res, "access token "+id)
}

func (t *tx) UseToken(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, "UPDATE access_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", formatTime(at), id)
	if err != nil {
		return fmt.Errorf("use access token %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	if _, err := t.Token(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("access token %s was used before: %w", id, storage.ErrConflict)
}

// requireRow returns ErrNotFound naming what when an UPDATE changed no row.
func requireRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, storage.ErrNotFound)
	}
	return nil
}
