package main

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServer runs steward serve on a free port of 127.0.0.1 and returns
// its URL and the process, which the test stops.
func startServer(t *testing.T, c *cli) (string, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := c.command("serve", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the serving line: %v\n%s", err, logs.String())
	}
	m := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve printed %q, want its address", line)
	}
	go io.Copy(io.Discard, stdout)
	return m[1], cmd, &logs
}

// remote runs a command against the server with a token.
func (c *cli) remote(url, token string, args ...string) *exec.Cmd {
	cmd := c.command(append([]string{"--server", url}, args...)...)
	cmd.Env = append(cmd.Env, "STEWARD_TOKEN="+token, "STEWARD_DIR="+filepath.Join(c.t.TempDir(), "absent"))
	return cmd
}

func (c *cli) runRemote(url, token string, args ...string) string {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := c.remote(url, token, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("steward --server %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func (c *cli) failRemote(url, token string, args ...string) string {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := c.remote(url, token, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		c.t.Fatalf("steward --server %s succeeded, want failure\nstdout:\n%s", strings.Join(args, " "), stdout.String())
	}
	return stderr.String()
}

// TestServerFlow runs the command line against steward serve: tokens made
// locally, an import uploaded, consent, a release built on the server and
// unpacked here, offline verification, a withdrawal that reaches the
// licensee, and a graceful stop on SIGTERM.
func TestServerFlow(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	admin := strings.TrimSpace(c.run("token", "issue", "--role", "admin"))
	licensee := strings.TrimSpace(c.run("token", "issue", "--role", "licensee", "--licensee", "acme", "--expires", "1h"))
	steward := strings.TrimSpace(c.run("token", "issue", "--role", "steward", "--org", "gaitpdb"))
	url, server, logs := startServer(t, c)

	out := c.runRemote(url, steward, "import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	mustContain(t, out, "7 samples registered", "JuCo10")
	stderr := c.failRemote(url, steward, "import", "wfdb", sharedData(t, "physionet-gaitndd"))
	mustContain(t, stderr, "403", "organisation \"gaitpdb\"")

	c.runRemote(url, steward, "consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure")
	out = c.runRemote(url, steward, "consent", "show", "GaPt03")
	mustContain(t, out, "1 consent records", "commercial               video=deny voice=deny sensor=deny pressure=permit")

	// FHIR export through the server gives the local export's bytes. The
	// file names GaPt03, so it is not imported as another participant, and
	// importing it for GaPt03 changes nothing.
	if remote, local := c.runRemote(url, steward, "consent", "export", "GaPt03"), c.run("consent", "export", "GaPt03"); remote != local {
		t.Errorf("FHIR export through the server differs from the local one")
	}
	fhirFile := filepath.Join(t.TempDir(), "gapt03.json")
	c.runRemote(url, steward, "consent", "export", "GaPt03", "--out", fhirFile)
	stderr = c.failRemote(url, steward, "consent", "import", fhirFile, "--participant", "GaPt15")
	mustContain(t, stderr, "400", "names participant p-", "for whom it is imported")
	out = c.runRemote(url, steward, "consent", "import", fhirFile)
	mustContain(t, out, "nothing changed: the 1 consents")
	c.runRemote(url, steward, "consent", "grant", "GaPt15", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure")

	bundle := filepath.Join(t.TempDir(), "release-1")
	out = c.runRemote(url, admin, "release", "build", "--purpose", "commercial", "--modality", "pressure", "--licensee", "acme", "--out", bundle, "--with-data")
	mustContain(t, out, "2 of 7 samples", "bundle written to")
	out = c.run("verify", bundle, "--key", filepath.Join(c.dir, "log.pub"))
	mustContain(t, out, "verified", "2 data files")

	out = c.runRemote(url, licensee, "release", "list")
	mustContain(t, out, "commercial")
	exported := filepath.Join(t.TempDir(), "export")
	release := regexp.MustCompile(`r-[a-z0-9]+`).FindString(out)
	c.runRemote(url, licensee, "release", "export", release, "--out", exported, "--with-data")
	c.run("verify", exported, "--key", filepath.Join(c.dir, "log.pub"))

	out = c.runRemote(url, steward, "consent", "withdraw", "GaPt03", "--tiers", "commercial")
	mustContain(t, out, "recorded withdrawal", "notice n-")
	out = c.runRemote(url, licensee, "release", "status", bundle)
	mustContain(t, out, "1 of 2 samples revoked since", "not acknowledged")
	notice := regexp.MustCompile(`notice (n-[a-z0-9]+)`).FindStringSubmatch(out)[1]
	out = c.runRemote(url, licensee, "release", "ack", notice)
	mustContain(t, out, "by acme")

	link := c.runRemote(url, steward, "participant", "link", "GaPt03")
	mustContain(t, link, url+"/signin?token=stw_")
	out = c.runRemote(url, admin, "log", "verify")
	mustContain(t, out, "log verified")

	// A revoked token stops working at once.
	tokens := c.runRemote(url, admin, "token", "list")
	licenseeID := regexp.MustCompile(`(t-[a-z0-9]+)\s+api\s+licensee`).FindStringSubmatch(tokens)[1]
	c.runRemote(url, admin, "token", "revoke", licenseeID)
	stderr = c.failRemote(url, licensee, "release", "list")
	mustContain(t, stderr, "401", "invalid or expired token")

	// SIGTERM stops the server cleanly.
	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop within 40 s of SIGTERM")
	}
	mustContain(t, logs.String(), `"msg":"shutting down"`, `"msg":"stopped"`, `"request_id"`)
	if strings.Contains(logs.String(), "stw_") {
		t.Error("the server's log contains a token secret")
	}
}
