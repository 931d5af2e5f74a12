package server

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/style.css
var styleSheet []byte

// pageTemplates holds one parsed template per page, each with the layout.
type pageTemplates struct {
	pages map[string]*template.Template
}

var pageNames = []string{"signin", "data", "consent", "payments", "erasure", "error"}

func parsePages() (*pageTemplates, error) {
	funcs := template.FuncMap{"date": func(t time.Time) string { return t.Format("2 January 2006") }}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse page layout: %w", err)
	}
	pt := &pageTemplates{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		pt.pages[name] = t
	}
	return pt, nil
}

// flashes are the messages a redirect after a form can show, by the code
// in its done parameter. Only these fixed texts are shown, so a crafted
// link cannot put words on the page.
var flashes = map[string]string{
	"saved":     "Your choices were saved. They apply from now on.",
	"unchanged": "Nothing changed: your choices were already saved.",
}

// contentSecurityPolicy allows the pages nothing but their own style
// sheet and form posts to this server: no scripts at all.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, p principal, content map[string]any) error {
	data := map[string]any{
		"Title": title, "Page": name, "SignedIn": !p.anonymous(), "CSRF": csrfToken(p.session),
		"Flash": flashes[r.URL.Query().Get("done")],
	}
	for k, v := range content {
		data[k] = v
	}
	var buf bytes.Buffer
	if err := s.pages.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render page %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// maxFormBytes limits the body of a page's form, which holds a few fields.
const maxFormBytes = 16 << 10

// parseForm reads a page's form body of at most maxFormBytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	err := r.ParseForm()
	if err == nil {
		return singleValues(r.PostForm)
	}
	var escape url.EscapeError
	if errors.As(err, &escape) {
		return &httpError{status: http.StatusBadRequest, msg: "The form could not be read. Reload the page and try again.", err: err}
	}
	return bodyError(err)
}

// multiValued are the form fields a page may send more than once: the
// consent page's checkboxes.
var multiValued = map[string]bool{"allow": true}

// singleValues rejects a form that sends any other field twice, such as
// confirm=yes&confirm=no, whose meaning depends on which value is read.
func singleValues(form url.Values) error {
	for name, values := range form {
		if len(values) > 1 && !multiValued[name] {
			return newError(http.StatusBadRequest, "The form sent %q more than once, so nothing was changed. Reload the page and try again.", name)
		}
	}
	return nil
}

// pageError responds to a page request that failed with an HTML page, and logs
// the error once, as fail does for the API.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	log := requestLogger(r.Context(), s.log)
	s.metrics.errors.WithLabelValues(fmt.Sprint(status)).Inc()
	if status >= 500 {
		log.Error("page failed", "status", status, "error", err)
		msg = "Something went wrong on our side, and nothing was changed. Please try again later."
	} else {
		log.Debug("page request rejected", "status", status, "error", err)
	}
	content := map[string]any{"Message": s.redactPaths(msg), "Back": "/me", "BackLabel": "Back to your data"}
	if rerr := s.render(w, r, status, "error", "That did not work", principal{}, content); rerr != nil {
		log.Error("rendering the error page failed", "error", rerr)
	}
}

func (s *Server) styleSheet(w http.ResponseWriter, r *http.Request, _ principal) error {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, err := w.Write(styleSheet)
	return err
}

func (s *Server) pageHome(w http.ResponseWriter, r *http.Request, p principal) error {
	if r.URL.Path != "/" {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			s.fail(w, r, newError(http.StatusNotFound, "no such API route: see /api/v1/openapi.yaml"))
			return nil
		}
		return newError(http.StatusNotFound, "There is no page at this address.")
	}
	if !p.anonymous() {
		http.Redirect(w, r, "/me", http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, http.StatusOK, "signin", "Sign in", p, nil)
}

// pageSignIn shows the sign-in button of a link. The link's token is used
// only when the button is pressed, so a mail scanner that fetches the link
// does not use it up.
func (s *Server) pageSignIn(w http.ResponseWriter, r *http.Request, p principal) error {
	// A link that can no longer sign in is reported at once, rather than
	// showing a button that fails.
	if token := r.URL.Query().Get("token"); token != "" {
		if err := s.reg.CheckSignInLink(r.Context(), token); errors.Is(err, registry.ErrUnauthenticated) {
			return newError(http.StatusUnauthorized, "This sign-in link was already used or has expired. Ask your study team for a new one.")
		} else if err != nil {
			return err
		}
	}
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	pre := base64.RawURLEncoding.EncodeToString(nonce)
	http.SetCookie(w, s.cookie(r, signInCookie, pre, 10*time.Minute))
	return s.render(w, r, http.StatusOK, "signin", "Sign in", principal{session: pre}, map[string]any{"Token": r.URL.Query().Get("token")})
}

