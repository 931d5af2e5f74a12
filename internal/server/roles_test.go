package server

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/registry"
)

// callers are the roles the matrix walks, with "" for no token.
var callers = append([]string{""}, registry.Roles...)

// matrixRequest builds the request of a route for the role matrix. Path
// parameters name the caller's own scope: participant P001 of site-a, and
// acme's release and notice. The payout batch and the policy they name do
// not exist. Bodies are harmless or invalid, so an allowed call changes
// little and a rejected one nothing.
func (h *harness) matrixRequest(rt *route, notice string) (path, contentType string, body []byte) {
	h.t.Helper()
	path = rt.path
	replace := map[string]string{
		"{ref}":     h.people["P001"],
		"{format}":  "gaitpdb",
		"{index}":   "1",
		"{path...}": "entries/000.p/1",
	}
	switch {
	case strings.HasPrefix(path, "/api/v1/releases/"):
		replace["{id}"] = h.releases["acme"]
	case strings.HasPrefix(path, "/api/v1/notices/"):
		replace["{id}"] = notice
	case strings.HasPrefix(path, "/api/v1/tokens/"):
		replace["{id}"] = h.throwawayToken()
	case strings.HasPrefix(path, "/api/v1/payouts/"):
		replace["{id}"] = "b-doesnotexist0"
	case strings.HasPrefix(path, "/api/v1/policies/"):
		replace["{ref}"] = "rehab-2026@1"
	}
	for k, v := range replace {
		path = strings.ReplaceAll(path, k, v)
	}
	if rt.method == "PUT" {
		return path, "application/json", []byte(`{"name":"","iban":""}`)
	}
	if rt.method != "POST" {
		return path, "", nil
	}
	switch rt.path {
	case "/api/v1/samples":
		return path + "?manifest=manifest.jsonl", tarType, nil
	case "/api/v1/imports/{format}":
		return path, tarType, nil
	case "/api/v1/participants/{ref}/consent/withdrawals":
		return path, "application/json", []byte(`{"tiers":["clinical"],"modalities":["video"]}`)
	case "/api/v1/participants/{ref}/erasure":
		return path, "application/json", []byte(`{"confirm":false}`)
	case "/api/v1/documents":
		return path, "application/yaml", []byte("version: v1\n")
	case "/api/v1/policies":
		return path, "application/yaml", []byte("id: matrix\n")
	case "/api/v1/samples/checks":
		return path, "application/json", []byte(`{"samples":["s-doesnotexist0"],"outcome":"passed"}`)
	}
	return path, "application/json", []byte(`{}`)
}

// throwawayToken issues an auditor token for a revoke call to act on.
func (h *harness) throwawayToken() string {
	issued, err := h.reg.IssueToken(context.Background(), registry.TokenSpec{Role: registry.RoleAuditor})
	if err != nil {
		h.t.Fatal(err)
	}
	return issued.Token.ID
}

// withdrawP002 withdraws P002's commercial consent to sensor data, which
// sends a notice to both releases, and returns acme's notice.
func (h *harness) withdrawP002() string {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.reg.Withdraw(ctx, h.people["P002"], registry.WithdrawInput{Tiers: []string{"commercial"}, Modalities: []string{"sensor"}, Method: "written"}); err != nil {
		h.t.Fatal(err)
	}
	_, notices, err := h.reg.ReleaseStatus(ctx, h.releases["acme"])
	if err != nil || len(notices) == 0 {
		h.t.Fatalf("notices of acme's release: %v, %d notices", err, len(notices))
	}
	return notices[len(notices)-1].ID
}

