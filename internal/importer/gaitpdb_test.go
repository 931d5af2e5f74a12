package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/registry"
)

// The tests below read PhysioNet gaitpdb from the shared data folder:
// demographics of 166 subjects and 7 walk files of 6 of them.

func importGaitPDB(t *testing.T) (*registry.Batch, *Report) {
	t.Helper()
	b, rep, err := GaitPDB(dataset(t, "physionet-gaitpdb"))
	if err != nil {
		t.Fatal(err)
	}
	return b, rep
}

func TestGaitPDBCounts(t *testing.T) {
	b, _ := importGaitPDB(t)
	if len(b.Participants) != 166 {
		t.Errorf("%d participants, want 166 (93 patients and 73 controls)", len(b.Participants))
	}
	if len(b.Samples) != 7 {
		t.Errorf("%d samples, want the 7 walk files", len(b.Samples))
	}
	for _, p := range b.Participants {
		if p.Namespace != "gaitpdb" {
			t.Errorf("%s: namespace %q, want gaitpdb", p.Where, p.Namespace)
		}
		if err := p.Attributes.Validate(); err != nil {
			t.Errorf("%s: attributes the registry rejects: %v", p.Where, err)
		}
	}
}

func TestGaitPDBMisspeltID(t *testing.T) {
	b, rep := importGaitPDB(t)
	p, ok := participantByID(b, "JuCo10")
	if !ok {
		t.Fatal("no participant JuCo10")
	}
	if p.Where != "demographics.txt line 121" {
		t.Errorf("JuCo10 read at %s, want demographics.txt line 121", p.Where)
	}
	if _, ok := participantByID(b, "Juc010"); ok {
		t.Error("the misspelt id Juc010 was imported")
	}
	if _, ok := findNote(rep.Notes, "demographics.txt line 121", "Juc010", "JuCo10"); !ok {
		t.Error("no note at line 121 naming Juc010 and JuCo10")
	}
}

func TestGaitPDBHeightCentimetres(t *testing.T) {
	b, rep := importGaitPDB(t)
	p, _ := participantByID(b, "JuPt03")
	if p.Attributes.HeightM == nil || *p.Attributes.HeightM != 1.64 {
		t.Errorf("JuPt03 height %v, want 1.64 m from 164 cm", p.Attributes.HeightM)
	}
	if _, ok := findNote(rep.Notes, "demographics.txt line 33", "164", "centimetres"); !ok {
		t.Error("no note at line 33 for 164 cm")
	}
	g, _ := participantByID(b, "GaPt03")
	if g.Attributes.HeightM == nil || *g.Attributes.HeightM != 1.45 {
		t.Errorf("GaPt03 height %v, want 1.45 m as written", g.Attributes.HeightM)
	}
}

func TestGaitPDBNaNIsUnknown(t *testing.T) {
	b, rep := importGaitPDB(t)
	p, _ := participantByID(b, "GaPt15") // line 12: Height NaN
	if p.Attributes.HeightM != nil {
		t.Errorf("GaPt15 height %v, want unknown", *p.Attributes.HeightM)
	}
	if p.Attributes.WeightKg == nil || *p.Attributes.WeightKg != 80 {
		t.Errorf("GaPt15 weight %v, want 80 kg", p.Attributes.WeightKg)
	}
	c, _ := participantByID(b, "JuCo01") // line 113: HoehnYahr NaN
	if s, ok := scoreOf(c.Attributes, participant.ScaleHoehnYahr); ok {
		t.Errorf("JuCo01 has Hoehn and Yahr %v, want none", s.Value)
	}
	if _, ok := findNote(rep.Notes, "demographics.txt lines 12, 16, 18", "Height", "NaN"); !ok {
		t.Error("no note naming the lines where Height is NaN")
	}
}

func TestGaitPDBScores(t *testing.T) {
	b, _ := importGaitPDB(t)
	p, _ := participantByID(b, "GaPt03") // line 2
	want := map[string]float64{
		participant.ScaleHoehnYahr:  3,
		participant.ScaleUPDRS:      20,
		participant.ScaleUPDRSMotor: 10,
		participant.ScaleTUG:        36.34,
	}
	for scale, v := range want {
		s, ok := scoreOf(p.Attributes, scale)
		if !ok || s.Value != v {
			t.Errorf("GaPt03 %s = %+v, want %v", scale, s, v)
		}
	}
	if _, ok := scoreOf(p.Attributes, participant.ScaleGaitSpeed); ok {
		t.Error("GaPt03 has a gait speed, but its Speed_01 is NaN")
	}
	if p.Attributes.Sex != "female" || p.Attributes.Condition != "parkinsons" || p.Attributes.Group != "patient" {
		t.Errorf("GaPt03 attributes %+v, want female parkinsons patient", p.Attributes)
	}
	c, _ := participantByID(b, "GaCo01") // line 95
	if s, ok := scoreOf(c.Attributes, participant.ScaleGaitSpeed); !ok || s.Value != 1.075 || s.Unit != "m/s" {
		t.Errorf("GaCo01 gait speed %+v, want 1.075 m/s", s)
	}
}

func TestGaitPDBBlankRowsAndTrailingTabs(t *testing.T) {
	_, rep := importGaitPDB(t)
	if _, ok := findNote(rep.Notes, "demographics.txt lines 168-236", "69 blank rows"); !ok {
		t.Error("no note for the 69 blank rows at lines 168-236")
	}
	if _, ok := findNote(rep.Notes, "demographics.txt lines 2-16, 49-167", "empty tab-separated cells"); !ok {
		t.Error("no note for the rows that end in tabs")
	}
}