func (s *Server) cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.SecureCookies || r.TLS != nil,
	}
	if ttl > 0 {
		c.MaxAge = int(ttl.Seconds())
	} else {
		c.MaxAge = -1
	}
	return c
}

func (s *Server) pageSignInSubmit(w http.ResponseWriter, r *http.Request, _ principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	pre, err := r.Cookie(signInCookie)
	if err != nil {
		return newError(http.StatusForbidden, "The sign-in form expired. Open your sign-in link again.")
	}
	if err := checkCSRF(r, csrfToken(pre.Value)); err != nil {
		return err
	}
	session, err := s.reg.ExchangeSignIn(r.Context(), r.PostFormValue("token"), s.cfg.SessionTTL)
	if errors.Is(err, registry.ErrUnauthenticated) {
		s.metrics.denied.WithLabelValues("signin").Inc()
		return newError(http.StatusUnauthorized, "This sign-in link was already used or has expired. Ask your study team for a new one.")
	}
	if err != nil {
		return err
	}
	requestLogger(r.Context(), s.log).Info("participant signed in", "participant", session.Token.Participant, "session", session.Token.ID)
	http.SetCookie(w, s.cookie(r, signInCookie, "", 0))
	http.SetCookie(w, s.cookie(r, sessionCookie, session.Secret, s.cfg.SessionTTL))
	http.Redirect(w, r, "/me", http.StatusSeeOther)
	return nil
}

