package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-rehab/steward/internal/blobstore"
)

// Environment variables that point the tests at S3-compatible servers.
// .ci/run sets both.
const (
	// S3Env holds the URL of a bucket that tests may write to, such as
	// s3://steward-ci?endpoint=http://127.0.0.1:7070&use_path_style=true&region=us-east-1,
	// with credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
	S3Env = "STEWARD_TEST_S3"
	// VersityGWEnv holds the path of a versitygw binary, for tests that start
	// and stop a server of their own. Without it they look for versitygw on
	// PATH.
	VersityGWEnv = "STEWARD_TEST_VERSITYGW"
)

// S3URL returns the bucket URL in STEWARD_TEST_S3 with a key prefix of the
// test's own, so that tests sharing the bucket never see each other's
// objects. It deletes what the test left under the prefix when the test
// ends, and skips the test when the variable is not set.
func S3URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(S3Env)
	if base == "" {
		t.Skipf("%s is not set: set it to an s3:// bucket URL (as .ci/run does) to run this test against S3", S3Env)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	u := base + sep + "prefix=" + testPrefix(t)
	t.Cleanup(func() { deleteAll(t, u) })
	return u
}

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// testPrefix returns a key prefix made of the test name and a random suffix.
func testPrefix(t testing.TB) string {
	name := unsafeKeyChars.ReplaceAllString(t.Name(), "-")
	if len(name) > 60 {
		name = name[:60]
	}
	return "test/" + name + "-" + randomHex(4) + "/"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// deleteAll removes every object under the store URL's prefix.
func deleteAll(t testing.TB, storeURL string) {
	ctx := context.Background()
	s, err := blobstore.Open(ctx, storeURL)
	if err != nil {
		t.Logf("clean up test objects: %v", err)
		return
	}
	defer s.Close()
	var keys []string
	if err := s.List(ctx, "", func(o blobstore.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Logf("clean up test objects: %v", err)
		return
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Logf("clean up test objects: %v", err)
			return
		}
	}
}

// VersityGW is an S3-compatible server (versitygw with its posix backend,
// keeping objects in a temporary folder) that a test starts and stops
// itself, to take storage away in the middle of an operation.
type VersityGW struct {
	bin    string
	root   string
	addr   string
	access string
	secret string
	cmd    *exec.Cmd
	logf   *os.File
}

// StartVersityGW starts a versitygw server on a free 127.0.0.1 port with new
// root credentials, and sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_REGION for the rest of the test, so that s3:// URLs from URL reach it.
// It skips the test when no versitygw binary is found in
// STEWARD_TEST_VERSITYGW or on PATH. The server stops when the test ends.
func StartVersityGW(t *testing.T) *VersityGW {
	t.Helper()
	bin := os.Getenv(VersityGWEnv)
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("versitygw"); err != nil {
			t.Skipf("no versitygw binary: set %s to its path (as .ci/run does) or put it on PATH", VersityGWEnv)
		}
	}

	dir := t.TempDir()
	g := &VersityGW{
		bin:    bin,
		root:   filepath.Join(dir, "root"),
		addr:   freeAddr(t),
		access: "steward-" + randomHex(6),
		secret: randomHex(20),
	}
	if err := os.Mkdir(g.root, 0o700); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	g.logf = logf

	t.Setenv("AWS_ACCESS_KEY_ID", g.access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", g.secret)
	t.Setenv("AWS_REGION", "us-east-1")
	// Keep the AWS SDK from asking an instance metadata service for
	// credentials; these tests talk to 127.0.0.1 only.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	t.Cleanup(func() {
		g.Stop(t)
		logf.Close()
	})
	g.Start(t)
	return g
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start starts the server, again after Stop, on the same address and folder,
// and waits until it accepts connections.
func (g *VersityGW) Start(t *testing.T) {
	t.Helper()
	if g.cmd != nil {
		t.Fatal("versitygw is already running")
	}
	cmd := exec.Command(g.bin, "--port", g.addr, "--quiet", "posix", g.root)
	// The root credentials go in the environment, not on the command line
	// where other users of the machine could read them.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+g.access, "ROOT_SECRET_KEY="+g.secret)
	cmd.Stdout, cmd.Stderr = g.logf, g.logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	g.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", g.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			g.Stop(t)
			t.Fatalf("versitygw did not accept connections on %s within 15 s (log in %s)", g.addr, g.logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server at once, as a crash or a lost network would, and
// waits for it to exit. Stopping a stopped server does nothing.
func (g *VersityGW) Stop(t testing.TB) {
	if g.cmd == nil {
		return
	}
	if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("stop versitygw: %v", err)
	}
	_ = g.cmd.Wait()
	g.cmd = nil
}

// Endpoint returns the server's base URL.
func (g *VersityGW) Endpoint() string { return "http://" + g.addr }

// URL returns the s3:// URL of a bucket on the server.
func (g *VersityGW) URL(bucket string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&use_path_style=true&region=us-east-1", bucket, g.Endpoint())
}

// CreateBucket creates a bucket on the server through versitygw's admin
// API, which versitygw serves on its S3 port.
func (g *VersityGW) CreateBucket(t *testing.T, bucket string) {
	t.Helper()
	cmd := exec.Command(g.bin, "admin", "--endpoint-url", g.Endpoint(), "create-bucket", "--owner", g.access, "--bucket", bucket)
	cmd.Env = append(os.Environ(), "ADMIN_ACCESS_KEY="+g.access, "ADMIN_SECRET_KEY="+g.secret)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create bucket %s on versitygw at %s: %v\n%s", bucket, g.addr, err, out)
	}
}
