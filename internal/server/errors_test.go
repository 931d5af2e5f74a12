package server

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/registry"
)

// tarOf returns a tar archive of the given entries, in order. An entry
// whose declared size exceeds its content is cut off after the content,
// as a client that stops sending would leave it.
func tarOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		size := e.size
		if size == 0 {
			size = int64(len(e.content))
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: size, Typeflag: e.typ()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.content)); err != nil {
			t.Fatal(err)
		}
		if size > int64(len(e.content)) {
			return buf.Bytes()
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type tarEntry struct {
	name, content string
	size          int64 // declared size, when more than the content
	dir           bool
}

func (e tarEntry) typ() byte {
	if e.dir {
		return tar.TypeDir
	}
	return tar.TypeReg
}

// errorMessage decodes a JSON error body.
func errorMessage(t *testing.T, raw []byte) string {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("response is not a JSON error: %s", raw)
	}
	return body.Error
}

func TestUploadErrorsAreClientErrors(t *testing.T) {
	h := newBareHarness(t)
	cases := []struct {
		name    string
		body    []byte
		message string
	}{
		{"entry cut off", tarOf(t, tarEntry{name: "m.jsonl", content: "{}\n"}, tarEntry{name: "x.wav", content: "RIFF", size: 4096}),
			`the tar archive ends inside entry "x.wav"`},
		{"header cut off", tarOf(t, tarEntry{name: "m.jsonl", content: "{}\n"}, tarEntry{name: "x.wav", content: "RIFF"})[:1124], "the tar archive ends inside an entry's header"},
		{"entry twice", tarOf(t, tarEntry{name: "x.wav", content: "a"}, tarEntry{name: "x.wav", content: "b"}), `tar entry "x.wav" appears twice`},
		{"file then folder", tarOf(t, tarEntry{name: "a", content: "a"}, tarEntry{name: "a/x.wav", content: "b"}), `tar entry "a/x.wav" needs a folder`},
		{"folder then file", tarOf(t, tarEntry{name: "a", dir: true}, tarEntry{name: "a", content: "b"}), `tar entry "a" appears twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw := h.do(registry.RoleAdmin, "POST", "/api/v1/samples?manifest=m.jsonl", tarType, bytes.NewReader(c.body))
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", status, raw)
			}
			msg := errorMessage(t, raw)
			if !strings.Contains(msg, c.message) {
				t.Errorf("message %q does not contain %q", msg, c.message)
			}
			if strings.Contains(msg, os.TempDir()) || strings.Contains(msg, "steward-upload") {
				t.Errorf("message %q names a server path", msg)
			}
		})
	}
	h.checkStatusesDocumented()
}

func TestJSONErrorsNameExpectedType(t *testing.T) {
	h := newHarness(t)
	grants := "/api/v1/participants/" + h.people["P001"] + "/consent/grants"
	cases := []struct {
		name, body, message string
	}{
		{"array body", `[]`, "invalid JSON body: expected a JSON object, not an array"},
		{"string body", `"v1"`, "expected a JSON object, not a string"},
		{"number body", `5`, "expected a JSON object, not a number"},
		{"string for array", `{"document":"v1","tiers":"research","modalities":["voice"]}`, "field tiers must be an array of strings, not a string"},
		{"number for string", `{"document":1,"tiers":["research"],"modalities":["voice"]}`, "field document must be a string, not a number"},
		{"string for bool", `{"document":"v1","tiers":["research"],"modalities":["voice"],"deny":"yes"}`, "field deny must be true or false, not a string"},
		{"bad time", `{"document":"v1","tiers":["research"],"modalities":["voice"],"from":"yesterday"}`, "field from must be a date and time in RFC 3339"},
		{"number for time", `{"document":"v1","tiers":["research"],"modalities":["voice"],"until":5}`, "field until must be a date and time in RFC 3339"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw := h.do(registry.RoleAdmin, "POST", grants, "application/json", strings.NewReader(c.body))
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", status, raw)
			}
			msg := errorMessage(t, raw)
			if !strings.Contains(msg, c.message) {
				t.Errorf("message %q does not contain %q", msg, c.message)
			}
			if strings.Contains(msg, "server.") || strings.Contains(msg, "Request") {
				t.Errorf("message %q names a Go type", msg)
			}
		})
	}
}

func TestMethodNotAllowedIsJSON(t *testing.T) {
	h := newBareHarness(t)
	req, err := http.NewRequest("PUT", h.ts.URL+"/api/v1/tokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status %d, want 405", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow %q, want GET and POST", allow)
	}
	if msg := errorMessage(t, raw); !strings.Contains(msg, "method PUT is not allowed") {
		t.Errorf("message %q does not name the method", msg)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("the 405 response has no X-Request-Id")
	}
}

// TestTruncatedBodyIsBadRequest sends a body shorter than its
// Content-Length and closes the connection's writing side.
func TestTruncatedBodyIsBadRequest(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{
		"/api/v1/participants/" + h.people["P001"] + "/consent/fhir",
		"/api/v1/documents",
		"/api/v1/participants/" + h.people["P001"] + "/consent/withdrawals",
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tiers\":", path, h.tokens[registry.RoleAdmin])
		conn.(*net.TCPConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no response to a cut-off body: %v", path, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", path, resp.StatusCode, raw)
		}
		if msg := errorMessage(t, raw); !strings.Contains(msg, "ended before it was complete") {
			t.Errorf("%s: message %q", path, msg)
		}
	}
}

func TestPathRedactorRemovesServerFolders(t *testing.T) {
	redact := newPathRedactor("/tmp", "/srv/steward-data")
	cases := []struct{ in, want string }{
		{"open /tmp/steward-upload-123/sub/x.wav: no such file", "open sub/x.wav: no such file"},
		{`write "/srv/steward-data/blobs/ab/cd": no space left on device`, `write "(server path)": no space left on device`},
		{"stat /tmp/other: denied", "stat (server path): denied"},
		{"participant GaPt03 not found", "participant GaPt03 not found"},
		{"see /api/v1/openapi.yaml", "see /api/v1/openapi.yaml"},
	}
	for _, c := range cases {
		if got := redact(c.in); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