// TestRoleMatrix walks every API route with every role and with no token,
// and checks that exactly the route's roles get past the access check.
func TestRoleMatrix(t *testing.T) {
	h := newHarness(t)
	notice := h.withdrawP002()
	for _, rt := range table() {
		if rt.page {
			continue
		}
		for _, role := range callers {
			name := role
			if name == "" {
				name = "anonymous"
			}
			t.Run(rt.method+" "+rt.path+" as "+name, func(t *testing.T) {
				path, contentType, body := h.matrixRequest(rt, notice)
				status, raw := h.do(role, rt.method, path, contentType, bytes.NewReader(body))
				allowed := rt.public || slices.Contains(rt.roles, role)
				refused := status == http.StatusUnauthorized || status == http.StatusForbidden ||
					(rt.hidden && status == http.StatusNotFound)
				switch {
				case allowed && refused:
					t.Errorf("%s %s as %s: %d %s, want access", rt.method, path, name, status, raw)
				case !allowed && !refused:
					t.Errorf("%s %s as %s: %d %s, want a refusal", rt.method, path, name, status, raw)
				case !allowed && rt.hidden && !bytes.Equal(raw, h.missingReleaseBody(rt)):
					t.Errorf("%s %s as %s: body %s differs from the body for a release that does not exist", rt.method, path, name, raw)
				}
			})
		}
	}
	h.checkStatusesDocumented()
}

// missingReleaseBody returns what an admin gets for a release that does
// not exist on the route.
func (h *harness) missingReleaseBody(rt *route) []byte {
	path := strings.ReplaceAll(rt.path, "{id}", "r-doesnotexist0")
	_, raw := h.do(registry.RoleAdmin, rt.method, path, "", nil)
	return raw
}

// checkStatusesDocumented fails for any status a route responded with that its
// table entry, and so api/openapi.yaml, does not list.
func (h *harness) checkStatusesDocumented() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for rt, statuses := range h.seen {
		for status := range statuses {
			if !slices.Contains(rt.statuses, status) {
				h.t.Errorf("%s %s answered %d, which api/openapi.yaml does not document", rt.method, rt.path, status)
			}
		}
	}
}

// TestReleaseFilesRevealNothing requests the file list, bundle, notices
// and summary of globex's release as acme, with no token, and of a release
// that does not exist: the status and the body are the same every time.
func TestReleaseFilesRevealNothing(t *testing.T) {
	h := newHarness(t)
	for _, suffix := range []string{"/files", "/bundle", "/bundle?format=zip&data=true", "/notices", ""} {
		type answer struct {
			status int
			body   string
		}
		ask := func(role, release string) answer {
			status, raw := h.do(role, "GET", "/api/v1/releases/"+release+suffix, "", nil)
			return answer{status, string(raw)}
		}
		missing := ask(registry.RoleAdmin, "r-doesnotexist0")
		if missing.status != http.StatusNotFound {
			t.Fatalf("GET a missing release%s as admin: %d %s, want 404", suffix, missing.status, missing.body)
		}
		cases := map[string]answer{
			"licensee acme, globex's release":         ask(registry.RoleLicensee, h.releases["globex"]),
			"no token, globex's release":              ask("", h.releases["globex"]),
			"no token, a release that does not exist": ask("", "r-doesnotexist0"),
			"licensee acme, a missing release":        ask(registry.RoleLicensee, "r-doesnotexist0"),
			"participant, acme's release":             ask(registry.RoleParticipant, h.releases["acme"]),
			"steward, acme's release":                 ask(registry.RoleSteward, h.releases["acme"]),
		}
		for name, got := range cases {
			if got != missing {
				t.Errorf("GET release%s, %s: %d %q, want the same as for a missing release: %d %q", suffix, name, got.status, got.body, missing.status, missing.body)
			}
			for _, leak := range []string{"manifest", "licence", "checkpoint", h.releases["globex"], "files"} {
				if strings.Contains(got.body, leak) {
					t.Errorf("GET release%s, %s: the refusal contains %q", suffix, name, leak)
				}
			}
		}
	}

	// The owner sees the files.
	status, raw := h.do(registry.RoleLicensee, "GET", "/api/v1/releases/"+h.releases["acme"]+"/files", "", nil)
	if status != http.StatusOK || !strings.Contains(string(raw), "manifest.json") {
		t.Errorf("acme's own release files: %d %s", status, raw)
	}
}

