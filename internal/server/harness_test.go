package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/synth"
)

// harness is a registry served on 127.0.0.1 with tokens by role.
type harness struct {
	t      testing.TB
	reg    *registry.Registry
	srv    *Server
	ts     *httptest.Server
	tokens map[string]string // role -> secret; steward is site-a, participant is P001, licensee is acme
	// pseudonyms of the fixture's participants by source id.
	people map[string]string
	// releases by licensee.
	releases map[string]string

	mu   sync.Mutex
	seen map[*route]map[int]bool
}

// newBareHarness serves a new, empty registry on 127.0.0.1 with an admin
// token.
func newBareHarness(t testing.TB) *harness {
	t.Helper()
	reg, err := registry.Init(context.Background(), filepath.Join(t.TempDir(), "registry"), registry.InitOptions{Origin: "steward.test/server"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := New(Config{Registry: reg, Logger: logger, MaxJSONBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, reg: reg, srv: srv, tokens: map[string]string{}, people: map[string]string{}, releases: map[string]string{},
		seen: map[*route]map[int]bool{}}
	srv.observe = h.record
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(h.ts.Close)
	srv.cfg.BaseURL = h.ts.URL
	h.tokens[registry.RoleAdmin] = h.issue(registry.TokenSpec{Role: registry.RoleAdmin})
	return h
}

// newHarness serves the fixture: organisation site-a with participants
// P001 and P002, site-b with P101, each with three generated recordings
// and consent to research and commercial use of voice, sensor and
// pressure data; a commercial release for licensee acme and one for
// globex; and one token per role.
func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	h := newBareHarness(t)
	dir := t.TempDir()
	admin := h.client(registry.RoleAdmin)
	for _, org := range []struct {
		name   string
		people []string
	}{{"site-a", []string{"P001", "P002"}}, {"site-b", []string{"P101"}}} {
		manifest := writeManifest(t, filepath.Join(dir, org.name), org.people)
		if _, err := admin.Ingest(ctx, manifest, org.name); err != nil {
			t.Fatalf("ingest %s: %v", org.name, err)
		}
		for _, source := range org.people {
			p, _, _, err := h.reg.ConsentHistory(ctx, source)
			if err != nil {
				t.Fatal(err)
			}
			h.people[source] = p.Pseudonym
		}
	}
	for source, pseudonym := range h.people {
		grant := map[string]any{"document": "v1", "tiers": []string{"research", "commercial"}, "modalities": []string{"voice", "sensor", "pressure"}}
		if _, err := admin.Grant(ctx, pseudonym, grant); err != nil {
			t.Fatalf("grant consent of %s: %v", source, err)
		}
	}
	for _, licensee := range []string{"acme", "globex"} {
		res, err := admin.BuildRelease(ctx, client.ReleaseRequest{Purpose: "commercial", Licensee: licensee}, filepath.Join(dir, "bundle-"+licensee))
		if err != nil {
			t.Fatalf("build release for %s: %v", licensee, err)
		}
		h.releases[licensee] = res.Release.ID
	}

	h.tokens[registry.RoleSteward] = h.issue(registry.TokenSpec{Role: registry.RoleSteward, Org: "site-a"})
	h.tokens[registry.RoleParticipant] = h.issue(registry.TokenSpec{Role: registry.RoleParticipant, Participant: "P001"})
	h.tokens[registry.RoleLicensee] = h.issue(registry.TokenSpec{Role: registry.RoleLicensee, Licensee: "acme"})
	h.tokens[registry.RoleAuditor] = h.issue(registry.TokenSpec{Role: registry.RoleAuditor})
	return h
}

func (h *harness) issue(spec registry.TokenSpec) string {
	h.t.Helper()
	issued, err := h.reg.IssueToken(context.Background(), spec)
	if err != nil {
		h.t.Fatal(err)
	}
	return issued.Secret
}

func (h *harness) client(role string) *client.Client {
	h.t.Helper()
	c, err := client.New(h.ts.URL, h.tokens[role])
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) record(rt *route, status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[rt] == nil {
		h.seen[rt] = map[int]bool{}
	}
	h.seen[rt][status] = true
}

// do sends a request with the role's token ("" for none) and returns the
// status and body.
func (h *harness) do(role, method, path, contentType string, body io.Reader) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if secret := h.tokens[role]; secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// logSize returns the size of the registry's log.
func (h *harness) logSize() uint64 {
	h.t.Helper()
	rep, err := h.reg.VerifyLog(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return rep.Size
}

// writeManifest writes three generated recordings per participant and a
// JSON Lines manifest of them into dir, and returns the manifest's path.
// The recordings come from internal/synth: a 2 s vowel, a 10 s IMU walk
// and a 10 s insole walk, seeded by the participant's position.
func writeManifest(t testing.TB, dir string, people []string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i, p := range people {
		seed := int(dir[len(dir)-1])*100 + i
		recs := []struct {
			name, modality, format string
			rate, channels         int
			timeUnit               string
			write                  func(io.Writer) error
		}{
			{p + "-voice.wav", "voice", "wav", 16000, 1, "", func(w io.Writer) error { return synth.Vowel(w, 16000, 2, seed) }},
			{p + "-imu.tsv", "sensor", "tsv", 100, 6, "s", func(w io.Writer) error { return synth.IMU(w, 100, 10, seed) }},
			{p + "-insole.tsv", "pressure", "tsv", 100, 18, "s", func(w io.Writer) error { return synth.Insole(w, 100, 10, seed) }},
		}
		for _, rec := range recs {
			f, err := os.Create(filepath.Join(dir, rec.name))
			if err != nil {
				t.Fatal(err)
			}
			if err := rec.write(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			row := map[string]any{
				"path": rec.name, "participant": p, "modality": rec.modality, "format": rec.format,
				"samplingRate": rec.rate, "channels": rec.channels, "collectorId": "site-a/physio-1",
				"device": map[string]string{"model": "synth", "firmware": "1"}, "capturedAt": "2025-03-02T10:00:00Z",
				"protocol": "usual-walk", "labelSchemaVersion": "1", "consentVersion": "v1",
			}
			if rec.timeUnit != "" {
				row["timeUnit"] = rec.timeUnit
			}
			raw, _ := json.Marshal(row)
			lines = append(lines, string(raw))
		}
	}
	path := filepath.Join(dir, "manifest.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
