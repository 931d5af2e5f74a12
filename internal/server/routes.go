package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/steward-rehab/steward/internal/registry"
)

// route is one operation the server serves.
type route struct {
	method  string
	path    string // a net/http pattern path, such as /api/v1/releases/{id}
	summary string // the operation, worded to end "a ROLE token may not ..."
	// roles may call the route; public routes take no token at all.
	roles  []string
	public bool
	// hidden routes concern one release: a caller without the role gets the
	// same 404 as for a release that does not exist.
	hidden bool
	// long routes upload, build or download much, and get the long timeout.
	long bool
	// page routes are participant pages: they authenticate by session
	// cookie and respond in HTML.
	page bool
	// statuses lists every status the route responds with, which
	// api/openapi.yaml documents and the tests check.
	statuses []int
	handle   func(s *Server, w http.ResponseWriter, r *http.Request, p principal) error
}

// Role sets of the route table.
var (
	anyRole      = registry.Roles
	adminOnly    = []string{registry.RoleAdmin}
	stewards     = []string{registry.RoleAdmin, registry.RoleSteward}
	ownData      = []string{registry.RoleAdmin, registry.RoleSteward, registry.RoleParticipant}
	releaseRoles = []string{registry.RoleAdmin, registry.RoleAuditor, registry.RoleLicensee}
	logRoles     = []string{registry.RoleAdmin, registry.RoleAuditor}
	policyRoles  = []string{registry.RoleAdmin, registry.RoleSteward, registry.RoleAuditor}
)

// Statuses of the route table.
const (
	ok        = http.StatusOK
	created   = http.StatusCreated
	noContent = http.StatusNoContent
	seeOther  = http.StatusSeeOther
	bad       = http.StatusBadRequest
	unauth    = http.StatusUnauthorized
	forbidden = http.StatusForbidden
	notFound  = http.StatusNotFound
	conflict  = http.StatusConflict
	gone      = http.StatusGone
	tooLarge  = http.StatusRequestEntityTooLarge
	mediaType = http.StatusUnsupportedMediaType
	internal  = http.StatusInternalServerError
	timedOut  = http.StatusServiceUnavailable
)

func statuses(codes ...int) []int { return append(codes, internal, timedOut) }