func TestGaitPDBChecksumsMatchAfterCRLF(t *testing.T) {
	// The shared copy has LF line endings and the publisher's list was
	// computed over CRLF files, so every walk matches only after conversion.
	b, _ := importGaitPDB(t)
	for _, s := range b.Samples {
		if got := s.Source["publisherChecksum"]; got != checksumMatchAfterCRLF {
			t.Errorf("%s: publisherChecksum %q, want %q", s.Where, got, checksumMatchAfterCRLF)
		}
	}
}

func TestGaitPDBWalkDeclarations(t *testing.T) {
	b, rep := importGaitPDB(t)
	protocols := map[string]string{}
	for _, s := range b.Samples {
		protocols[s.Declaration.Path] = s.Declaration.Protocol
		d := s.Declaration
		if d.Modality != "pressure" || d.Format != "tsv" || d.SamplingRate != 100 || d.Channels != 18 || d.TimeUnit != "s" || d.CapturedAt != nil {
			t.Errorf("%s: declaration %+v", s.Where, d.Record)
		}
		if s.Namespace != "gaitpdb" || s.Source["licence"] != "ODC-BY-1.0" {
			t.Errorf("%s: namespace %q, source %v", s.Where, s.Namespace, s.Source)
		}
	}
	if protocols["GaPt15_10.txt"] != "dual-task-walk" {
		t.Errorf("walk 10 protocol %q, want dual-task-walk", protocols["GaPt15_10.txt"])
	}
	if protocols["GaCo01_01.txt"] != "usual-walk" {
		t.Errorf("walk 01 protocol %q, want usual-walk", protocols["GaCo01_01.txt"])
	}
	if _, ok := findNote(rep.Notes, "JuPt03_02.txt", "walk 02"); !ok {
		t.Error("no note that walk 02 is not described by the dataset")
	}
	s := b.Samples[0]
	if s.Declaration.CollectorID != "physionet-gaitpdb/Ga" {
		t.Errorf("%s: collectorId %q", s.Where, s.Declaration.CollectorID)
	}
}

func TestGaitPDBWalksPassProbe(t *testing.T) {
	b, _ := importGaitPDB(t)
	for _, s := range b.Samples {
		m := probeSample(t, s)
		if m.Frames < 1000 {
			t.Errorf("%s: %d rows, want a walk of at least 10 s", s.Where, m.Frames)
		}
	}
}

func TestGaitPDBUnlistedSubject(t *testing.T) {
	// The fixture is the real demographics.txt and the first 300 rows of
	// GaPt03_01.txt saved as GaPt99_01.txt, a subject the file does not list.
	src := dataset(t, "physionet-gaitpdb")
	dir := t.TempDir()
	copyFile(t, filepath.Join(src, "demographics.txt"), filepath.Join(dir, "demographics.txt"))
	walk, err := os.ReadFile(filepath.Join(src, "GaPt03_01.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.SplitAfter(string(walk), "\n")[:300]
	writeFile(t, filepath.Join(dir, "GaPt99_01.txt"), strings.Join(rows, ""))

	b, rep, err := GaitPDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 1 || b.Samples[0].Declaration.Participant != "GaPt99" {
		t.Fatalf("samples %+v, want the GaPt99 walk", b.Samples)
	}
	if _, ok := findNote(rep.Notes, "GaPt99_01.txt", "GaPt99", "not in demographics.txt"); !ok {
		t.Error("no note that GaPt99 is not in demographics.txt")
	}
	if got := b.Samples[0].Source["publisherChecksum"]; got != checksumNotListed {
		t.Errorf("publisherChecksum %q, want %q without SHA256SUMS.txt", got, checksumNotListed)
	}
	probeSample(t, b.Samples[0])
}

func TestGaitPDBMalformedRows(t *testing.T) {
	// The fixture is a demographics.txt written here: line 2 is short,
	// line 3 has an extra cell, line 4 has a word for an age, and line 5
	// repeats subject GaPt03 under another spelling.
	dir := t.TempDir()
	header := strings.Join(gaitpdbColumns, "\t")
	writeFile(t, filepath.Join(dir, "demographics.txt"), header+"\n"+
		"GaPt03\tGa\t1\t3\t2\t82\t1.45\n"+
		"GaPt04\tGa\t1\t4\t1\t68\t1.71\t70\t2.5\t25\t8\t11.00\t0.642\textra\n"+
		"GaPt05\tGa\t1\t5\t2\teighty\t1.53\t51\t2.5\t24\t5\t14.50\t0.908\n"+
		"GaPt3\tGa\t1\t3\t2\t82\t1.45\t50\t3.0\t20\t10\t36.34\tNaN\n")

	_, rep, err := GaitPDB(dir)
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, "demographics.txt line 3", "14 cells", "13 columns"); !ok {
		t.Errorf("no problem for the extra cell on line 3 in %v", problems)
	}
	if _, ok := findProblem(problems, "demographics.txt line 4", "Age", `"eighty"`); !ok {
		t.Errorf("no problem naming Age and \"eighty\" on line 4 in %v", problems)
	}
	if _, ok := findProblem(problems, "demographics.txt line 5", "GaPt03", "line 2"); !ok {
		t.Errorf("no problem for the repeated subject on line 5 in %v", problems)
	}
	if _, ok := findNote(rep.Notes, "demographics.txt line 2", "7 cells", "Weight to Speed_01"); !ok {
		t.Error("no note that the short row on line 2 was padded")
	}
}
