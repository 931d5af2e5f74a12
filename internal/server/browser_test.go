package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/registry"
)

// browserTestPolicy pays 500 cents per foot pressure recording and 100 per
// commercial use. It was written for this test.
const browserTestPolicy = `id: browser-test
currency: EUR
perSample: {pressure: 500, sensor: 400, voice: 300, video: 800}
perUse: {commercial: 100, clinical: 50, research: 0}
royaltyShare: 0.10
`

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir returns the folder for the test's screenshots: the one
// STEWARD_SCREENSHOTS names, or the test's temporary folder.
func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("STEWARD_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// newBrowser starts headless Chromium with a fresh profile and the flags
// that keep it off the network, and returns a tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Skipf("%s not found: install Debian's chromium package (apt-get install -y chromium) to run the browser test", chromiumPath)
	}
	// The profile is removed after the browser exits, not by t.TempDir,
	// whose cleanup can race with Chromium's last writes to it.
	profile, err := os.MkdirTemp("", "steward-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1100, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		cancelTimeout()
		cancel()
		cancelAlloc()
		if err := os.RemoveAll(profile); err != nil {
			t.Logf("remove the browser profile %s: %v", profile, err)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// gaitPDB is the PhysioNet gaitpdb folder beside the repository.
func gaitPDB(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", "physionet-gaitpdb")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("dataset physionet-gaitpdb not present beside the repository: %v", err)
	}
	return dir
}

// TestParticipantPagesInBrowser imports PhysioNet gaitpdb through the API,
// publishes a commercial release of GaPt03's foot pressure recordings for
// licensee acme, and drives GaPt03's pages in headless Chromium: sign in,
// see the data, withdraw commercial consent, see the notice reach acme's
// feed, download the copy, ask for erasure; then verifies the log.
func TestParticipantPagesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test starts Chromium and imports a dataset; skipped with -short")
	}
	data := gaitPDB(t)
	browser := newBrowser(t)
	shots := screenshotDir(t)
	h := newBareHarness(t)
	ctx := context.Background()
	admin := h.client(registry.RoleAdmin)

	// The registry: a compensation policy, gaitpdb imported through the
	// API, GaPt03's consent, and a release for acme.
	policy, err := ledger.ParsePolicy("policy.yaml", []byte(browserTestPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.reg.AddPolicy(ctx, policy); err != nil {
		t.Fatal(err)
	}
	res, err := admin.Import(ctx, "gaitpdb", data)
	if err != nil {
		t.Fatalf("import gaitpdb: %v", err)
	}
	t.Logf("imported %d samples of gaitpdb", len(res.Samples))
	grant := map[string]any{"document": "v1", "tiers": []string{"research", "commercial"}, "modalities": []string{"pressure"}}
	if _, err := admin.Grant(ctx, "GaPt03", grant); err != nil {
		t.Fatal(err)
	}
	// Under a policy a sample is released only once its data checks passed,
	// which posts its payment.
	var samples []string
	for _, s := range res.Samples {
		samples = append(samples, s.Sample)
	}
	if _, err := h.reg.CheckSamples(ctx, samples, event.CheckPassed, ""); err != nil {
		t.Fatal(err)
	}
	built, err := admin.BuildRelease(ctx, client.ReleaseRequest{Purpose: "commercial", Modalities: []string{"pressure"}, Licensee: "acme"}, filepath.Join(t.TempDir(), "bundle"))
	if err != nil {
		t.Fatal(err)
	}
	if built.Release.SampleCount == 0 {
		t.Fatal("the release holds no sample of GaPt03")
	}
	h.tokens[registry.RoleSteward] = h.issue(registry.TokenSpec{Role: registry.RoleSteward, Org: "gaitpdb"})
	h.tokens[registry.RoleLicensee] = h.issue(registry.TokenSpec{Role: registry.RoleLicensee, Licensee: "acme"})
	h.tokens[registry.RoleAuditor] = h.issue(registry.TokenSpec{Role: registry.RoleAuditor})
	link := h.signInLink(registry.RoleSteward, "GaPt03")

	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		if err := chromedp.Run(browser, chromedp.Text(sel, &s, chromedp.ByQuery)); err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	// Sign in: the link shows a button, and pressing it opens the data page.
	err = chromedp.Run(browser,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`button[type=submit]`, chromedp.ByQuery),
		shot("01-sign-in"),
		chromedp.Click(`form[action="/signin"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#recordings`, chromedp.ByQuery),
		shot("02-recordings"),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	main := text("main")
	for _, want := range []string{"Foot pressure measurements", built.Release.ID, "for acme", "Commercial"} {
		if !strings.Contains(main, want) {
			t.Errorf("the data page does not show %q:\n%s", want, main)
		}
	}

	// The skip link is the first thing the keyboard reaches.
	var focused string
	err = chromedp.Run(browser,
		chromedp.KeyEvent("\t"),
		chromedp.Evaluate(`document.activeElement.textContent`, &focused),
	)
	if err != nil || focused != "Skip to main content" {
		t.Errorf("first Tab focuses %q (%v), want the skip link", focused, err)
	}

	// Withdraw commercial consent to foot pressure.
	err = chromedp.Run(browser,
		chromedp.Navigate(h.ts.URL+"/me/consent"),
		chromedp.WaitVisible(`#commercial-pressure`, chromedp.ByQuery),
		shot("03-consent"),
		chromedp.Click(`label[for="commercial-pressure"]`, chromedp.ByQuery),
		chromedp.Click(`form[action="/me/consent"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`.flash`, chromedp.ByQuery),
		shot("04-consent-saved"),
	)
	if err != nil {
		t.Fatalf("withdraw consent: %v", err)
	}
	if flash := text(".flash"); !strings.Contains(flash, "Your choices were saved") {
		t.Errorf("after saving consent the page says %q", flash)
	}
	var stillChecked bool
	if err := chromedp.Run(browser, chromedp.Evaluate(`document.getElementById("commercial-pressure").checked`, &stillChecked)); err != nil || stillChecked {
		t.Errorf("commercial use of foot pressure still ticked after withdrawing (%v)", err)
	}
	if history := text("ol.history"); !strings.Contains(history, "you took back commercial products use of foot pressure measurements") {
		t.Errorf("the history does not show the withdrawal:\n%s", history)
	}

	// The notice reaches acme's feed.
	items, err := h.client(registry.RoleLicensee).NoticeFeed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Research use stays allowed, so the registry calls the change narrowed.
	if len(items) != 1 || items[0].Notice.Release != built.Release.ID || items[0].Notice.Reason != registry.NoticeNarrowed {
		t.Fatalf("acme's feed after the withdrawal: %+v, want one narrowed notice of %s", items, built.Release.ID)
	}
	if err := chromedp.Run(browser, chromedp.Navigate(h.ts.URL+"/me"), chromedp.WaitVisible(`#releases`, chromedp.ByQuery), shot("05-recordings-after-withdrawal")); err != nil {
		t.Fatal(err)
	}
	if main := text("main"); !strings.Contains(main, "they were told to delete") {
		t.Errorf("the data page does not show the notice:\n%s", main)
	}

	// The payments page shows the ledger's statement: the recording's
	// payment and the payment for its use in acme's release.
	if err := chromedp.Run(browser, chromedp.Navigate(h.ts.URL+"/me/payments"), chromedp.WaitVisible(`#pay-EUR`, chromedp.ByQuery), shot("06-payments")); err != nil {
		t.Fatal(err)
	}
	st, err := h.reg.Statement(ctx, "GaPt03")
	if err != nil || len(st.Currencies) != 1 {
		t.Fatalf("statement of GaPt03: %v, %+v", err, st)
	}
	payments := text("main")
	for _, want := range []string{
		"Credited to you so far", ledger.FormatAmount(st.Currencies[0].Earned, "EUR"),
		ledger.FormatAmount(st.Currencies[0].Pending, "EUR"),
		"For the use of your recording", built.Release.ID,
	} {
		if !strings.Contains(payments, want) {
			t.Errorf("the payments page does not show %q:\n%s", want, payments)
		}
	}

	// Download the copy with the browser's session cookie.
	copyZip := fetchWithSession(t, browser, h.ts.URL+"/me/copy")
	zr, err := zip.NewReader(bytes.NewReader(copyZip), int64(len(copyZip)))
	if err != nil {
		t.Fatalf("the copy is not a zip: %v", err)
	}
	var names []string
	var meta struct {
		Pseudonym string `json:"pseudonym"`
		SourceID  string `json:"sourceId"`
		Samples   []struct {
			ID string `json:"id"`
		} `json:"samples"`
	}
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Modified.Year() < 2000 {
			t.Errorf("%s in the copy is dated %s", f.Name, f.Modified)
		}
		if f.Name == "metadata.json" {
			rc, _ := f.Open()
			raw, _ := io.ReadAll(rc)
			rc.Close()
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatalf("metadata.json: %v", err)
			}
		}
	}
	if meta.SourceID != "GaPt03" || len(meta.Samples) == 0 || len(names) != 1+len(meta.Samples) {
		t.Errorf("the copy holds %v with metadata %+v, want metadata.json and one recording per sample of GaPt03", names, meta)
	}

	// Ask for erasure: the box must be ticked, then the data is gone.
	err = chromedp.Run(browser,
		chromedp.Navigate(h.ts.URL+"/me/erasure"),
		chromedp.WaitVisible(`#confirm`, chromedp.ByQuery),
		shot("07-erasure"),
		chromedp.Click(`label[for="confirm"]`, chromedp.ByQuery),
		chromedp.Click(`form[action="/me/erasure"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "was erased")]`, chromedp.BySearch),
		shot("08-erased"),
	)
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	view, err := h.reg.ParticipantView(ctx, meta.Pseudonym)
	if err != nil {
		t.Fatal(err)
	}
	if view.Participant.ErasedAt.IsZero() {
		t.Error("the participant is not erased after the erasure form")
	}
	if err := chromedp.Run(browser, chromedp.Navigate(h.ts.URL+"/me"), chromedp.WaitVisible(`main`, chromedp.ByQuery), shot("09-after-erasure")); err != nil {
		t.Fatal(err)
	}
	// The erasure ended the session with every other token of the
	// participant, so the data page requests a new sign-in link.
	if main := text("main"); !strings.Contains(main, "you need a sign-in link") {
		t.Errorf("the data page after erasure:\n%s", main)
	}

	// The log verifies, by the registry's own checker and from tiles.
	rep, err := h.reg.VerifyLog(ctx)
	if err != nil {
		t.Fatalf("verify log: %v", err)
	}
	if err := h.reg.VerifyContent(ctx, rep); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify content: %v %v", err, rep.Problems)
	}
	size, root := h.readCheckpoint()
	got, err := treeHashFromTiles(h, size, root)
	if err != nil || got != root {
		t.Fatalf("tree hash from tiles %v (%v), checkpoint root %v", got, err, root)
	}
	t.Logf("log of %d entries verified; screenshots in %s", size, shots)
}

// fetchWithSession downloads a URL with the cookies the browser holds for
// it, as a click on a download link would.
func fetchWithSession(t *testing.T, browser context.Context, u string) []byte {
	t.Helper()
	var cookies []*network.Cookie
	err := chromedp.Run(browser, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().WithURLs([]string{u}).Do(ctx)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", u, nil)
	found := false
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		if c.Name == sessionCookie {
			found = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v, want HttpOnly and Strict", c.HTTPOnly, c.SameSite)
			}
		}
	}
	if !found {
		t.Fatal("the browser holds no session cookie")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return raw
}