// table returns every route. api/openapi.yaml documents exactly these.
func table() []*route {
	return []*route{
		{method: "GET", path: "/api/v1/health", summary: "check health", public: true, statuses: statuses(ok), handle: (*Server).health},
		{method: "GET", path: "/api/v1/openapi.yaml", summary: "read the API description", public: true, statuses: statuses(ok), handle: (*Server).openAPI},
		{method: "GET", path: "/api/v1/purposes", summary: "list purposes", public: true, statuses: statuses(ok), handle: (*Server).purposes},
		{method: "GET", path: "/api/v1/whoami", summary: "describe its own token", roles: anyRole, statuses: statuses(ok, unauth), handle: (*Server).whoami},

		{method: "POST", path: "/api/v1/tokens", summary: "issue tokens", roles: adminOnly, statuses: statuses(created, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).issueToken},
		{method: "GET", path: "/api/v1/tokens", summary: "list tokens", roles: adminOnly, statuses: statuses(ok, unauth, forbidden), handle: (*Server).listTokens},
		{method: "DELETE", path: "/api/v1/tokens/{id}", summary: "revoke tokens", roles: adminOnly, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).revokeToken},

		{method: "POST", path: "/api/v1/samples", summary: "register samples", roles: stewards, long: true, statuses: statuses(ok, bad, unauth, forbidden, tooLarge, mediaType, conflict), handle: (*Server).ingest},
		{method: "POST", path: "/api/v1/imports/{format}", summary: "import datasets", roles: stewards, long: true, statuses: statuses(ok, bad, unauth, forbidden, notFound, tooLarge, mediaType, conflict), handle: (*Server).importDataset},

		{method: "GET", path: "/api/v1/participants/{ref}", summary: "read a participant's data", roles: ownData, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).participant},
		{method: "GET", path: "/api/v1/participants/{ref}/consent", summary: "read consent", roles: ownData, statuses: statuses(ok, bad, unauth, forbidden, notFound), handle: (*Server).consentHistory},
		{method: "POST", path: "/api/v1/participants/{ref}/consent/grants", summary: "grant consent", roles: ownData, statuses: statuses(created, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).grant},
		{method: "POST", path: "/api/v1/participants/{ref}/consent/withdrawals", summary: "withdraw consent", roles: ownData, statuses: statuses(created, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).withdraw},
		{method: "POST", path: "/api/v1/participants/{ref}/consent/invalidations", summary: "invalidate consent records", roles: stewards, statuses: statuses(created, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).invalidate},
		{method: "GET", path: "/api/v1/participants/{ref}/consent/fhir", summary: "export consent as FHIR", roles: ownData, statuses: statuses(ok, bad, unauth, forbidden, notFound), handle: (*Server).exportConsentFHIR},
		{method: "POST", path: "/api/v1/participants/{ref}/consent/fhir", summary: "import FHIR consent", roles: stewards, statuses: statuses(ok, created, bad, unauth, forbidden, notFound, tooLarge), handle: (*Server).importConsentFHIR},
		{method: "POST", path: "/api/v1/participants/{ref}/signin-links", summary: "issue sign-in links", roles: stewards, statuses: statuses(created, bad, unauth, forbidden, notFound), handle: (*Server).signInLink},
		{method: "GET", path: "/api/v1/participants/{ref}/export", summary: "download a participant's data", roles: ownData, long: true, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).exportParticipant},
		{method: "GET", path: "/api/v1/participants/{ref}/statement", summary: "read payment statements", roles: ownData, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).statement},
		{method: "GET", path: "/api/v1/participants/{ref}/payee", summary: "read bank details", roles: ownData, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).getPayee},
		{method: "PUT", path: "/api/v1/participants/{ref}/payee", summary: "store bank details", roles: ownData, statuses: statuses(ok, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).setPayee},
		{method: "DELETE", path: "/api/v1/participants/{ref}/payee", summary: "delete bank details", roles: ownData, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).erasePayee},
		{method: "POST", path: "/api/v1/participants/{ref}/erasure", summary: "erase participants", roles: ownData, long: true, statuses: statuses(ok, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).erase},

		{method: "GET", path: "/api/v1/documents", summary: "list consent documents", roles: anyRole, statuses: statuses(ok, unauth), handle: (*Server).documents},
		{method: "POST", path: "/api/v1/documents", summary: "register consent documents", roles: adminOnly, statuses: statuses(created, bad, unauth, forbidden, conflict, tooLarge), handle: (*Server).addDocument},

		{method: "GET", path: "/api/v1/releases", summary: "list releases", roles: releaseRoles, statuses: statuses(ok, unauth, forbidden), handle: (*Server).listReleases},
		{method: "POST", path: "/api/v1/releases", summary: "build releases", roles: adminOnly, long: true, statuses: statuses(created, bad, unauth, forbidden, tooLarge, mediaType), handle: (*Server).buildRelease},
		{method: "GET", path: "/api/v1/releases/{id}", summary: "read releases", roles: releaseRoles, hidden: true, statuses: statuses(ok, notFound), handle: (*Server).getRelease},
		{method: "GET", path: "/api/v1/releases/{id}/files", summary: "list release files", roles: releaseRoles, hidden: true, long: true, statuses: statuses(ok, notFound), handle: (*Server).releaseFiles},
		{method: "GET", path: "/api/v1/releases/{id}/bundle", summary: "download release bundles", roles: releaseRoles, hidden: true, long: true, statuses: statuses(ok, bad, forbidden, notFound, gone), handle: (*Server).releaseBundle},
		{method: "GET", path: "/api/v1/releases/{id}/notices", summary: "read revocation notices", roles: releaseRoles, hidden: true, statuses: statuses(ok, notFound), handle: (*Server).releaseNotices},

		{method: "GET", path: "/api/v1/notices", summary: "read the revocation notice feed", roles: releaseRoles, statuses: statuses(ok, unauth, forbidden), handle: (*Server).noticeFeed},
		{method: "POST", path: "/api/v1/notices/{id}/acknowledgements", summary: "acknowledge notices", roles: []string{registry.RoleAdmin, registry.RoleLicensee}, statuses: statuses(created, bad, unauth, forbidden, notFound, conflict, tooLarge, mediaType), handle: (*Server).acknowledge},
		{method: "POST", path: "/api/v1/notices/scan", summary: "scan for due notices", roles: adminOnly, long: true, statuses: statuses(ok, unauth, forbidden), handle: (*Server).scanNotices},

		{method: "GET", path: "/api/v1/log/checkpoint", summary: "read the log", roles: logRoles, statuses: statuses(ok, unauth, forbidden, notFound), handle: (*Server).checkpoint},
		{method: "GET", path: "/api/v1/log/tile/{path...}", summary: "read the log", roles: logRoles, statuses: statuses(ok, bad, unauth, forbidden, notFound), handle: (*Server).tile},
		{method: "GET", path: "/api/v1/log/entries/{index}/receipt", summary: "read proofs", roles: logRoles, statuses: statuses(ok, bad, unauth, forbidden, notFound), handle: (*Server).receipt},
		{method: "GET", path: "/api/v1/log/consistency", summary: "read proofs", roles: logRoles, statuses: statuses(ok, bad, unauth, forbidden), handle: (*Server).consistency},
		{method: "POST", path: "/api/v1/log/checkpoints", summary: "sign checkpoints", roles: adminOnly, statuses: statuses(created, unauth, forbidden), handle: (*Server).signCheckpoint},
		{method: "POST", path: "/api/v1/log/verification", summary: "verify the log", roles: logRoles, long: true, statuses: statuses(ok, bad, unauth, forbidden), handle: (*Server).verifyLog},
		{method: "GET", path: "/api/v1/ledger/accounts", summary: "read ledger totals", roles: logRoles, statuses: statuses(ok, unauth, forbidden), handle: (*Server).ledgerAccounts},
		{method: "POST", path: "/api/v1/ledger/verification", summary: "verify the ledger", roles: logRoles, long: true, statuses: statuses(ok, unauth, forbidden), handle: (*Server).verifyLedger},
		{method: "POST", path: "/api/v1/ledger/transfers", summary: "post ledger transfers", roles: adminOnly, statuses: statuses(ok, created, bad, unauth, forbidden, notFound, conflict, tooLarge, mediaType), handle: (*Server).postTransfer},
		{method: "POST", path: "/api/v1/ledger/settlement", summary: "settle pending payments", roles: adminOnly, long: true, statuses: statuses(ok, unauth, forbidden), handle: (*Server).settlePending},
		{method: "POST", path: "/api/v1/revenue", summary: "record licence revenue", roles: adminOnly, statuses: statuses(ok, created, bad, unauth, forbidden, notFound, conflict, tooLarge, mediaType), handle: (*Server).recordRevenue},

		{method: "GET", path: "/api/v1/policies", summary: "list compensation policies", roles: policyRoles, statuses: statuses(ok, unauth, forbidden), handle: (*Server).listPolicies},
		{method: "POST", path: "/api/v1/policies", summary: "register compensation policies", roles: adminOnly, statuses: statuses(ok, created, bad, unauth, forbidden, tooLarge), handle: (*Server).addPolicy},
		{method: "GET", path: "/api/v1/policies/{ref}", summary: "read compensation policies", roles: policyRoles, statuses: statuses(ok, bad, unauth, forbidden, notFound), handle: (*Server).getPolicy},
		{method: "POST", path: "/api/v1/samples/checks", summary: "record data checks", roles: stewards, statuses: statuses(ok, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).checkSamples},

		{method: "POST", path: "/api/v1/payouts", summary: "make payout batches", roles: adminOnly, statuses: statuses(ok, created, bad, unauth, forbidden, conflict, tooLarge, mediaType), handle: (*Server).createPayout},
		{method: "GET", path: "/api/v1/payouts", summary: "list payout batches", roles: logRoles, statuses: statuses(ok, unauth, forbidden), handle: (*Server).listPayouts},
		{method: "GET", path: "/api/v1/payouts/{id}/file", summary: "read bank files", roles: adminOnly, statuses: statuses(ok, bad, unauth, forbidden, notFound), handle: (*Server).payoutFile},
		{method: "POST", path: "/api/v1/payouts/{id}/rejections", summary: "return rejected payments", roles: adminOnly, statuses: statuses(ok, bad, unauth, forbidden, notFound, tooLarge, mediaType), handle: (*Server).rejectPayments},
		{method: "POST", path: "/api/v1/gc", summary: "collect garbage", roles: adminOnly, long: true, statuses: statuses(ok, bad, unauth, forbidden), handle: (*Server).collectGarbage},

		{method: "GET", path: "/", summary: "see the start page", public: true, page: true, statuses: statuses(ok, seeOther, notFound), handle: (*Server).pageHome},
		{method: "GET", path: "/signin", summary: "sign in", public: true, page: true, statuses: statuses(ok), handle: (*Server).pageSignIn},
		{method: "POST", path: "/signin", summary: "sign in", public: true, page: true, statuses: statuses(seeOther, bad, unauth, forbidden, tooLarge), handle: (*Server).pageSignInSubmit},
		{method: "POST", path: "/signout", summary: "sign out", public: true, page: true, statuses: statuses(seeOther, bad, forbidden, tooLarge), handle: (*Server).pageSignOut},
		{method: "GET", path: "/me", summary: "see their data", public: true, page: true, statuses: statuses(ok, seeOther), handle: (*Server).pageData},
		{method: "GET", path: "/me/consent", summary: "see their consent", public: true, page: true, statuses: statuses(ok, seeOther), handle: (*Server).pageConsent},
		{method: "POST", path: "/me/consent", summary: "change their consent", public: true, page: true, statuses: statuses(seeOther, bad, forbidden, tooLarge), handle: (*Server).pageConsentSubmit},
		{method: "GET", path: "/me/payments", summary: "see their payments", public: true, page: true, statuses: statuses(ok, seeOther), handle: (*Server).pagePayments},
		{method: "GET", path: "/me/copy", summary: "download a copy of their data", public: true, page: true, long: true, statuses: statuses(ok, seeOther), handle: (*Server).pageCopy},
		{method: "GET", path: "/me/erasure", summary: "ask for erasure", public: true, page: true, statuses: statuses(ok, seeOther), handle: (*Server).pageErasure},
		{method: "POST", path: "/me/erasure", summary: "ask for erasure", public: true, page: true, long: true, statuses: statuses(ok, seeOther, bad, forbidden, tooLarge), handle: (*Server).pageErasureSubmit},
		{method: "GET", path: "/static/style.css", summary: "read the style sheet", public: true, page: true, statuses: statuses(ok), handle: (*Server).styleSheet},
		{method: "GET", path: "/metrics", summary: "read metrics", public: true, statuses: statuses(ok), handle: (*Server).serveMetrics},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range table() {
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	return s.withRequestID(s.withJSONFallback(mux))
}

