package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/storage"
)

// principal is the caller of a request: the token they presented, or the
// zero token for an anonymous caller.
type principal struct {
	token storage.Token
	// session is the cookie's secret on the participant pages, from which
	// the CSRF token of every form derives.
	session string
}

func (p principal) anonymous() bool { return p.token.ID == "" }

func (p principal) role() string { return p.token.Role }

func (p principal) is(roles ...string) bool {
	return !p.anonymous() && slices.Contains(roles, p.token.Role)
}

// Cookie names of the participant pages.
const (
	sessionCookie = "steward_session"
	signInCookie  = "steward_signin"
)

// bearer returns the token of an Authorization: Bearer header, or "".
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", true
	}
	return strings.TrimSpace(token), true
}

// authenticateAPI reads the bearer token of an API request. A request
// without the header is anonymous. A header with an unknown, expired or
// revoked token is an error, so that the client learns to get a new one.
func (s *Server) authenticateAPI(r *http.Request) (principal, error) {
	secret, present := bearer(r)
	if !present {
		return principal{}, nil
	}
	if secret == "" {
		s.metrics.denied.WithLabelValues("malformed").Inc()
		return principal{}, newError(http.StatusUnauthorized, "malformed Authorization header: send Authorization: Bearer TOKEN")
	}
	tok, err := s.reg.Authenticate(r.Context(), secret, storage.TokenAPI)
	if err != nil {
		if errors.Is(err, registry.ErrUnauthenticated) {
			s.metrics.denied.WithLabelValues("invalid").Inc()
		}
		return principal{}, err
	}
	return principal{token: tok}, nil
}

// authenticatePage reads the session cookie of a participant page. A
// missing or stale cookie is the anonymous principal.
func (s *Server) authenticatePage(r *http.Request) (principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return principal{}, nil
	}
	tok, err := s.reg.Authenticate(r.Context(), c.Value, storage.TokenSession)
	if errors.Is(err, registry.ErrUnauthenticated) {
		s.metrics.denied.WithLabelValues("session").Inc()
		return principal{}, nil
	}
	if err != nil {
		return principal{}, err
	}
	return principal{token: tok, session: c.Value}, nil
}

// csrfToken derives a session's CSRF token from its secret. The session
// cookie is HttpOnly, so a page of another site can neither read it nor
// compute the token.
func csrfToken(session string) string {
	h := sha256.Sum256([]byte("steward csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// checkCSRF compares a form's CSRF field with the one expected.
func checkCSRF(r *http.Request, want string) error {
	got := r.PostFormValue("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return newError(http.StatusForbidden, "the form expired or did not come from this site: reload the page and try again")
	}
	return nil
}

// denial is the refusal of a request that lacks the role a route needs.
func (s *Server) denial(p principal, rt *route) error {
	if rt.hidden {
		// Routes about one release reject the caller exactly as for a
		// release that does not exist, so the response reveals nothing.
		s.metrics.denied.WithLabelValues("hidden").Inc()
		return errReleaseNotFound
	}
	if p.anonymous() {
		s.metrics.denied.WithLabelValues("missing").Inc()
		return newError(http.StatusUnauthorized, "missing token: send Authorization: Bearer TOKEN (steward token issue makes one)")
	}
	s.metrics.denied.WithLabelValues("role").Inc()
	return newError(http.StatusForbidden, "%s token may not %s", registry.WithArticle(p.role()), rt.summary)
}

// errReleaseNotFound is the one refusal every release route gives for a
// release that does not exist or is not the caller's.
var errReleaseNotFound = newError(http.StatusNotFound, "release not found")

// canSeeRelease reports whether the principal may see a release at all.
func canSeeRelease(p principal, rel storage.Release) bool {
	switch p.role() {
	case registry.RoleAdmin, registry.RoleAuditor:
		return true
	case registry.RoleLicensee:
		return rel.Licensee != "" && rel.Licensee == p.token.Licensee
	}
	return false
}

// participantRef resolves the participant a request names and checks that
// the principal may act on them. A participant may name only themself, by
// pseudonym or as "me", and learns nothing about whether another id
// exists. A steward reaches only their organisation, and an id outside it
// is rejected like an unknown one.
func (s *Server) participantRef(r *http.Request, p principal, ref string) (storage.Participant, error) {
	if p.is(registry.RoleParticipant) {
		if ref != "me" && ref != p.token.Participant {
			return storage.Participant{}, newError(http.StatusForbidden,
				"a participant token may only access its own data: use %s or me in the path", p.token.Participant)
		}
		ref = p.token.Participant
	}
	found, _, _, err := s.reg.ConsentHistory(r.Context(), ref)
	notFound := errors.Is(err, storage.ErrNotFound)
	if err != nil && !notFound {
		return storage.Participant{}, err
	}
	if p.is(registry.RoleSteward) && (notFound || found.Namespace != p.token.Org) {
		return storage.Participant{}, newError(http.StatusNotFound, "participant %q not found in organisation %q", ref, p.token.Org)
	}
	if notFound {
		return storage.Participant{}, newError(http.StatusNotFound, "participant %q not found", ref)
	}
	return found, nil
}
