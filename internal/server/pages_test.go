package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/registry"
)

// browserless is an HTTP client with a cookie jar that does not follow
// redirects, to check each step of the sign-in.
func browserless(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn follows a sign-in link as a browser would and returns the CSRF
// token of the signed-in pages.
func signIn(t *testing.T, h *harness, c *http.Client, link string) string {
	t.Helper()
	resp, page := get(t, c, link)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET sign-in link: %d", resp.StatusCode)
	}
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	csrf := csrfField.FindStringSubmatch(page)
	if token == nil || csrf == nil {
		t.Fatalf("sign-in page lacks the token or CSRF field:\n%s", page)
	}
	resp, _ = post(t, c, h.ts.URL+"/signin", url.Values{"token": {token[1]}, "csrf": {csrf[1]}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me" {
		t.Fatalf("POST /signin: %d to %q, want 303 to /me", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = get(t, c, h.ts.URL+"/me")
	csrf = csrfField.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("signed-in page lacks a CSRF field:\n%s", page)
	}
	return csrf[1]
}

func (h *harness) signInLink(role, ref string) string {
	h.t.Helper()
	link, err := h.client(role).IssueSignInLink(context.Background(), ref, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return link.URL
}

func TestSignInLinkWorksOnce(t *testing.T) {
	h := newHarness(t)
	link := h.signInLink(registry.RoleSteward, "P001")

	// Fetching the link does not use it; pressing the button does.
	c := browserless(t)
	get(t, c, link)
	get(t, c, link)
	signIn(t, h, c, link)

	var session *http.Cookie
	u, _ := url.Parse(h.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie after sign-in")
	}

	// Opening a used link reports it at once, without a sign-in button.
	again := browserless(t)
	resp, page := get(t, again, link)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "already used or has expired") {
		t.Errorf("opening a used sign-in link: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, `name="token"`) {
		t.Error("the page of a used link still has a sign-in form")
	}

	// Posting it anyway, with a fresh form, is refused too.
	fresh := browserless(t)
	_, page = get(t, fresh, h.signInLink(registry.RoleAdmin, "P001"))
	csrf := csrfField.FindStringSubmatch(page)
	used, _ := url.Parse(link)
	resp, page = post(t, fresh, h.ts.URL+"/signin", url.Values{"token": {used.Query().Get("token")}, "csrf": {csrf[1]}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "already used or has expired") {
		t.Errorf("second use of a sign-in link: %d\n%s", resp.StatusCode, page)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	h := newHarness(t)
	c := browserless(t)
	resp, page := get(t, c, h.signInLink(registry.RoleAdmin, "P001"))
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
	csrf := csrfField.FindStringSubmatch(page)
	resp, _ = post(t, c, h.ts.URL+"/signin", url.Values{"token": {token[1]}, "csrf": {csrf[1]}})
	var header string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, sessionCookie+"=") && !strings.Contains(v, "Max-Age=0") {
			header = v
		}
	}
	for _, flag := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(header, flag) {
			t.Errorf("session cookie %q lacks %s", header, flag)
		}
	}
	if strings.Contains(header, "Secure") {
		t.Errorf("session cookie %q is Secure on plain HTTP, so a browser would not send it back", header)
	}
}

func TestPageFormsNeedCSRF(t *testing.T) {
	h := newHarness(t)
	c := browserless(t)
	csrf := signIn(t, h, c, h.signInLink(registry.RoleAdmin, "P001"))
	before := h.logSize()

	for _, form := range []struct {
		path   string
		values url.Values
	}{
		{"/me/consent", url.Values{"allow": {"research:voice"}}},
		{"/me/erasure", url.Values{"confirm": {"yes"}}},
		{"/signout", url.Values{}},
	} {
		for _, bad := range []string{"", "forged"} {
			form.values.Set("csrf", bad)
			resp, page := post(t, c, h.ts.URL+form.path, form.values)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "did not come from this site") {
				t.Errorf("POST %s with CSRF %q: %d", form.path, bad, resp.StatusCode)
			}
		}
	}
	if after := h.logSize(); after != before {
		t.Errorf("forged forms changed the log from %d to %d entries", before, after)
	}

	// The real token works: saving unchanged choices records nothing.
	_, page := get(t, c, h.ts.URL+"/me/consent")
	values := url.Values{"csrf": {csrf}}
	for _, m := range regexp.MustCompile(`value="([a-z]+:[a-z]+)"[^>]*checked`).FindAllStringSubmatch(page, -1) {
		values.Add("allow", m[1])
	}
	resp, _ := post(t, c, h.ts.URL+"/me/consent", values)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=unchanged") {
		t.Errorf("POST unchanged consent: %d to %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPagesWithoutSessionRedirect(t *testing.T) {
	h := newHarness(t)
	c := browserless(t)
	for _, path := range []string{"/me", "/me/consent", "/me/payments", "/me/copy", "/me/erasure"} {
		resp, _ := get(t, c, h.ts.URL+path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("GET %s without a session: %d to %q, want 303 to /", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// A bearer token is no session: the pages take only the cookie.
	req, _ := http.NewRequest("GET", h.ts.URL+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+h.tokens[registry.RoleParticipant])
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /me with a bearer token: %d, want 303", resp.StatusCode)
	}
	h.checkStatusesDocumented()
}

// A field sent twice has no single meaning, so an irreversible form with
// confirm=yes&confirm=no changes nothing.
func TestPageFormsRejectRepeatedFields(t *testing.T) {
	h := newHarness(t)
	c := browserless(t)
	csrf := signIn(t, h, c, h.signInLink(registry.RoleAdmin, "P001"))
	before := h.logSize()
	for _, values := range []url.Values{
		{"csrf": {csrf}, "confirm": {"yes", "no"}},
		{"csrf": {csrf, csrf}, "confirm": {"yes"}},
	} {
		resp, page := post(t, c, h.ts.URL+"/me/erasure", values)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("erasure form %v: status %d, want 400", values, resp.StatusCode)
		}
		if !strings.Contains(page, "more than once") {
			t.Errorf("erasure form %v: page does not name the repeated field:\n%s", values, page)
		}
	}
	if after := h.logSize(); after != before {
		t.Errorf("repeated fields changed the log from %d to %d entries", before, after)
	}
}

// New permissions are given under the newest revision of the form the
// participant signed, not under whatever form was registered last, and
// the page shows that form and offers only its choices.
func TestConsentPageUsesParticipantsForm(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	other := consent.DefaultDocument()
	other.Version, other.Title = "q1", "Consent for the balance quality audit"
	other.Tiers, other.Modalities = []string{"clinical"}, []string{"pressure"}
	other.ThirdPartyTransfer = false
	other.Summary = "Your balance recordings are used to audit the clinic's care."
	if _, err := h.reg.AddDocument(ctx, other); err != nil {
		t.Fatal(err)
	}

	c := browserless(t)
	csrf := signIn(t, h, c, h.signInLink(registry.RoleAdmin, "P001"))
	_, page := get(t, c, h.ts.URL+"/me/consent")
	if !strings.Contains(page, "(version v1)</h3>") || strings.Contains(page, "balance quality audit") {
		t.Errorf("consent page of a v1 signer does not offer v1:\n%s", page)
	}
	if strings.Contains(page, "disabled") {
		t.Errorf("v1 offers every tier and modality, yet a box is disabled")
	}

	// Allowing clinical use of video records a grant under v1.
	values := url.Values{"csrf": {csrf}}
	for _, m := range regexp.MustCompile(`value="([a-z]+:[a-z]+)"[^>]*checked`).FindAllStringSubmatch(page, -1) {
		values.Add("allow", m[1])
	}
	values.Add("allow", "clinical:video")
	if resp, body := post(t, c, h.ts.URL+"/me/consent", values); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST consent: %d\n%s", resp.StatusCode, body)
	}
	_, records, _, err := h.reg.ConsentHistory(ctx, "P001")
	if err != nil {
		t.Fatal(err)
	}
	last := records[len(records)-1]
	if last.Document != "v1" || !slices.Equal(last.Modalities, []string{"video"}) {
		t.Errorf("new grant %+v, want clinical video under v1", last)
	}

	// P002 signed q1 last: only q1's choices can be newly ticked.
	if _, err := h.reg.Grant(ctx, "P002", registry.GrantInput{Document: "q1", Tiers: []string{"clinical"}, Modalities: []string{"pressure"}}); err != nil {
		t.Fatal(err)
	}
	c2 := browserless(t)
	signIn(t, h, c2, h.signInLink(registry.RoleAdmin, "P002"))
	_, page = get(t, c2, h.ts.URL+"/me/consent")
	if !strings.Contains(page, "balance quality audit (version q1)</h3>") {
		t.Errorf("consent page of a q1 signer does not offer q1:\n%s", page)
	}
	if !regexp.MustCompile(`value="clinical:video"[^>]* disabled`).MatchString(page) {
		t.Errorf("clinical video, which q1 does not offer, can be ticked:\n%s", page)
	}
	if regexp.MustCompile(`value="commercial:voice"[^>]* disabled`).MatchString(page) {
		t.Errorf("commercial voice, allowed under v1, cannot be unticked")
	}
}

// A grant through the API under a form revised since lists the purposes
// it does not cover.
func TestGrantUnderRevisedFormNotes(t *testing.T) {
	h := newHarness(t)
	v2 := consent.DefaultDocument()
	v2.Version, v2.Revision, v2.Supersedes = "v2", consent.RevisionMajor, "v1"
	v2.ChangedPurposes = []string{"commercial.product"}
	v2.Summary += "\nChanged: products built with your recordings may be sold abroad."
	if _, err := h.reg.AddDocument(context.Background(), v2); err != nil {
		t.Fatal(err)
	}
	grants := "/api/v1/participants/" + h.people["P001"] + "/consent/grants"
	status, raw := h.do(registry.RoleAdmin, "POST", grants, "application/json",
		strings.NewReader(`{"document":"v1","tiers":["commercial"],"modalities":["video"]}`))
	if status != http.StatusCreated {
		t.Fatalf("grant: %d %s", status, raw)
	}
	var res struct {
		NotCovered []string `json:"notCovered"`
		NewestForm string   `json:"newestForm"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.NotCovered, []string{"commercial.product"}) || res.NewestForm != "v2" {
		t.Errorf("grant under v1 after v2: notCovered %v, newestForm %q", res.NotCovered, res.NewestForm)
	}
	h.checkStatusesDocumented()
}

// A grant under a form that covers only a narrower purpose shows as given,
// can be taken back, and a save the form cannot honour changes nothing.
func TestConsentPageNarrowForm(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rehab := consent.DefaultDocument()
	rehab.Version, rehab.Title = "rehab1", "Consent for rehabilitation research"
	rehab.Tiers, rehab.Modalities, rehab.Purposes = []string{"research"}, []string{"video"}, []string{"research.rehabilitation"}
	rehab.ThirdPartyTransfer = false
	if _, err := h.reg.AddDocument(ctx, rehab); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.Grant(ctx, "P002", registry.GrantInput{Document: "rehab1", Tiers: []string{"research"}, Modalities: []string{"video"}}); err != nil {
		t.Fatal(err)
	}
	c := browserless(t)
	csrf := signIn(t, h, c, h.signInLink(registry.RoleAdmin, "P002"))
	_, page := get(t, c, h.ts.URL+"/me/consent")
	if !regexp.MustCompile(`value="research:video"[^>]* checked`).MatchString(page) {
		t.Fatalf("research use of video, granted under rehab1, is not shown as given:\n%s", page)
	}
	var stillAllowed []string
	for _, m := range regexp.MustCompile(`value="([a-z]+:[a-z]+)"[^>]*checked`).FindAllStringSubmatch(page, -1) {
		if m[1] != "research:video" {
			stillAllowed = append(stillAllowed, m[1])
		}
	}
	history := func() []consent.Record {
		_, records, _, err := h.reg.ConsentHistory(ctx, "P002")
		if err != nil {
			t.Fatal(err)
		}
		return records
	}

	// A save asking for a use the form does not offer records nothing.
	before := len(history())
	bad := url.Values{"csrf": {csrf}, "allow": append(slices.Clone(stillAllowed), "clinical:video")}
	if resp, _ := post(t, c, h.ts.URL+"/me/consent", bad); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("save with clinical video under rehab1: %d, want 400", resp.StatusCode)
	}
	if n := len(history()); n != before {
		t.Errorf("the rejected save recorded %d records", n-before)
	}

	// Unticking the box withdraws it.
	if resp, _ := post(t, c, h.ts.URL+"/me/consent", url.Values{"csrf": {csrf}, "allow": stillAllowed}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save without research video: %d", resp.StatusCode)
	}
	records := history()
	last := records[len(records)-1]
	if last.Action != consent.ActionWithdraw || !slices.Equal(last.Tiers, []string{"research"}) || !slices.Equal(last.Modalities, []string{"video"}) {
		t.Errorf("last record %+v, want a withdrawal of research video", last)
	}
}
