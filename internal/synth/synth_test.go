package synth

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/steward-rehab/steward/internal/probe"
)

func TestFilesPassProbesAndDiffer(t *testing.T) {
	cases := []struct {
		name     string
		write    func(io.Writer, int) error
		format   string
		unit     string
		rate     float64
		channels int
	}{
		{"vowel", func(w io.Writer, seed int) error { return Vowel(w, 16000, 0.5, seed) }, "wav", "", 16000, 1},
		{"imu", func(w io.Writer, seed int) error { return IMU(w, 100, 2, seed) }, "tsv", "s", 100, 6},
		{"insole", func(w io.Writer, seed int) error { return Insole(w, 100, 2, seed) }, "tsv", "s", 100, 18},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := map[[32]byte]int{}
			for seed := 0; seed < 200; seed++ {
				var buf bytes.Buffer
				if err := c.write(&buf, seed); err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(buf.Bytes())
				if prev, dup := seen[sum]; dup {
					t.Fatalf("seeds %d and %d give the same file", prev, seed)
				}
				seen[sum] = seed
				if seed%50 != 0 {
					continue
				}
				p := probe.For(c.format, probe.Options{TimeUnit: c.unit})
				p.Write(buf.Bytes())
				m, err := p.Finish()
				if err != nil {
					t.Fatal(err)
				}
				if mm := probe.Compare(c.rate, c.channels, m); len(mm) > 0 {
					t.Fatalf("seed %d: %v", seed, mm)
				}
			}
		})
	}
}
