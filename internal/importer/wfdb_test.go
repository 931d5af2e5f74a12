package importer

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/registry"
)

// The tests below read PhysioNet gaitndd from the shared data folder: a
// RECORDS file of 64 records, of which 5 are present, and the description
// of all 64 subjects.

func importGaitNDD(t *testing.T) (*registry.Batch, *Report) {
	t.Helper()
	b, rep, err := WFDB(dataset(t, "physionet-gaitndd"))
	if err != nil {
		t.Fatal(err)
	}
	return b, rep
}

func TestWFDBGaitNDDCounts(t *testing.T) {
	b, _ := importGaitNDD(t)
	if len(b.Participants) != 64 {
		t.Errorf("%d participants, want 64", len(b.Participants))
	}
	var paths []string
	for _, s := range b.Samples {
		paths = append(paths, s.Declaration.Path)
	}
	if got := strings.Join(paths, " "); got != "als1.hea control1.hea hunt1.hea hunt20.hea park1.hea" {
		t.Errorf("samples %s, want the 5 present records", got)
	}
	for _, p := range b.Participants {
		if err := p.Attributes.Validate(); err != nil {
			t.Errorf("%s: attributes the registry rejects: %v", p.Where, err)
		}
	}
}

func TestWFDBDeclarations(t *testing.T) {
	b, _ := importGaitNDD(t)
	for _, s := range b.Samples {
		d := s.Declaration
		if d.Format != "wfdb" || d.Modality != "pressure" || d.SamplingRate != 300 || d.Channels != 2 || d.TimeUnit != "" {
			t.Errorf("%s: declaration %+v", s.Where, d.Record)
		}
		if d.Protocol != "walk-5-minutes" || d.CollectorID != "physionet-gaitndd" || d.CapturedAt != nil {
			t.Errorf("%s: declaration %+v", s.Where, d.Record)
		}
		if s.Namespace != "gaitndd" || d.Participant != strings.TrimSuffix(d.Path, ".hea") {
			t.Errorf("%s: participant %s in namespace %q", s.Where, d.Participant, s.Namespace)
		}
	}
}

func TestWFDBDanglingRecordsNamed(t *testing.T) {
	b, rep := importGaitNDD(t)
	skipped := 0
	for _, n := range rep.Notes {
		if n.Skipped && strings.Contains(n.Text, "dangling reference") {
			skipped++
		}
	}
	if skipped != 64-len(b.Samples) {
		t.Errorf("%d dangling records noted, want %d", skipped, 64-len(b.Samples))
	}
	n, ok := findNote(rep.Notes, "RECORDS line 2", "als10", "als10.hea not found")
	if !ok || !n.Skipped {
		t.Errorf("no skipped note at RECORDS line 2 naming als10: %+v", n)
	}
}

func TestWFDBBackupHeadersNoted(t *testing.T) {
	_, rep := importGaitNDD(t)
	if _, ok := findNote(rep.Notes, "*.hea-", "5 backup headers", "als1.hea-", "park1.hea-"); !ok {
		t.Error("no note naming the 5 backup headers")
	}
}

func TestWFDBSpaceSeparatedRow(t *testing.T) {
	// Line 37, hunt20, separates its last two cells by a space: "MISSING 9".
	b, rep := importGaitNDD(t)
	if _, ok := findNote(rep.Notes, "subject-description.txt line 37", `"MISSING 9"`); !ok {
		t.Error("no note at line 37 naming the cell \"MISSING 9\"")
	}
	p, _ := participantByID(b, "hunt20")
	if s, ok := scoreOf(p.Attributes, participant.ScaleTFC); !ok || s.Value != 9 {
		t.Errorf("hunt20 Total Functional Capacity %+v, want 9", s)
	}
	if _, ok := scoreOf(p.Attributes, participant.ScaleGaitSpeed); ok {
		t.Error("hunt20 has a gait speed, but it is MISSING")
	}
	if p.Attributes.HeightM == nil || *p.Attributes.HeightM != 1.57 {
		t.Errorf("hunt20 height %v, want 1.57 m", p.Attributes.HeightM)
	}
}

