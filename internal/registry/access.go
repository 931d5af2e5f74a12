package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/plaintext"
	"github.com/steward-rehab/steward/internal/storage"
)

// Roles of an access token.
const (
	// RoleAdmin may do everything, including issuing tokens.
	RoleAdmin = "admin"
	// RoleSteward manages the participants of one organisation, the
	// namespace their source ids live in (such as gaitpdb).
	RoleSteward = "steward"
	// RoleParticipant sees and changes only their own data.
	RoleParticipant = "participant"
	// RoleLicensee sees only the releases built for them, their notices and
	// acknowledgements.
	RoleLicensee = "licensee"
	// RoleAuditor reads the log, proofs and release evidence, and changes
	// nothing.
	RoleAuditor = "auditor"
)

// Roles lists every role in the order help text shows them.
var Roles = []string{RoleAdmin, RoleSteward, RoleParticipant, RoleLicensee, RoleAuditor}

// tokenPrefix starts every secret, so a leaked one is easy to recognise and
// secret scanners can find it.
const tokenPrefix = "stw_"

// ErrUnauthenticated reports a token that is unknown, expired, revoked or
// already used. Its message does not tell which, so a caller learns nothing
// about other people's tokens.
var ErrUnauthenticated = errors.New("invalid or expired token")

// TokenSpec describes what an issued token may do.
type TokenSpec struct {
	Role string
	// Participant (a source id or pseudonym) scopes a participant token,
	// Licensee a licensee token, Org a steward token. An admin or auditor
	// token takes none of them.
	Participant string
	Licensee    string
	Org         string
	// TTL is how long the token is valid; 0 means until revoked.
	TTL time.Duration
	// IssuedBy is the id of the token that issued this one, or empty when
	// an operator issued it on the registry's machine.
	IssuedBy string
}

// IssuedToken is a new token and its secret. The secret is returned once
// and never stored.
type IssuedToken struct {
	Secret string
	Token  storage.Token
}

// newSecret returns a token secret of 256 random bits and its SHA-256.
func newSecret() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("read random bytes: " + err.Error())
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// checkSpec rejects a role the registry does not know and a scope that does
// not fit the role.
func checkSpec(spec TokenSpec) error {
	if !slices.Contains(Roles, spec.Role) {
		return fmt.Errorf("invalid role %q: use one of %s", spec.Role, strings.Join(Roles, ", "))
	}
	if spec.TTL < 0 {
		return fmt.Errorf("invalid expiry %s: give a positive duration such as 24h, or 0 for none", spec.TTL)
	}
	need := map[string]struct{ flag, value string }{
		RoleParticipant: {"--participant", spec.Participant},
		RoleLicensee:    {"--licensee", spec.Licensee},
		RoleSteward:     {"--org", spec.Org},
	}
	for role, n := range need {
		if role == spec.Role && n.value == "" {
			return fmt.Errorf("%s token needs %s", WithArticle(role), n.flag)
		}
	}
	if err := checkNamespace(spec.Org); err != nil {
		return fmt.Errorf("--org: %w", err)
	}
	if err := checkLicensee(spec.Licensee); err != nil {
		return fmt.Errorf("--licensee: %w", err)
	}
	if err := plaintext.Line("participant", spec.Participant); err != nil {
		return err
	}
	scoped := map[string]string{"--participant": spec.Participant, "--licensee": spec.Licensee, "--org": spec.Org}
	for flag, value := range scoped {
		if value != "" && need[spec.Role].flag != flag {
			return fmt.Errorf("%s does not apply to %s tokens", flag, spec.Role)
		}
	}
	return nil
}

