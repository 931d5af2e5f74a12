package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/synth"
)

// writeVoiceManifest generates n 3 s vowels (96 KB each) for participants
// named prefix0, prefix1, ... and a manifest of them, and returns the
// manifest's path.
func writeVoiceManifest(t *testing.T, dir, prefix string, seed, n int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%d.wav", prefix, i)
		writeFile(t, filepath.Join(dir, name), func(f *os.File) error { return synth.Vowel(f, 16000, 3, seed*100+i) })
		rows = append(rows, fmt.Sprintf(`{"path":%q,"participant":"%s%d","modality":"voice","format":"wav","samplingRate":16000,"channels":1,"collectorId":"c","device":{"model":"m","firmware":"1"},"capturedAt":"2026-01-01T00:00:00Z","protocol":"sustained-vowel","labelSchemaVersion":"1","consentVersion":"v1"}`, name, prefix, i))
	}
	manifest := filepath.Join(dir, "manifest.jsonl")
	if err := os.WriteFile(manifest, []byte(strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return manifest
}

// checkpointIn returns the signed checkpoint that steward backup and
// steward restore print after "latest checkpoint:".
func checkpointIn(t *testing.T, out string) string {
	t.Helper()
	_, cp, ok := strings.Cut(out, "latest checkpoint:\n")
	if !ok {
		t.Fatalf("no latest checkpoint in output:\n%s", out)
	}
	if i := strings.Index(cp, "\ncheck every recording"); i >= 0 {
		cp = cp[:i+1]
	}
	return cp
}

// TestBackupRestoreCLI backs a registry up while another steward process
// imports into it, restores the backup, and checks the restored registry
// with steward log verify --content and steward log checkpoint.
func TestBackupRestoreCLI(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	data := t.TempDir()
	c.run("ingest", writeVoiceManifest(t, filepath.Join(data, "first"), "A", 0, 20))

	// Another process imports batch after batch while the backup runs.
	var manifests []string
	for b := 1; b <= 6; b++ {
		manifests = append(manifests, writeVoiceManifest(t, filepath.Join(data, fmt.Sprint(b)), fmt.Sprintf("B%d-", b), b, 20))
	}
	script := `for m in "$@"; do "$STEWARD" ingest "$m" || exit 1; done`
	importer := c.command()
	importer.Path = "/bin/sh"
	importer.Args = append([]string{"sh", "-c", script, "sh"}, manifests...)
	importer.Env = append(importer.Env, "STEWARD="+binary)
	var importOut bytes.Buffer
	importer.Stdout, importer.Stderr = &importOut, &importOut
	if err := importer.Start(); err != nil {
		t.Fatal(err)
	}
	imported := make(chan error, 1)
	go func() { imported <- importer.Wait() }()

	// Back up until the imports end, and restore every backup.
	type taken struct{ dir, checkpoint string }
	var backups []taken
	var importErr error
	for running := true; running; {
		backup := filepath.Join(t.TempDir(), "backup")
		out := c.run("backup", backup)
		mustContain(t, out, "backed up registry", "latest checkpoint:")
		backups = append(backups, taken{backup, checkpointIn(t, out)})
		select {
		case importErr = <-imported:
			running = false
		default:
		}
	}
	if importErr != nil {
		t.Fatalf("imports beside the backup failed: %v\n%s", importErr, importOut.String())
	}
	final := c.run("log", "checkpoint")
	if len(backups) < 2 || backups[0].checkpoint == final {
		t.Fatalf("%d backup(s), the first at the final checkpoint: the imports ended before a backup overlapped them", len(backups))
	}
	for i, b := range backups {
		restored := filepath.Join(t.TempDir(), "restored")
		out := c.run("restore", b.dir, restored)
		mustContain(t, out, "restored registry", "log verify --content")
		if got := checkpointIn(t, out); got != b.checkpoint {
			t.Errorf("backup %d: restore printed checkpoint\n%s\nbut backup printed\n%s", i, got, b.checkpoint)
		}
		out = c.run("--dir", restored, "log", "verify", "--content")
		mustContain(t, out, "log verified", "every recording reads back")
		if got := c.run("--dir", restored, "log", "checkpoint"); got != b.checkpoint {
			t.Errorf("backup %d: restored registry's latest checkpoint:\n%s\nwant the one backed up:\n%s", i, got, b.checkpoint)
		}
	}
	t.Logf("%d backups taken while 6 imports ran", len(backups))

	// A backup of the quiet registry restores to its exact latest checkpoint.
	latest := final
	quiet := filepath.Join(t.TempDir(), "quiet")
	c.run("backup", quiet)
	again := filepath.Join(t.TempDir(), "again")
	c.run("restore", quiet, again)
	if got := c.run("--dir", again, "log", "checkpoint"); got != latest {
		t.Errorf("restored latest checkpoint:\n%s\nwant the original's:\n%s", got, latest)
	}
	c.run("--dir", again, "log", "verify", "--content")

	// Restore never writes into a folder that holds something.
	stderr := c.fail("restore", quiet, again)
	mustContain(t, stderr, "is not empty")
	stderr = c.fail("backup", quiet)
	mustContain(t, stderr, "is not empty")
}
