package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/probe"
	"github.com/steward-rehab/steward/internal/registry"
)

// sharedData is the folder of public datasets beside the repository. Tests
// that read it name the dataset, and skip when it is absent.
const sharedData = "../../../shared/data"

func dataset(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(sharedData, name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared dataset %s not present: %v", name, err)
	}
	return dir
}

// batchProblems returns the problems of a *registry.BatchError, failing
// the test for any other outcome.
func batchProblems(t *testing.T, err error) []registry.Problem {
	t.Helper()
	var be *registry.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T), want a *registry.BatchError", err, err)
	}
	return be.Problems
}

// findProblem returns the first problem at where whose message contains
// every one of parts.
func findProblem(problems []registry.Problem, where string, parts ...string) (registry.Problem, bool) {
	for _, p := range problems {
		if p.Where == where && containsAll(p.Err.Error(), parts) {
			return p, true
		}
	}
	return registry.Problem{}, false
}

func findNote(notes []Note, where string, parts ...string) (Note, bool) {
	for _, n := range notes {
		if n.Where == where && containsAll(n.Text, parts) {
			return n, true
		}
	}
	return Note{}, false
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func participantByID(b *registry.Batch, id string) (registry.ParticipantInput, bool) {
	for _, p := range b.Participants {
		if p.SourceID == id {
			return p, true
		}
	}
	return registry.ParticipantInput{}, false
}

func scoreOf(a participant.Attributes, scale string) (participant.Score, bool) {
	for _, s := range a.Scores {
		if s.Scale == scale {
			return s, true
		}
	}
	return participant.Score{}, false
}

// probeSample streams a sample's content through the prober of its format,
// as the registry does, and returns what the prober measured.
func probeSample(t *testing.T, s registry.SampleInput) probe.Measured {
	t.Helper()
	rc, err := s.Open()
	if err != nil {
		t.Fatalf("%s: open: %v", s.Where, err)
	}
	defer rc.Close()
	d := s.Declaration
	p := probe.For(d.Format, probe.Options{TimeUnit: d.TimeUnit})
	if p == nil {
		t.Fatalf("%s: no prober for format %s", s.Where, d.Format)
	}
	if _, err := io.Copy(p, rc); err != nil {
		t.Fatalf("%s: read: %v", s.Where, err)
	}
	m, err := p.Finish()
	if err != nil {
		t.Fatalf("%s: prober rejected the content: %v", s.Where, err)
	}
	if mm := probe.Compare(d.SamplingRate, d.Channels, m); len(mm) > 0 {
		t.Fatalf("%s: declaration disagrees with the content: %v", s.Where, mm)
	}
	return m
}

// writeFile writes a test fixture, creating its folders.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies a shared data file into a fixture folder unchanged.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(raw))
}

func TestLineRangesCompact(t *testing.T) {
	got := lineRanges([]int{9, 2, 3, 4, 5, 12, 13})
	if got != "2-5, 9, 12-13" {
		t.Fatalf("lineRanges = %q, want %q", got, "2-5, 9, 12-13")
	}
}

func TestCRLFDigestAcrossWrites(t *testing.T) {
	// Each case is written one byte at a time, so CR and LF of one line
	// ending arrive in separate writes.
	cases := map[string]string{
		"bare LF":       "a\nb\n",
		"CRLF kept":     "a\r\nb\r\n",
		"mixed endings": "a\r\nb\nc",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			w := &crlfWriter{h: sha256.New()}
			for i := range len(in) {
				w.Write([]byte{in[i]})
			}
			want := strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\n", "\r\n")
			sum := sha256.Sum256([]byte(want))
			if got := hex.EncodeToString(w.h.Sum(nil)); got != hex.EncodeToString(sum[:]) {
				t.Fatalf("digest of %q differs from the digest of %q", in, want)
			}
		})
	}
}