// IssueToken issues an API token and logs the issue, without its secret,
// in the same transaction.
func (r *Registry) IssueToken(ctx context.Context, spec TokenSpec) (*IssuedToken, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	secret, hash := newSecret()
	now := r.now().UTC()
	tok := storage.Token{
		ID: ident.New("t-"), Hash: hash, Kind: storage.TokenAPI, Role: spec.Role,
		Licensee: spec.Licensee, Org: spec.Org, IssuedBy: spec.IssuedBy, IssuedAt: now,
	}
	if spec.TTL > 0 {
		expires := now.Add(spec.TTL)
		tok.ExpiresAt = &expires
	}
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		if spec.Participant != "" {
			p, err := r.resolve(ctx, w.tx, spec.Participant)
			if err != nil {
				return err
			}
			if !p.ErasedAt.IsZero() {
				return fmt.Errorf("participant %s was erased: there is nothing left for a token to reach", p.Pseudonym)
			}
			tok.Participant = p.Pseudonym
		}
		data := event.AccessGranted{
			Token: tok.ID, Role: tok.Role, Participant: tok.Participant, Licensee: tok.Licensee, Org: tok.Org, IssuedBy: tok.IssuedBy,
		}
		if tok.ExpiresAt != nil {
			data.Expires = tok.ExpiresAt.Format(time.RFC3339)
		}
		var err error
		if tok.EventIndex, err = w.append(event.TypeAccessGranted, data); err != nil {
			return err
		}
		return w.tx.InsertToken(ctx, tok)
	})
	if err != nil {
		return nil, fmt.Errorf("issue %s token: %w", spec.Role, err)
	}
	return &IssuedToken{Secret: secret, Token: tok}, nil
}

// RevokeToken revokes a token by id and logs the revocation when the token
// was an API token. Revoking a sign-in link or a session ends it too.
func (r *Registry) RevokeToken(ctx context.Context, id, revokedBy string) (storage.Token, error) {
	var tok storage.Token
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		var err error
		if tok, err = w.tx.Token(ctx, id); err != nil {
			return err
		}
		if tok.RevokedAt != nil {
			return nil
		}
		now := r.now().UTC()
		tok.RevokedAt = &now
		if tok.Kind == storage.TokenAPI {
			if _, err := w.append(event.TypeAccessRevoked, event.AccessRevoked{Token: id, RevokedBy: revokedBy}); err != nil {
				return err
			}
		}
		return w.tx.RevokeToken(ctx, id, now)
	})
	if err != nil {
		return tok, fmt.Errorf("revoke token %s: %w", id, err)
	}
	return tok, nil
}

// erasedTokenReason is the reason an erasure logs for revoking a token.
const erasedTokenReason = "participant erased"

// revokeParticipantTokens revokes, in w's transaction, every token of a
// participant that could still be used: API tokens, logged as access.revoked
// events, and sign-in links and sessions, which are never logged. It
// returns how many it revoked.
func (r *Registry) revokeParticipantTokens(ctx context.Context, w *writer, pseudonym string) (int, error) {
	now := r.now().UTC()
	var live []storage.Token
	err := w.tx.Tokens(ctx, func(t storage.Token) error {
		expired := t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)
		used := t.Kind == storage.TokenSignIn && t.UsedAt != nil
		if t.Participant == pseudonym && t.RevokedAt == nil && !expired && !used {
			live = append(live, t)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, t := range live {
		if t.Kind == storage.TokenAPI {
			if _, err := w.append(event.TypeAccessRevoked, event.AccessRevoked{Token: t.ID, Reason: erasedTokenReason}); err != nil {
				return 0, err
			}
		}
		if err := w.tx.RevokeToken(ctx, t.ID, now); err != nil {
			return 0, err
		}
	}
	return len(live), nil
}

// Tokens returns every token, API tokens, sign-in links and sessions alike,
// without secrets.
func (r *Registry) Tokens(ctx context.Context) ([]storage.Token, error) {
	var out []storage.Token
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		return tx.Tokens(ctx, func(t storage.Token) error { out = append(out, t); return nil })
	})
	return out, err
}

// WithArticle returns a role name with "a" or "an" before it, as in "an
// auditor token".
func WithArticle(role string) string {
	if role != "" && strings.ContainsRune("aeiou", rune(role[0])) {
		return "an " + role
	}
	return "a " + role
}

// MaxSignInLinkTTL is the longest a sign-in link stays valid. A link sits
// in a mailbox or a message history, so it has to lapse if unused.
const MaxSignInLinkTTL = 30 * 24 * time.Hour