// TestLicenseeSeesOnlyOwnReleases checks the release list, the notice feed
// and acknowledgement of another licensee's notice.
func TestLicenseeSeesOnlyOwnReleases(t *testing.T) {
	h := newHarness(t)
	h.withdrawP002()
	ctx := context.Background()
	acme := h.client(registry.RoleLicensee)

	releases, err := acme.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(releases) != 1 || releases[0].ID != h.releases["acme"] {
		t.Errorf("acme lists releases %v, want only %s", releases, h.releases["acme"])
	}

	items, err := acme.NoticeFeed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) == 0 {
		t.Fatal("acme's notice feed is empty after a withdrawal behind its release")
	}
	for _, it := range items {
		if it.Notice.Release != h.releases["acme"] {
			t.Errorf("acme's feed has notice %s of release %s", it.ID, it.Notice.Release)
		}
	}

	_, globexNotices, err := h.reg.ReleaseStatus(ctx, h.releases["globex"])
	if err != nil || len(globexNotices) == 0 {
		t.Fatalf("globex notices: %v", err)
	}
	before := h.logSize()
	_, err = acme.Acknowledge(ctx, globexNotices[0].ID, "")
	if status := statusOf(err); status != http.StatusNotFound {
		t.Errorf("acme acknowledging globex's notice: %v, want 404", err)
	}
	if after := h.logSize(); after != before {
		t.Errorf("a refused acknowledgement changed the log from %d to %d entries", before, after)
	}

	ack, err := acme.Acknowledge(ctx, items[0].ID, "")
	if err != nil {
		t.Fatalf("acme acknowledging its own notice: %v", err)
	}
	if ack.Licensee != "acme" {
		t.Errorf("acknowledged as %q, want acme", ack.Licensee)
	}
	_, err = acme.Acknowledge(ctx, items[0].ID, "")
	if status := statusOf(err); status != http.StatusConflict {
		t.Errorf("acknowledging twice: %v, want 409", err)
	}
}

// TestParticipantScope checks that a participant token reaches only its
// own data and a steward token only its organisation.
func TestParticipantScope(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		role, ref string
		want      int
	}{
		{registry.RoleParticipant, h.people["P001"], http.StatusOK},
		{registry.RoleParticipant, "me", http.StatusOK},
		{registry.RoleParticipant, h.people["P002"], http.StatusForbidden},
		{registry.RoleParticipant, "P002", http.StatusForbidden},
		{registry.RoleParticipant, "p-doesnotexist0", http.StatusForbidden},
		{registry.RoleSteward, h.people["P002"], http.StatusOK},
		{registry.RoleSteward, h.people["P101"], http.StatusNotFound},
		{registry.RoleSteward, "P101", http.StatusNotFound},
		{registry.RoleSteward, "p-doesnotexist0", http.StatusNotFound},
		{registry.RoleAdmin, h.people["P101"], http.StatusOK},
	}
	for _, c := range cases {
		for _, rest := range []string{"", "/consent", "/export"} {
			status, raw := h.do(c.role, "GET", "/api/v1/participants/"+c.ref+rest, "", nil)
			if status != c.want {
				t.Errorf("GET participant %s%s as %s: %d %s, want %d", c.ref, rest, c.role, status, raw, c.want)
			}
		}
		if c.role == registry.RoleAdmin {
			continue
		}
		body := bytes.NewReader([]byte(`{"tiers":["commercial"]}`))
		status, raw := h.do(c.role, "POST", "/api/v1/participants/"+c.ref+"/consent/withdrawals", "application/json", body)
		if c.want != http.StatusOK && status != c.want {
			t.Errorf("withdraw for %s as %s: %d %s, want %d", c.ref, c.role, status, raw, c.want)
		}
	}

	// Refused withdrawals recorded nothing.
	ctx := context.Background()
	_, records, _, err := h.reg.ConsentHistory(ctx, h.people["P101"])
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range records {
		if rec.Action == "withdraw" {
			t.Errorf("a refused withdrawal for P101 was recorded: %+v", rec)
		}
	}
}

func statusOf(err error) int { return client.StatusOf(err) }
