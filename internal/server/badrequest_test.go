package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/registry"
)

// TestBadRequestsChangeNothing sends malformed, oversized, unauthorised and
// misdirected requests, and checks the status, that the message names what
// was wrong, and that the log did not grow.
func TestBadRequestsChangeNothing(t *testing.T) {
	h := newHarness(t)
	p001 := "/api/v1/participants/" + h.people["P001"]
	expired := h.issue(registry.TokenSpec{Role: registry.RoleAdmin, TTL: time.Millisecond})
	revoked, err := h.reg.IssueToken(context.Background(), registry.TokenSpec{Role: registry.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.reg.RevokeToken(context.Background(), revoked.Token.ID, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	h.tokens["expired"] = expired
	h.tokens["revoked"] = revoked.Secret
	h.tokens["garbage"] = "stw_not-a-real-token"
	big := `{"tiers":["commercial"],"witness":"` + strings.Repeat("x", 70<<10) + `"}`

	cases := []struct {
		name, role, method, path, contentType, body string
		status                                      int
		message                                     string
	}{
		{"malformed JSON", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"`, 400, "invalid JSON body"},
		{"JSON syntax error", registry.RoleAdmin, "POST", p001 + "/consent/grants", "application/json", `{"document": v1}`, 400, "invalid JSON body at byte"},
		{"unknown field", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"],"everything":true}`, 400, `unknown field "everything"`},
		{"wrong type", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":"commercial"}`, 400, "field tiers must be"},
		{"field twice in another case", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["research"],"modalities":["voice"],"Tiers":["commercial"]}`, 400, `field "Tiers" is given twice`},
		{"field twice", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["research"],"modalities":["voice"],"tiers":["commercial"]}`, 400, `field "tiers" is given twice`},
		{"null tiers", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":null}`, 400, "tiers is empty or null"},
		{"empty modalities", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["research"],"modalities":[]}`, 400, "modalities is empty or null"},
		{"two objects", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]} {}`, 400, "unexpected data after the first object"},
		{"empty body", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", ``, 400, "empty request body"},
		{"not JSON", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "text/plain", `tiers=commercial`, 415, "send application/json"},
		{"oversized body", registry.RoleAdmin, "POST", p001 + "/consent/withdrawals", "application/json", big, 413, "larger than the limit"},
		{"invalid grant", registry.RoleAdmin, "POST", p001 + "/consent/grants", "application/json", `{"document":"v9","tiers":["commercial"],"modalities":["voice"]}`, 400, "v9"},
		{"expired token", "expired", "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 401, "invalid or expired token"},
		{"revoked token", "revoked", "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 401, "invalid or expired token"},
		{"unknown token", "garbage", "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 401, "invalid or expired token"},
		{"no token", "", "POST", p001 + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 401, "missing token"},
		{"another participant", registry.RoleParticipant, "POST", "/api/v1/participants/" + h.people["P002"] + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 403, "only access its own data"},
		{"another participant's erasure", registry.RoleParticipant, "POST", "/api/v1/participants/" + h.people["P002"] + "/erasure", "application/json", `{"confirm":true}`, 403, "only access its own data"},
		{"erasure unconfirmed", registry.RoleParticipant, "POST", p001 + "/erasure", "application/json", `{"confirm":false}`, 400, "cannot be undone"},
		{"another organisation", registry.RoleSteward, "POST", "/api/v1/participants/" + h.people["P101"] + "/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 404, "not found in organisation"},
		{"unknown participant", registry.RoleAdmin, "POST", "/api/v1/participants/NOBODY/consent/withdrawals", "application/json", `{"tiers":["commercial"]}`, 404, "not found"},
		{"token for unknown role", registry.RoleAdmin, "POST", "/api/v1/tokens", "application/json", `{"role":"root"}`, 400, `invalid role "root"`},
		{"token with bad expiry", registry.RoleAdmin, "POST", "/api/v1/tokens", "application/json", `{"role":"auditor","expires":"tomorrow"}`, 400, "invalid expires"},
		{"release without purpose", registry.RoleAdmin, "POST", "/api/v1/releases", "application/json", `{}`, 400, "no purpose given"},
		{"upload not a tar", registry.RoleAdmin, "POST", "/api/v1/samples?manifest=m.jsonl", "application/json", `{}`, 415, "tar archive"},
		{"upload broken tar", registry.RoleAdmin, "POST", "/api/v1/samples?manifest=m.jsonl", tarType, `this is not a tar archive at all, it is far too short`, 400, "tar archive"},
		{"unknown API route", registry.RoleAdmin, "GET", "/api/v1/nothing", "", ``, 404, "no such API route"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.logSize()
			status, raw := h.do(c.role, c.method, c.path, c.contentType, bytes.NewReader([]byte(c.body)))
			if status != c.status {
				t.Errorf("%d %s, want %d", status, raw, c.status)
			}
			var body errorBody
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("answer is not a JSON error: %s", raw)
			}
			if !strings.Contains(body.Error, c.message) {
				t.Errorf("message %q does not contain %q", body.Error, c.message)
			}
			if after := h.logSize(); after != before {
				t.Errorf("the log grew from %d to %d entries", before, after)
			}
		})
	}
	h.checkStatusesDocumented()
}

// TestMetricsCountRequests checks that /metrics serves the server's own
// registry with request counts by route pattern, never by path.
func TestMetricsCountRequests(t *testing.T) {
	h := newHarness(t)
	h.do("", "GET", "/api/v1/releases/"+h.releases["acme"]+"/files", "", nil)
	status, raw := h.do("", "GET", "/metrics", "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d", status)
	}
	text := string(raw)
	for _, want := range []string{
		`steward_http_requests_total{code="404",method="GET",route="GET /api/v1/releases/{id}/files"} 1`,
		`steward_http_access_denied_total{reason="hidden"} 1`,
		"steward_http_request_duration_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, h.releases["acme"]) {
		t.Error("metrics name a release id")
	}
}

// TestSlowBodyTimesOut sends half a body and stalls: the server responds
// 503 once the request timeout passes, instead of holding the connection.
func TestSlowBodyTimesOut(t *testing.T) {
	h := newHarness(t)
	h.srv.cfg.RequestTimeout = 300 * time.Millisecond
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := "/api/v1/participants/" + h.people["P001"] + "/consent/withdrawals"
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tiers\":", path, h.tokens[registry.RoleAdmin])

	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stalled body: %d, want 503", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("the server responded after %s, want about the 300 ms timeout", elapsed)
	}
}