// withJSONFallback responds to a request that matches no route with a
// JSON error, as every route does, instead of the plain text of
// http.ServeMux. The page route GET / matches every path for GET and HEAD,
// so what falls through is mostly another method on a known path: 405
// with the Allow header that ServeMux computes.
func (s *Server) withJSONFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch allow := rec.header.Get("Allow"); {
		case rec.status == http.StatusMethodNotAllowed && allow != "":
			w.Header().Set("Allow", allow)
			s.fail(w, r, newError(http.StatusMethodNotAllowed, "method %s is not allowed here: use %s", r.Method, allow))
		case rec.status == http.StatusMethodNotAllowed:
			s.fail(w, r, newError(http.StatusMethodNotAllowed, "method %s is not allowed here", r.Method))
		default:
			s.fail(w, r, newError(http.StatusNotFound, "no such route: see /api/v1/openapi.yaml"))
		}
	})
}

// statusRecorder keeps the status and header a handler writes and drops
// its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header { return r.header }

func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

type ctxKey int

type loggerKey struct{}

const requestIDKey ctxKey = 0

// validRequestID accepts a caller's X-Request-Id only when it is short
// and plain, so it cannot forge log lines.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID gives every request an id, in its context, its logger and
// the X-Request-Id response header.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx = context.WithValue(ctx, loggerKey{}, s.log.With("request_id", id))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap runs one route: timeout, authentication, the role check, the
// handler, then the error response, the log line and the metrics.
func (s *Server) wrap(rt *route) http.Handler {
	pattern := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		sw := &statusWriter{ResponseWriter: w}

		timeout := s.cfg.RequestTimeout
		if rt.long {
			timeout = s.cfg.LongRequestTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		// The context ends the handler's own work; the deadlines also end a
		// client that sends or reads the body too slowly. A writer without
		// deadlines, such as a test recorder, is left as it is.
		rc := http.NewResponseController(sw)
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		_ = rc.SetWriteDeadline(time.Now().Add(timeout + 5*time.Second))

		if err := s.serveRoute(sw, r, rt); err != nil {
			if rt.page {
				s.pageError(sw, r, err)
			} else {
				s.fail(sw, r, err)
			}
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}

		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(pattern, r.Method, strconv.Itoa(sw.status)).Inc()
		s.metrics.duration.WithLabelValues(pattern, r.Method).Observe(elapsed.Seconds())
		if s.observe != nil {
			s.observe(rt, sw.status)
		}
		// The path is not logged: it may name a participant by source id.
		requestLogger(ctx, s.log).Info("request", "method", r.Method, "route", pattern,
			"status", sw.status, "duration_ms", elapsed.Milliseconds())
	})
}

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt *route) error {
	var p principal
	var err error
	if rt.page {
		p, err = s.authenticatePage(r)
	} else if !rt.public {
		p, err = s.authenticateAPI(r)
	}
	if err != nil {
		return err
	}
	if !rt.public && !p.is(rt.roles...) {
		return s.denial(p, rt)
	}
	return rt.handle(s, w, r, p)
}
