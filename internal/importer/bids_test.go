package importer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The tests below read the Motion-BIDS example in the shared data folder:
// 5 participants and one recording of sub-13 whose signal file is a 1-byte
// placeholder.

const motionRel = "sub-13/ses-walk/motion/sub-13_ses-walk_task-dualWalking_tracksys-PhaseSpace1_motion.tsv"

func TestBIDSParticipants(t *testing.T) {
	b, _, err := BIDS(dataset(t, "bids-motion-dualtask"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Participants) != 5 {
		t.Fatalf("%d participants, want 5", len(b.Participants))
	}
	p, ok := participantByID(b, "sub-13")
	if !ok {
		t.Fatal("no participant sub-13")
	}
	a := p.Attributes
	if a.AgeYears == nil || *a.AgeYears != 76 || a.Sex != "female" || a.Group != "old" || a.Handedness != "right" {
		t.Errorf("sub-13 attributes %+v, want 76, female, old, right", a)
	}
	if p.Namespace != "bids" || p.Where != "participants.tsv line 4" {
		t.Errorf("sub-13 in namespace %q at %s", p.Namespace, p.Where)
	}
}

func TestBIDSPlaceholderSkipped(t *testing.T) {
	b, rep, err := BIDS(dataset(t, "bids-motion-dualtask"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 0 {
		t.Errorf("%d samples, want none: the only recording is a placeholder", len(b.Samples))
	}
	n, ok := findNote(rep.Notes, motionRel, "placeholder", "1 byte")
	if !ok || !n.Skipped {
		t.Errorf("no skipped note for the placeholder: %+v", rep.Notes)
	}
}

func TestBIDSDanglingScans(t *testing.T) {
	_, rep, err := BIDS(dataset(t, "bids-motion-dualtask"))
	if err != nil {
		t.Fatal(err)
	}
	scans := "sub-13/ses-walk/sub-13_ses-walk_scans.tsv"
	var lines []string
	for _, n := range rep.Notes {
		if n.Skipped && strings.HasPrefix(n.Where, scans) {
			lines = append(lines, strings.TrimPrefix(n.Where, scans+" line "))
		}
	}
	if got := strings.Join(lines, ","); got != "2,4,5,6,7,8,9,10,11" {
		t.Errorf("dangling rows on lines %s, want every row but line 3", got)
	}
	if _, ok := findNote(rep.Notes, scans+" line 2", "eeg/sub-13_ses-walk_task-dualWalking_eeg.vhdr", "not found"); !ok {
		t.Error("no note naming the absent EEG file")
	}
}

// copyBIDSWithSignal copies the shared dataset into a fixture folder and
// replaces the placeholder with 480 rows of 8 tab-separated numbers (seven
// 0.5 and the row number), one second at the sidecar's 480 Hz. edit may
// change a file of the copy.
func copyBIDSWithSignal(t *testing.T, edit func(dir string)) string {
	t.Helper()
	src := dataset(t, "bids-motion-dualtask")
	dir := filepath.Join(t.TempDir(), "bids-motion-dualtask")
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(t, p, filepath.Join(dir, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	for i := range 480 {
		fmt.Fprintf(&rows, "%s%d\n", strings.Repeat("0.5\t", 7), i)
	}
	writeFile(t, filepath.Join(dir, filepath.FromSlash(motionRel)), rows.String())
	if edit != nil {
		edit(dir)
	}
	return dir
}

func TestBIDSRecordingImported(t *testing.T) {
	b, rep, err := BIDS(copyBIDSWithSignal(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 1 {
		t.Fatalf("%d samples, want 1", len(b.Samples))
	}

	s := b.Samples[0]
	d := s.Declaration
	if d.Modality != "sensor" || d.Format != "tsv" || d.SamplingRate != 480 || d.Channels != 8 || d.TimeUnit != "" {
		t.Errorf("declaration %+v", d.Record)
	}
	if d.Device.Model != "HTC Vive Pro" || d.Device.Firmware != "unknown" || d.Protocol != "dualWalking" {
		t.Errorf("device %+v, protocol %q", d.Device, d.Protocol)
	}
	if d.Participant != "sub-13" || s.Namespace != "bids" || d.CollectorID != "bids/Walking task in the young and old" {
		t.Errorf("participant %s in %q, collector %q", d.Participant, s.Namespace, d.CollectorID)
	}

	if d.CapturedAt != nil {
		t.Errorf("capturedAt %v, want null for a date-shifted acq_time", d.CapturedAt)
	}
	if _, ok := findNote(rep.Notes, "sub-13/ses-walk/sub-13_ses-walk_scans.tsv line 3", "date-shifted", "1800"); !ok {
		t.Error("no date-shifted note at the scans row of the recording")
	}

	want := map[string]string{
		"dataset":  "bids-motion-dualtask",
		"file":     motionRel,
		"licence":  "CC0-1.0",
		"citation": "Protzak and Gramann, Walking task in the young and old",
	}
	for k, v := range want {
		if s.Source[k] != v {
			t.Errorf("Source[%s] = %q, want %q", k, s.Source[k], v)
		}
	}
	probeSample(t, s)
}

func TestBIDSChannelCountMismatch(t *testing.T) {
	// The fixture's sidecar claims 9 channels where _channels.tsv lists 8.
	sidecar := "sub-13/ses-walk/motion/sub-13_ses-walk_task-dualWalking_tracksys-PhaseSpace1_motion.json"
	dir := copyBIDSWithSignal(t, func(dir string) {
		p := filepath.Join(dir, filepath.FromSlash(sidecar))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, strings.Replace(string(raw), `"MotionChannelCount":8`, `"MotionChannelCount":9`, 1))
	})
	_, _, err := BIDS(dir)
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, sidecar, "MotionChannelCount 9", "8 channels"); !ok {
		t.Errorf("no problem naming 9 and 8 channels at the sidecar in %v", problems)
	}
}

func TestBIDSInheritedSidecar(t *testing.T) {
	// The fixture moves the recording's _motion.json to the dataset root as
	// task-dualWalking_motion.json, where the BIDS inheritance principle
	// still applies it to every dualWalking recording.
	sidecar := "sub-13/ses-walk/motion/sub-13_ses-walk_task-dualWalking_tracksys-PhaseSpace1_motion.json"
	dir := copyBIDSWithSignal(t, func(dir string) {
		from := filepath.Join(dir, filepath.FromSlash(sidecar))
		if err := os.Rename(from, filepath.Join(dir, "task-dualWalking_motion.json")); err != nil {
			t.Fatal(err)
		}
	})
	b, _, err := BIDS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 1 || b.Samples[0].Declaration.SamplingRate != 480 {
		t.Fatalf("samples %+v, want one at 480 Hz from the root sidecar", b.Samples)
	}
}

func TestBIDSMissingSidecarField(t *testing.T) {
	// The fixture's sidecar has no TaskName.
	sidecar := "sub-13/ses-walk/motion/sub-13_ses-walk_task-dualWalking_tracksys-PhaseSpace1_motion.json"
	dir := copyBIDSWithSignal(t, func(dir string) {
		p := filepath.Join(dir, filepath.FromSlash(sidecar))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, strings.Replace(string(raw), `"TaskName":"dualWalking",`, "", 1))
	})
	_, _, err := BIDS(dir)
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, sidecar, "TaskName"); !ok {
		t.Errorf("no problem naming TaskName at the sidecar in %v", problems)
	}
}

func TestBIDSRejectsInvalidSubjectLabels(t *testing.T) {
	for _, id := range []string{"sub-\x1b[31mRED", "sub-\xff1", "sub-a\u200bb", "sub-ev\u202eil", "sub-../x", "sub-a_b"} {
		dir := copyBIDSWithSignal(t, func(dir string) {
			p := filepath.Join(dir, "participants.tsv")
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, string(raw)+id+"\t99\t30\tF\tyoung\tR\n")
		})
		_, _, err := BIDS(dir)
		problems := batchProblems(t, err)
		if _, ok := findProblem(problems, "participants.tsv line 7", "not a BIDS subject label"); !ok {
			t.Errorf("participant_id %q: no problem in %v", id, problems)
		}
	}
}

func TestBIDSSidecarRepeatedField(t *testing.T) {
	sidecar := "sub-13/ses-walk/motion/sub-13_ses-walk_task-dualWalking_tracksys-PhaseSpace1_motion.json"
	dir := copyBIDSWithSignal(t, func(dir string) {
		p := filepath.Join(dir, filepath.FromSlash(sidecar))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, strings.Replace(string(raw), `"SamplingFrequency":480`, `"SamplingFrequency":480,"SamplingFrequency":100`, 1))
	})
	_, _, err := BIDS(dir)
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, sidecar, "SamplingFrequency is given twice"); !ok {
		t.Errorf("no problem naming the repeated SamplingFrequency in %v", problems)
	}
}
