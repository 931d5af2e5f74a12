package main

import (
	"strings"
	"testing"
)

// The tests in this file run commands through --server and compare their
// output with the same command on the local registry.

func TestConsentShowRemoteMatchesLocal(t *testing.T) {
	c := newCLI(t)
	c.run("init")
	c.run("import", "gaitpdb", sharedData(t, "physionet-gaitpdb"))
	c.run("consent", "grant", "GaPt03", "--document", "v1", "--tiers", "research,commercial", "--modalities", "pressure,sensor")
	c.run("consent", "withdraw", "GaPt03", "--tiers", "commercial")
	steward := strings.TrimSpace(c.run("token", "issue", "--role", "steward", "--org", "gaitpdb"))
	url, _, _ := startServer(t, c)

	at := "2030-01-01T00:00:00Z"
	local := c.run("consent", "show", "GaPt03", "--at", at)
	remote := c.runRemote(url, steward, "consent", "show", "GaPt03", "--at", at)
	if strings.Contains(remote, "#0 ") {
		t.Errorf("consent show --server prints log index 0:\n%s", remote)
	}
	if remote != local {
		t.Errorf("consent show --server differs from the local command\nlocal:\n%s\nremote:\n%s", local, remote)
	}
}