func TestWFDBImplausibleHeight(t *testing.T) {
	b, rep := importGaitNDD(t)
	p, _ := participantByID(b, "park14") // line 51: 2.13 m
	if p.Attributes.HeightM != nil {
		t.Errorf("park14 height %v, want unknown", *p.Attributes.HeightM)
	}
	if _, ok := findNote(rep.Notes, "subject-description.txt line 51", "2.13"); !ok {
		t.Error("no note at line 51 naming 2.13")
	}
	q, _ := participantByID(b, "park15") // 2 m is tall but plausible
	if q.Attributes.HeightM == nil || *q.Attributes.HeightM != 2 {
		t.Errorf("park15 height %v, want 2 m", q.Attributes.HeightM)
	}
}

func TestWFDBConditionsAndSeverity(t *testing.T) {
	b, rep := importGaitNDD(t)
	cases := []struct {
		id, condition, scale string
		value                float64
	}{
		{"als1", "als", participant.ScaleALSDuration, 1},
		{"hunt1", "huntingtons", participant.ScaleTFC, 8},
		{"park2", "parkinsons", participant.ScaleHoehnYahr, 1.5},
		{"control1", "control", "", 0},
	}
	for _, c := range cases {
		p, _ := participantByID(b, c.id)
		if p.Attributes.Condition != c.condition {
			t.Errorf("%s condition %q, want %q", c.id, p.Attributes.Condition, c.condition)
		}
		if c.scale == "" {
			if len(p.Attributes.Scores) != 1 {
				t.Errorf("%s scores %+v, want only gait speed", c.id, p.Attributes.Scores)
			}
			continue
		}
		if s, ok := scoreOf(p.Attributes, c.scale); !ok || s.Value != c.value {
			t.Errorf("%s %s = %+v, want %v", c.id, c.scale, s, c.value)
		}
	}
	if _, ok := findNote(rep.Notes, "subject-description.txt lines 53-65", `"subjects"`); !ok {
		t.Error("no note that GROUP reads \"subjects\" for the ALS rows")
	}
}

func TestWFDBChecksums(t *testing.T) {
	// The shared copy turned the headers' CRLF into LF. The binary signal
	// files and the .ts files match as they are.
	b, rep := importGaitNDD(t)
	for _, s := range b.Samples {
		if got := s.Source["publisherChecksum"]; got != checksumMatchAfterCRLF {
			t.Errorf("%s: publisherChecksum %q, want %q", s.Where, got, checksumMatchAfterCRLF)
		}
	}
	als := b.Samples[0].Source["publisherChecksumFiles"]
	if als != "als1.hea match-after-crlf, als1.let match, als1.rit match, als1.ts match" {
		t.Errorf("als1 file checksums %q", als)
	}
	if _, ok := findNote(rep.Notes, "subject-description.txt", "differs from the publisher's checksum"); !ok {
		t.Error("no note that subject-description.txt differs from the publisher's checksum")
	}
}

func TestWFDBArchivesPassProbe(t *testing.T) {
	b, _ := importGaitNDD(t)
	for _, s := range b.Samples {
		m := probeSample(t, s)
		if m.Frames != 90000 || m.Duration != 300 {
			t.Errorf("%s: measured %+v, want 90000 frames over 300 s", s.Where, m)
		}
	}
}

func TestWFDBArchiveMembers(t *testing.T) {
	b, _ := importGaitNDD(t)
	s := b.Samples[0]
	rc, err := s.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "als1.hea als1.let als1.rit als1.ts" {
		t.Errorf("archive members %s, want header, signals, then intervals", got)
	}
}

