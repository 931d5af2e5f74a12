package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/synth"
)

// The end-to-end tests build the steward binary once and run it as a user
// would, on the public datasets in ../shared/data and on generated files.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "steward-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "steward")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build steward:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sharedData is the folder of real public datasets beside the repository.
func sharedData(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data", name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared dataset %s not present: %v", name, err)
	}
	return dir
}

// cli runs steward commands against one registry folder.
type cli struct {
	t   *testing.T
	dir string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, dir: filepath.Join(t.TempDir(), "steward-data")}
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "STEWARD_DIR="+c.dir, "STEWARD_DB=", "STEWARD_BLOBS=")
	return cmd
}

// run runs a command that must succeed and returns its standard output.
func (c *cli) run(args ...string) string {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := c.command(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("steward %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// fail runs a command that must fail and returns its standard error.
func (c *cli) fail(args ...string) string {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := c.command(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		c.t.Fatalf("steward %s succeeded, want failure\nstdout:\n%s", strings.Join(args, " "), stdout.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		c.t.Fatalf("steward %s exited %d, want 1\nstderr:\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return stderr.String()
}

func mustContain(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("output does not contain %q:\n%s", w, got)
		}
	}
}

func TestRealDataFlow(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	pub := filepath.Join(c.dir, "log.pub")

	out := c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	mustContain(t, out, "7 samples registered", "JuCo10")
	first := regexp.MustCompile(`(?m)^registered (GaPt03_01\.txt .* at log index \d+)$`).FindStringSubmatch(out)
	if first == nil {
		t.Fatalf("no registration line for GaPt03_01.txt in:\n%s", out)
	}
	out = c.run("import", "wfdb", sharedData(t, "physionet-gaitndd"))
	mustContain(t, out, "5 samples registered", "skipped")
	out = c.run("import", "bids", sharedData(t, "bids-motion-dualtask"))
	mustContain(t, out, "skipped")

	// A second import of the same folder registers nothing new.
	out = c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	mustContain(t, out, "0 samples registered, 7 already present")
	// It names the original sample and log index of each file.
	mustContain(t, out, "already registered "+first[1])

	c.run("consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure")
	c.run("consent", "grant", "JuPt03", "--document", "v1", "--tiers", "research", "--modalities", "pressure")
	c.run("consent", "grant", "park1", "--document", "v1", "--tiers", "commercial", "--modalities", "pressure", "--until", "2024-12-31",
		"--signed", "2024-01-01", "--from", "2024-01-01")
	out = c.run("consent", "show", "GaPt03")
	mustContain(t, out, "commercial", "pressure=permit")

	bundle := filepath.Join(t.TempDir(), "release-1")
	out = c.run("release", "build", "--purpose", "commercial", "--modality", "pressure", "--out", bundle, "--with-data")
	// GaPt03 has two walks of which one is registered here (GaPt03_01);
	// park1's grant expired and JuPt03 allowed research only.
	mustContain(t, out, "release r-", "1 of 12 samples", "consent expired")
	out = c.run("verify", bundle, "--key", pub)
	mustContain(t, out, "verified", "1 data files")

	c.run("consent", "withdraw", "GaPt03", "--tiers", "commercial")
	bundle2 := filepath.Join(t.TempDir(), "release-2")
	out = c.run("release", "build", "--purpose", "commercial", "--modality", "pressure", "--out", bundle2)
	mustContain(t, out, "0 of 12 samples", "consent withdrawn")

	out = c.run("log", "verify", "--content")
	mustContain(t, out, "log verified", "every recording reads back")
}

func TestBadInputLeavesRegistryUnchanged(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	before := c.run("log", "verify")

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "v.wav"), func(f *os.File) error { return synth.Vowel(f, 16000, 1, 1) })
	row := func(fields string) string {
		return `{"path":"v.wav","participant":"P1","modality":"voice","format":"wav","samplingRate":16000,"collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":null,"protocol":"p","labelSchemaVersion":"1","consentVersion":"v1"` + fields + "}\n"
	}
	cases := map[string]struct{ manifest, want string }{
		"wrong sampling rate": {strings.Replace(row(""), `16000`, `8000`, 1), "samplingRate: declared 8000 Hz but the file has 16000 Hz"},
		"unknown modality":    {strings.Replace(row(""), `"voice"`, `"smell"`, 1), "modality"},
		"path traversal":      {strings.Replace(row(""), `"v.wav"`, `"../v.wav"`, 1), "path"},
		"missing file":        {strings.Replace(row(""), `"v.wav"`, `"absent.wav"`, 1), "absent.wav"},
		"malformed json":      {row("")[:60] + "\n", "line 1"},
		"field twice":         {row(`,"protocol":"q"`), "is given twice"},
		"unknown document":    {strings.Replace(row(""), `"v1"`, `"v7"`, 1), `"v7" is not a registered consent document`},
		"bidi override":       {strings.Replace(row(""), `"protocol":"p"`, `"protocol":"p\u202e"`, 1), "U+202E"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".jsonl")
			if err := os.WriteFile(path, []byte(tc.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			mustContain(t, c.fail("ingest", path), tc.want)
			if after := c.run("log", "verify"); after != before {
				t.Fatalf("the log changed:\nbefore: %safter:  %s", before, after)
			}
		})
	}
	mustContain(t, c.fail("consent", "grant", "nobody", "--document", "v1", "--tiers", "research", "--modalities", "voice"), "unknown participant")
	mustContain(t, c.fail("consent", "grant", "P1", "--document", "v1", "--tiers", "research", "--modalities", "voice", "--until", "yesterday"), "--until")
	if after := c.run("log", "verify"); after != before {
		t.Fatalf("the log changed after rejected consent:\nbefore: %safter:  %s", before, after)
	}
}

func writeFile(t *testing.T, path string, write func(*os.File) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	dir := t.TempDir()
	var rows []string
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("imu%d.tsv", i)
		writeFile(t, filepath.Join(dir, name), func(f *os.File) error { return synth.IMU(f, 100, 5, i) })
		rows = append(rows, fmt.Sprintf(`{"path":%q,"participant":"P%d","modality":"sensor","format":"tsv","samplingRate":100,"channels":6,"timeUnit":"s","collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":"2025-01-01T00:00:00Z","protocol":"walk","labelSchemaVersion":"1","consentVersion":"v1"}`, name, i))
	}
	manifest := filepath.Join(dir, "m.jsonl")
	os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	c.run("ingest", manifest)
	for i := 0; i < 3; i++ {
		c.run("consent", "grant", fmt.Sprintf("P%d", i), "--document", "v1", "--tiers", "research", "--modalities", "sensor")
	}
	good := filepath.Join(t.TempDir(), "bundle")
	c.run("release", "build", "--purpose", "research", "--out", good, "--with-data")
	pub := filepath.Join(c.dir, "log.pub")
	c.run("verify", good, "--key", pub)

	other := newCLI(t)
	other.run("init")
	foreignKey := filepath.Join(other.dir, "log.pub")

	tampers := map[string]struct {
		edit func(t *testing.T, dir string)
		key  string
		want string
	}{
		"edited manifest": {func(t *testing.T, d string) {
			editJSON(t, filepath.Join(d, "manifest.json"), func(m map[string]any) { m["purpose"] = "commercial" })
		}, pub, "manifest.json was modified"},
		"swapped file": {func(t *testing.T, d string) {
			files, _ := filepath.Glob(filepath.Join(d, "data", "*"))
			a, _ := os.ReadFile(files[0])
			b, _ := os.ReadFile(files[1])
			os.WriteFile(files[0], b, 0o644)
			os.WriteFile(files[1], a, 0o644)
		}, pub, "content does not match"},
		"missing file": {func(t *testing.T, d string) {
			files, _ := filepath.Glob(filepath.Join(d, "data", "*"))
			os.Remove(files[0])
		}, pub, "is missing"},
		"removed proof": {func(t *testing.T, d string) {
			path := filepath.Join(d, "log", "entries.jsonl")
			raw, _ := os.ReadFile(path)
			lines := strings.SplitAfter(string(raw), "\n")
			os.WriteFile(path, []byte(strings.Join(lines[1:], "")), 0o644)
		}, pub, "or its proof is missing"},
		"forged checkpoint": {func(t *testing.T, d string) {
			path := filepath.Join(d, "checkpoint")
			raw, _ := os.ReadFile(path)
			lines := strings.Split(string(raw), "\n")
			lines[1] = "999"
			os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
		}, pub, "checkpoint"},
		"foreign key": {func(t *testing.T, d string) {}, foreignKey, "checkpoint"},
		"edited datasheet": {func(t *testing.T, d string) {
			f, _ := os.OpenFile(filepath.Join(d, "datasheet.md"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("\nAll participants consented to everything.\n")
			f.Close()
		}, pub, "datasheet.md was modified"},
		"removed manifest": {func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, "manifest.json"))
		}, pub, "contains no manifest.json"},
		"private key given": {func(t *testing.T, d string) {}, filepath.Join(c.dir, "log.key"), "private signing key"},
	}
	for name, tc := range tampers {
		t.Run(name, func(t *testing.T) {
			copyDir := filepath.Join(t.TempDir(), "bundle")
			if err := os.CopyFS(copyDir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, copyDir)
			mustContain(t, c.fail("verify", copyDir, "--key", tc.key), tc.want)
		})
	}
}