func (s *Server) pageSignOut(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	if !p.anonymous() {
		if err := checkCSRF(r, csrfToken(p.session)); err != nil {
			return err
		}
		if _, err := s.reg.RevokeToken(r.Context(), p.token.ID, p.token.ID); err != nil {
			return err
		}
	}
	http.SetCookie(w, s.cookie(r, sessionCookie, "", 0))
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// signedIn redirects an anonymous visitor to the start page and reports
// whether the page may go on.
func signedIn(w http.ResponseWriter, r *http.Request, p principal) bool {
	if p.is(registry.RoleParticipant) {
		return true
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return false
}

// Plain names of modalities and tiers for the pages.
var (
	modalityNames = map[string]string{
		"video": "Video recordings", "voice": "Voice recordings", "sensor": "Movement sensor data", "pressure": "Foot pressure measurements",
	}
	tierNames = map[string]string{
		"research": "Research", "clinical": "Improving clinical care", "commercial": "Commercial products",
	}
)

// noticeReasons gives the reason of a notice in plain words, completing
// "because ...".
var noticeReasons = map[string]string{
	registry.NoticeWithdrawn:   "you withdrew your consent",
	registry.NoticeNarrowed:    "you took back part of your consent",
	registry.NoticeRevised:     "the consent form was revised and you have not signed the new version",
	registry.NoticeExpired:     "your consent expired",
	registry.NoticeInvalidated: "a consent record was declared void",
	registry.NoticeErased:      "your data was erased",
}

type sampleRow struct{ ID, Kind, Protocol, Captured, Collector, Length, Device string }

type releaseRow struct {
	ID, Licensee, Purpose, Built string
	Count                        int
	Notices                      []string
}

func (s *Server) pageData(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	v, err := s.reg.ParticipantView(r.Context(), p.token.Participant)
	if err != nil {
		return err
	}
	content := map[string]any{"Pseudonym": v.Participant.Pseudonym}
	if !v.Participant.ErasedAt.IsZero() {
		content["Erased"] = v.Participant.ErasedAt
	}
	var samples []sampleRow
	for _, smp := range v.Samples {
		row := sampleRow{ID: smp.ID, Kind: modalityNames[smp.Provenance.Modality], Protocol: smp.Provenance.Protocol,
			Collector: smp.Provenance.CollectorID, Captured: "not recorded", Length: "not recorded",
			Device: strings.TrimSpace(smp.Provenance.Device.Model + " " + smp.Provenance.Device.Firmware)}
		if smp.Provenance.CapturedAt != nil {
			row.Captured = smp.Provenance.CapturedAt.Format("2 January 2006, 15:04 MST")
		}
		if smp.DurationSeconds > 0 {
			row.Length = (time.Duration(smp.DurationSeconds) * time.Second).String()
		}
		samples = append(samples, row)
	}
	var releases []releaseRow
	for _, use := range v.Releases {
		row := releaseRow{ID: use.Release.ID, Licensee: use.Release.Licensee, Purpose: purposeText(use.Release.Purpose),
			Built: use.Release.BuiltAt.Format("2 January 2006"), Count: len(use.Samples)}
		for _, n := range use.Notices {
			row.Notices = append(row.Notices, fmt.Sprintf("On %s, because %s, they were told to %s %d of your recordings.",
				n.IssuedAt.Format("2 January 2006"), noticeReasons[n.Reason], strings.ReplaceAll(n.Action, "-", " "), len(n.Samples)))
		}
		releases = append(releases, row)
	}
	content["Samples"], content["Releases"] = samples, releases
	return s.render(w, r, http.StatusOK, "data", "Your recordings", p, content)
}

func purposeText(code string) string {
	purpose, err := consent.LookupPurpose(code)
	if err != nil {
		return code
	}
	return purpose.Label + ": " + purpose.Description
}

type tierChoice struct {
	Code, Label, Description string
	Choices                  []modalityChoice
}

type modalityChoice struct {
	Modality, Label string
	Allowed         bool
	// Offered is false when the form for new permissions does not offer
	// the tier and modality: the box can then only be unticked.
	Offered bool
}

// tierAllowed reports whether any purpose of the tier is permitted for the
// modality: a form may cover only a narrower purpose, such as
// research.rehabilitation, and its grant is still one the participant can
// see and take back.
func tierAllowed(records []consent.Record, lib consent.Library, tier, modality string, at time.Time) bool {
	for _, p := range consent.Purposes() {
		if p.Tier == tier && consent.Decide(records, lib, p.Code, modality, at).Permitted() {
			return true
		}
	}
	return false
}

// tiers lists the consent tiers, each with the decision for every
// modality at the given time and whether the form offers it.
func tiers(records []consent.Record, lib consent.Library, at time.Time, form consent.Document) []tierChoice {
	var out []tierChoice
	for _, purpose := range consent.Purposes() {
		if purpose.Parent != "" {
			continue
		}
		t := tierChoice{Code: purpose.Code, Label: tierNames[purpose.Code], Description: purpose.Description}
		if t.Label == "" {
			t.Label = purpose.Label
		}
		for _, m := range provenance.Modalities {
			allowed := tierAllowed(records, lib, purpose.Tier, m, at)
			offered := slices.Contains(form.Tiers, purpose.Code) && slices.Contains(form.Modalities, m)
			t.Choices = append(t.Choices, modalityChoice{Modality: m, Label: modalityNames[m], Allowed: allowed, Offered: offered})
		}
		out = append(out, t)
	}
	return out
}

func (s *Server) pageConsent(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	v, err := s.reg.ParticipantView(r.Context(), p.token.Participant)
	if err != nil {
		return err
	}
	content := map[string]any{}
	if !v.Participant.ErasedAt.IsZero() {
		content["Erased"] = v.Participant.ErasedAt
	}
	form, err := s.formForNewConsent(r, v.Consent)
	if err != nil {
		return err
	}
	content["Tiers"] = tiers(v.Consent, v.Library, time.Now().UTC(), form)
	var docs []consent.Document
	for _, d := range v.Documents {
		docs = append(docs, d.Document)
	}
	content["Documents"] = docs
	content["Form"] = form
	var history []string
	for _, rec := range v.Consent {
		history = append(history, describeRecord(rec))
	}
	content["History"] = history
	return s.render(w, r, http.StatusOK, "consent", "Your consent", p, content)
}

// formForNewConsent returns the form new permissions are given under. It
// is the newest revision of the form the participant signed last, or of
// the registry's first form. The last registered form may belong to
// another study.
func (s *Server) formForNewConsent(r *http.Request, records []consent.Record) (consent.Document, error) {
	docs, err := s.reg.Documents(r.Context())
	if err != nil {
		return consent.Document{}, err
	}
	if len(docs) == 0 {
		return consent.Document{}, errors.New("no consent document registered")
	}
	version := docs[0].Document.Version
	for _, rec := range records {
		if rec.Action == consent.ActionGrant && rec.Document != "" {
			version = rec.Document
		}
	}
	newest := registry.NewestRevision(docs, version)
	for _, d := range docs {
		if d.Document.Version == newest {
			return d.Document, nil
		}
	}
	return consent.Document{}, fmt.Errorf("consent document %s is not registered", newest)
}

// describeRecord describes a consent record in plain words.
func describeRecord(rec consent.Record) string {
	var scope []string
	for _, t := range rec.Tiers {
		scope = append(scope, strings.ToLower(tierNames[t]))
	}
	var kinds []string
	for _, m := range rec.Modalities {
		kinds = append(kinds, strings.ToLower(modalityNames[m]))
	}
	what := strings.Join(scope, ", ") + " use of " + strings.Join(kinds, ", ")
	when := rec.SignedAt.Format("2 January 2006, 15:04 MST")
	switch {
	case rec.Action == consent.ActionWithdraw:
		return fmt.Sprintf("%s: you took back %s (%s).", when, what, rec.Method)
	case rec.Action == consent.ActionInvalidate:
		return fmt.Sprintf("%s: %s declared an earlier record void: %s.", when, rec.Authority, rec.Reason)
	case rec.Decision == consent.Deny:
		return fmt.Sprintf("%s: you refused %s, under form %s (%s).", when, what, rec.Document, rec.Method)
	}
	return fmt.Sprintf("%s: you allowed %s, under form %s (%s).", when, what, rec.Document, rec.Method)
}

// pageConsentSubmit records the changes between the decisions in force
// and the boxes ticked: one withdrawal for each tier with boxes unticked,
// one grant for each tier with boxes newly ticked.
func (s *Server) pageConsentSubmit(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	if err := checkCSRF(r, csrfToken(p.session)); err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, v := range r.PostForm["allow"] {
		tier, modality, ok := strings.Cut(v, ":")
		if !ok || tierNames[tier] == "" || modalityNames[modality] == "" {
			return newError(http.StatusBadRequest, "The form sent an unknown choice %q. Reload the page and try again.", v)
		}
		wanted[v] = true
	}

	// Compare each box with the decision in force now.
	_, records, lib, err := s.reg.ConsentHistory(r.Context(), p.token.Participant)
	if err != nil {
		return err
	}
	form, err := s.formForNewConsent(r, records)
	if err != nil {
		return err
	}
	// Every new permission is checked against the form before anything is
	// recorded, so a rejected save changes nothing.
	choices := tiers(records, lib, time.Now().UTC(), form)
	for _, t := range choices {
		for _, c := range t.Choices {
			if wanted[t.Code+":"+c.Modality] && !c.Allowed && !c.Offered {
				return newError(http.StatusBadRequest, "Nothing was changed: form %s does not offer %s use of %s recordings. Reload the page and try again.",
					form.Version, strings.ToLower(t.Label), strings.ToLower(c.Label))
			}
		}
	}
	changes := 0
	for _, t := range choices {
		var grant, withdraw []string
		for _, c := range t.Choices {
			want := wanted[t.Code+":"+c.Modality]
			switch {
			case want && !c.Allowed:
				grant = append(grant, c.Modality)
			case !want && c.Allowed:
				withdraw = append(withdraw, c.Modality)
			}
		}
		if len(withdraw) > 0 {
			in := registry.WithdrawInput{Tiers: []string{t.Code}, Modalities: withdraw, Method: "electronic"}
			if _, err := s.reg.Withdraw(r.Context(), p.token.Participant, in); err != nil {
				return inputError(err)
			}
			changes++
		}
		if len(grant) > 0 {
			in := registry.GrantInput{Document: form.Version, Tiers: []string{t.Code}, Modalities: grant, Method: "electronic"}
			if _, err := s.reg.Grant(r.Context(), p.token.Participant, in); err != nil {
				return inputError(err)
			}
			changes++
		}
	}

	requestLogger(r.Context(), s.log).Info("participant changed consent", "participant", p.token.Participant, "records", changes)
	done := "unchanged"
	if changes > 0 {
		done = "saved"
	}
	http.Redirect(w, r, "/me/consent?done="+done, http.StatusSeeOther)
	return nil
}

func (s *Server) pagePayments(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	st, err := s.reg.Statement(r.Context(), p.token.Participant)
	if err != nil {
		return err
	}
	sections := paymentSections(st)
	for _, sec := range sections {
		if !sec.Reconciles {
			// The page then shows no numbers for that currency, because
			// they could be wrong.
			requestLogger(r.Context(), s.log).Error("statement does not reconcile with the ledger account",
				"participant", p.token.Participant, "currency", sec.Currency)
		}
	}
	return s.render(w, r, http.StatusOK, "payments", "Your payments", p, map[string]any{"Sections": sections})
}

func (s *Server) pageCopy(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	return s.writeCopy(w, r, p.token.Participant)
}

func (s *Server) pageErasure(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	v, err := s.reg.ParticipantView(r.Context(), p.token.Participant)
	if err != nil {
		return err
	}
	content := map[string]any{}
	if !v.Participant.ErasedAt.IsZero() {
		content["Erased"] = v.Participant.ErasedAt
	}
	return s.render(w, r, http.StatusOK, "erasure", "Erase your data", p, content)
}

func (s *Server) pageErasureSubmit(w http.ResponseWriter, r *http.Request, p principal) error {
	if !signedIn(w, r, p) {
		return nil
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	if err := checkCSRF(r, csrfToken(p.session)); err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "yes" {
		return newError(http.StatusBadRequest, "Nothing was erased. Tick the box to confirm that you understand erasure cannot be undone.")
	}
	rep, err := s.eraseParticipant(r, p, p.token.Participant)
	if err != nil {
		return err
	}
	// The erasure revoked this session, so the cookie goes too.
	http.SetCookie(w, s.cookie(r, sessionCookie, "", 0))
	content := map[string]any{"Erased": time.Now().UTC(), "Samples": rep.Samples}
	return s.render(w, r, http.StatusOK, "erasure", "Your data was erased", p, content)
}