func TestWFDBEmptySignalSkipped(t *testing.T) {
	// The fixture is a RECORDS file naming als1, the real als1.hea and
	// als1.rit, and an empty als1.let.
	src := dataset(t, "physionet-gaitndd")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "RECORDS"), "als1\n")
	copyFile(t, filepath.Join(src, "als1.hea"), filepath.Join(dir, "als1.hea"))
	copyFile(t, filepath.Join(src, "als1.rit"), filepath.Join(dir, "als1.rit"))
	writeFile(t, filepath.Join(dir, "als1.let"), "")

	b, rep, err := WFDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 0 {
		t.Errorf("%d samples, want the record skipped", len(b.Samples))
	}
	n, ok := findNote(rep.Notes, "RECORDS line 1", "als1.let", "empty")
	if !ok || !n.Skipped {
		t.Errorf("no skipped note naming the empty als1.let: %+v", rep.Notes)
	}
}

func TestWFDBGenericFolder(t *testing.T) {
	// The fixture is a folder named myrecords with a RECORDS file naming
	// park1 and the real park1 header and signal files, without gaitndd's
	// subject-description.txt.
	src := dataset(t, "physionet-gaitndd")
	dir := filepath.Join(t.TempDir(), "myrecords")
	writeFile(t, filepath.Join(dir, "RECORDS"), "park1\n")
	for _, f := range []string{"park1.hea", "park1.let", "park1.rit", "park1.ts"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, f))
	}

	b, rep, err := WFDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Participants) != 0 || len(b.Samples) != 1 {
		t.Fatalf("%d participants and %d samples, want 0 and 1", len(b.Participants), len(b.Samples))
	}
	s := b.Samples[0]
	if s.Namespace != "wfdb-myrecords" || s.Declaration.Participant != "park1" || s.Declaration.Modality != "sensor" {
		t.Errorf("sample %+v in namespace %q", s.Declaration, s.Namespace)
	}
	if _, ok := findNote(rep.Notes, "RECORDS", "not PhysioNet gaitndd"); !ok {
		t.Error("no note that the folder was read without a dataset profile")
	}
	probeSample(t, s)
}

func TestWFDBRecordLeavingFolder(t *testing.T) {
	// The fixture is a RECORDS file written here whose second line leaves
	// the folder.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "RECORDS"), "rec1\n../elsewhere/rec2\n")
	_, _, err := WFDB(dir)
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, "RECORDS line 2", `"../elsewhere/rec2"`); !ok {
		t.Errorf("no problem at RECORDS line 2 naming the record in %v", problems)
	}
}

// copyGaitNDD copies the gaitndd folder and lets edit change the copy.
func copyGaitNDD(t *testing.T, edit func(dir string)) string {
	t.Helper()
	src := dataset(t, "physionet-gaitndd")
	dir := filepath.Join(t.TempDir(), "gaitndd")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	edit(dir)
	return dir
}

func TestWFDBHeaderOfAnotherRecord(t *testing.T) {
	als1, err := os.ReadFile(filepath.Join(dataset(t, "physionet-gaitndd"), "als1.hea"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		header, problem string
	}{
		// control1.hea names als1's signal files: als1's recording would
		// be registered a second time, for control1.
		"signal files of another record": {strings.Replace(string(als1), "als1", "control1", 1), "signal file als1.let is also named by record als1"},
		// The header's record line names another record.
		"record line of another record": {strings.Replace(strings.ReplaceAll(string(als1), "als1.", "control1."), "als1", "als9", 1), `names record "als9"`},
	} {
		dir := copyGaitNDD(t, func(dir string) {
			writeFile(t, filepath.Join(dir, "control1.hea"), c.header)
			for _, ext := range []string{".let", ".rit"} {
				copyFile(t, filepath.Join(dir, "als1"+ext), filepath.Join(dir, "control1"+ext))
			}
		})
		_, _, err := WFDB(dir)
		problems := batchProblems(t, err)
		found := false
		for _, p := range problems {
			if strings.Contains(p.Err.Error(), c.problem) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no problem saying %q in %v", name, c.problem, problems)
		}
	}
}