func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKilledImport kills steward with SIGKILL at several points of an
// import. Every time, each sample is either fully registered (row, event and
// readable recording) or absent, the log verifies, and running the import
// again completes it.
func TestKilledImport(t *testing.T) {
	dir := t.TempDir()
	const files = 150
	var rows []string
	for i := 0; i < files; i++ {
		name := fmt.Sprintf("insole%03d.tsv", i)
		writeFile(t, filepath.Join(dir, name), func(f *os.File) error { return synth.Insole(f, 100, 20, i) })
		rows = append(rows, fmt.Sprintf(`{"path":%q,"participant":"P%03d","modality":"pressure","format":"tsv","samplingRate":100,"channels":18,"timeUnit":"s","collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":null,"protocol":"walk","labelSchemaVersion":"1","consentVersion":"v1"}`, name, i%40))
	}
	manifest := filepath.Join(dir, "m.jsonl")
	os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o644)

	// Time one uninterrupted import, then kill others at fractions of it.
	timing := newCLI(t)
	timing.run("init")
	began := time.Now()
	timing.run("ingest", manifest)
	full := time.Since(began)
	killed := 0
	for _, fraction := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
		delay := time.Duration(fraction * float64(full))
		t.Run(fmt.Sprintf("at %.0f%%", fraction*100), func(t *testing.T) {
			c := newCLI(t)
			c.run("init")
			cmd := c.command("ingest", manifest)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				killed++
			}

			out := c.run("log", "verify", "--content")
			mustContain(t, out, "log verified")
			// The manifest is one batch, so the killed run registered all of it
			// or nothing.
			out = c.run("ingest", manifest)
			all := fmt.Sprintf("%d samples registered, 0 already present", files)
			none := fmt.Sprintf("0 samples registered, %d already present", files)
			if !strings.Contains(out, all) && !strings.Contains(out, none) {
				t.Fatalf("second run after the kill:\n%s", out)
			}
			c.run("log", "verify", "--content")
			out = c.run("gc", "--grace", "0s")
			mustContain(t, out, "examined")
			c.run("log", "verify", "--content")
		})
	}
	if killed == 0 {
		t.Fatalf("no run was killed before it finished (an import takes %s)", full)
	}
}