// IssueSignInLink issues a single-use sign-in token for a participant's
// pages. It is not logged: a participant signs in often, and the log keeps
// forever what it records, even after the participant is erased.
func (r *Registry) IssueSignInLink(ctx context.Context, ref, issuedBy string, ttl time.Duration) (*IssuedToken, error) {
	if ttl <= 0 || ttl > MaxSignInLinkTTL {
		return nil, fmt.Errorf("invalid link expiry %s: give a positive duration up to %s, such as 24h", ttl, MaxSignInLinkTTL)
	}
	secret, hash := newSecret()
	now := r.now().UTC()
	expires := now.Add(ttl)
	tok := storage.Token{
		ID: ident.New("t-"), Hash: hash, Kind: storage.TokenSignIn, Role: RoleParticipant,
		IssuedBy: issuedBy, IssuedAt: now, ExpiresAt: &expires,
	}
	err := r.store.Update(ctx, func(tx storage.Tx) error {
		p, err := r.resolve(ctx, tx, ref)
		if err != nil {
			return err
		}
		if !p.ErasedAt.IsZero() {
			return fmt.Errorf("participant %s was erased: there is nothing to sign in to", p.Pseudonym)
		}
		tok.Participant = p.Pseudonym
		return tx.InsertToken(ctx, tok)
	})
	if err != nil {
		return nil, fmt.Errorf("issue sign-in link: %w", err)
	}
	return &IssuedToken{Secret: secret, Token: tok}, nil
}

// ExchangeSignIn uses a sign-in token once and returns a new session token
// of the same participant, valid for ttl. A second use of the same link
// fails with ErrUnauthenticated.
func (r *Registry) ExchangeSignIn(ctx context.Context, secret string, ttl time.Duration) (*IssuedToken, error) {
	now := r.now().UTC()
	sessionSecret, hash := newSecret()
	var session storage.Token
	err := r.store.Update(ctx, func(tx storage.Tx) error {
		link, err := r.lookupSecret(ctx, tx, secret, now, storage.TokenSignIn)
		if err != nil {
			return err
		}
		if err := tx.UseToken(ctx, link.ID, now); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ErrUnauthenticated
			}
			return err
		}
		expires := now.Add(ttl)
		session = storage.Token{
			ID: ident.New("t-"), Hash: hash, Kind: storage.TokenSession, Role: RoleParticipant, Participant: link.Participant,
			IssuedBy: link.ID, IssuedAt: now, ExpiresAt: &expires,
		}
		return tx.InsertToken(ctx, session)
	})
	if err != nil {
		return nil, err
	}
	return &IssuedToken{Secret: sessionSecret, Token: session}, nil
}

// CheckSignInLink reports ErrUnauthenticated when a sign-in link was used,
// revoked or has expired, without using it.
func (r *Registry) CheckSignInLink(ctx context.Context, secret string) error {
	return r.store.View(ctx, func(tx storage.ReadTx) error {
		_, err := r.lookupSecret(ctx, tx, secret, r.now().UTC(), storage.TokenSignIn)
		return err
	})
}

// Authenticate returns the API or session token whose secret is given, or
// ErrUnauthenticated when it is unknown, expired, revoked, or of another
// kind.
func (r *Registry) Authenticate(ctx context.Context, secret string, kinds ...string) (storage.Token, error) {
	var tok storage.Token
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		tok, err = r.lookupSecret(ctx, tx, secret, r.now().UTC(), kinds...)
		return err
	})
	return tok, err
}

func (r *Registry) lookupSecret(ctx context.Context, tx storage.ReadTx, secret string, now time.Time, kinds ...string) (storage.Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return storage.Token{}, ErrUnauthenticated
	}
	hash := hashSecret(secret)
	tok, err := tx.TokenByHash(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		return tok, ErrUnauthenticated
	}
	if err != nil {
		return tok, err
	}
	// The lookup is by SHA-256 of the secret, so how long it takes tells a
	// caller nothing about the secrets that exist.
	if !slices.Contains(kinds, tok.Kind) {
		return storage.Token{}, ErrUnauthenticated
	}
	if tok.RevokedAt != nil || (tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt)) {
		return storage.Token{}, ErrUnauthenticated
	}
	if tok.Kind == storage.TokenSignIn && tok.UsedAt != nil {
		return storage.Token{}, ErrUnauthenticated
	}
	return tok, nil
}
