package wfdb

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The records under test are PhysioNet's gaitndd records in the shared data
// folder, read unchanged.
const gaitndd = "../../../shared/data/physionet-gaitndd"

func TestRealRecordsMatchHeaders(t *testing.T) {
	for _, rec := range []string{"als1", "control1", "hunt1", "hunt20", "park1"} {
		t.Run(rec, func(t *testing.T) {
			f, err := os.Open(filepath.Join(gaitndd, rec+".hea"))
			if err != nil {
				t.Skipf("shared data not present: %v", err)
			}
			defer f.Close()
			h, err := ParseHeader(f, rec+".hea")
			if err != nil {
				t.Fatal(err)
			}
			if h.Frequency != 300 || h.Samples != 90000 || len(h.Signals) != 2 {
				t.Fatalf("header %+v", h)
			}
			for _, s := range h.Signals {
				d, err := NewDecoder(s.Format)
				if err != nil {
					t.Fatal(err)
				}
				sf, err := os.Open(filepath.Join(gaitndd, s.File))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(d, sf); err != nil {
					t.Fatal(err)
				}
				sf.Close()
				st, err := d.Finish()
				if err != nil {
					t.Fatal(err)
				}
				if st.Samples != h.Samples {
					t.Errorf("%s: %d samples, header says %d", s.File, st.Samples, h.Samples)
				}
				if !st.InitialMatches(s.Format, *s.InitialValue) {
					t.Errorf("%s: first sample %d, header says %d", s.File, st.First, *s.InitialValue)
				}
				if st.Checksum != *s.Checksum {
					t.Errorf("%s: checksum %d, header says %d", s.File, st.Checksum, *s.Checksum)
				}
			}
		})
	}
}