// TestRelativeRegistryFolder runs steward with a relative registry folder,
// as the README's default ./steward-data is: everything must land inside it.
func TestRelativeRegistryFolder(t *testing.T) {
	work := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "STEWARD_DIR=", "STEWARD_DB=", "STEWARD_BLOBS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("steward %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	os.Mkdir(filepath.Join(work, "capture"), 0o755)
	writeFile(t, filepath.Join(work, "capture", "v.wav"), func(f *os.File) error { return synth.Vowel(f, 16000, 1, 3) })
	os.WriteFile(filepath.Join(work, "capture", "m.jsonl"), []byte(`{"path":"v.wav","participant":"P1","modality":"voice","format":"wav","samplingRate":16000,"collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":null,"protocol":"p","labelSchemaVersion":"1","consentVersion":"v1"}`+"\n"), 0o644)
	run("init")
	run("ingest", "capture/m.jsonl")
	packs, err := filepath.Glob(filepath.Join(work, "steward-data", "blobs", "packs", "*"))
	if err != nil || len(packs) != 1 {
		t.Fatalf("recordings under steward-data/blobs/packs: %v %v", packs, err)
	}
	// The same registry named another way sees the same recordings.
	other := filepath.Join(work, "elsewhere")
	os.Mkdir(other, 0o755)
	cmd := exec.Command(binary, "--dir", "../steward-data", "log", "verify", "--content")
	cmd.Dir = other
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("verify from another folder: %v\n%s", err, out)
	}
}
