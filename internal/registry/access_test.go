package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/sqlstore"
)

func TestTokenSpecChecks(t *testing.T) {
	r, _ := newTestRegistry(t)
	ctx := context.Background()
	cases := []struct {
		spec TokenSpec
		want string
	}{
		{TokenSpec{Role: "root"}, `invalid role "root"`},
		{TokenSpec{Role: RoleParticipant}, "needs --participant"},
		{TokenSpec{Role: RoleLicensee}, "needs --licensee"},
		{TokenSpec{Role: RoleSteward}, "needs --org"},
		{TokenSpec{Role: RoleAuditor, Org: "gaitpdb"}, "--org does not apply to auditor tokens"},
		{TokenSpec{Role: RoleAdmin, TTL: -time.Hour}, "invalid expiry"},
		{TokenSpec{Role: RoleParticipant, Participant: "NOBODY"}, "unknown participant"},
	}
	for _, c := range cases {
		_, err := r.IssueToken(ctx, c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("issue %+v: %v, want an error containing %q", c.spec, err, c.want)
		}
	}
}

func TestTokenLifecycle(t *testing.T) {
	r, _ := newTestRegistry(t)
	ctx := context.Background()
	issued, err := r.IssueToken(ctx, TokenSpec{Role: RoleLicensee, Licensee: "acme", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(issued.Secret, "stw_") || len(issued.Secret) != len("stw_")+43 {
		t.Errorf("secret %q is not stw_ and 43 base64url characters", issued.Secret)
	}
	if issued.Token.EventIndex == 0 {
		t.Error("issuing an API token logged no event")
	}

	tok, err := r.Authenticate(ctx, issued.Secret, storage.TokenAPI)
	if err != nil || tok.ID != issued.Token.ID {
		t.Fatalf("authenticate a new token: %v", err)
	}
	if _, err := r.Authenticate(ctx, issued.Secret, storage.TokenSession); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("an API token used as a session: %v, want ErrUnauthenticated", err)
	}
	if _, err := r.RevokeToken(ctx, issued.Token.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, issued.Secret, storage.TokenAPI); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("authenticate a revoked token: %v, want ErrUnauthenticated", err)
	}

	// Every API token points at the event that issued it.
	rep, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatalf("verify log with access events: %v", err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("log problems: %v", rep.Problems)
	}

	// A token row that points elsewhere is reported.
	db := r.Store().(*sqlstore.Store).DB()
	if _, err := db.ExecContext(ctx, "UPDATE access_tokens SET event_idx = 1 WHERE id = ?", issued.Token.ID); err != nil {
		t.Fatal(err)
	}
	_, err = r.VerifyLog(ctx)
	var failed *LogVerificationError
	if !errors.As(err, &failed) || !strings.Contains(err.Error(), "access token "+issued.Token.ID) {
		t.Errorf("verify a token row pointing at event 1: %v, want a problem naming the token", err)
	}
}

func TestSignInLinkExchangesOnce(t *testing.T) {
	r, _ := newTestRegistry(t)
	ctx := context.Background()
	if _, err := r.Register(ctx, generatedBatch(t, 1, false, "P001")); err != nil {
		t.Fatal(err)
	}
	before, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	link, err := r.IssueSignInLink(ctx, "P001", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, link.Secret, storage.TokenSession); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a sign-in link used as a session: %v, want ErrUnauthenticated", err)
	}
	session, err := r.ExchangeSignIn(ctx, link.Secret, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if session.Token.Participant != link.Token.Participant || session.Token.Kind != storage.TokenSession {
		t.Errorf("session %+v does not belong to the link's participant %s", session.Token, link.Token.Participant)
	}
	if _, err := r.ExchangeSignIn(ctx, link.Secret, time.Minute); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("second exchange of a link: %v, want ErrUnauthenticated", err)
	}
	if _, err := r.Authenticate(ctx, session.Secret, storage.TokenSession); err != nil {
		t.Errorf("authenticate the session: %v", err)
	}

	// Links and sessions are not logged.
	after, err := r.VerifyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size != before.Size {
		t.Errorf("sign-in grew the log from %d to %d entries", before.Size, after.Size)
	}
}

func TestWithArticle(t *testing.T) {
	for role, want := range map[string]string{RoleAuditor: "an auditor", RoleAdmin: "an admin", RoleLicensee: "a licensee", RoleSteward: "a steward"} {
		if got := WithArticle(role); got != want {
			t.Errorf("WithArticle(%q) = %q, want %q", role, got, want)
		}
	}
}
