package importer

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/registry"
)

const demographicsFile = "demographics.txt"

// gaitpdbColumns are the columns of demographics.txt that the importer
// reads. The speed columns after Speed_01 are not imported.
var gaitpdbColumns = []string{"ID", "Study", "Group", "Subjnum", "Gender", "Age", "Height", "Weight", "HoehnYahr", "UPDRS", "UPDRSM", "TUAG", "Speed_01"}

// demographics is the reader of demographics.txt, which has one
// tab-separated row per subject.
type demographics struct {
	*tableReader
	header []string
	seen   map[string]int // canonical id to line
}

// demographicsRow is one subject's cells by column name. A cell missing at
// the end of a short row is empty.
type demographicsRow struct {
	line  int
	cells map[string]string
}

// readDemographics returns one participant per subject row, in file order.
// The error wraps fs.ErrNotExist when there is no demographics.txt.
func readDemographics(dir string, rep *Report, probs *problems) ([]registry.ParticipantInput, error) {
	lines, err := readTextLines(filepath.Join(dir, demographicsFile))
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		probs.add(demographicsFile, "the file is empty: it needs a header row and one row per subject")
		return nil, nil
	}
	d := &demographics{tableReader: newTableReader(demographicsFile, "NaN", rep, probs), seen: map[string]int{}}
	if !d.readHeader(lines[0]) {
		return nil, nil
	}

	var people []registry.ParticipantInput
	var blank, trailing []int
	for i, text := range lines[1:] {
		line := i + 2
		cells, hadTrailing := splitTabs(text)
		if len(cells) == 0 {
			blank = append(blank, line)
			continue
		}
		if hadTrailing {
			trailing = append(trailing, line)
		}
		row, ok := d.row(line, cells)
		if !ok {
			continue
		}
		if p, ok := d.participant(row); ok {
			people = append(people, p)
		}
	}
	if len(trailing) > 0 {
		rep.note(linesWhere(demographicsFile, trailing), "rows end in empty tab-separated cells; ignored")
	}
	if len(blank) > 0 {
		rep.note(linesWhere(demographicsFile, blank), "%d blank %s skipped", len(blank), plural(len(blank), "row", "rows"))
	}
	d.finish()
	return people, nil
}

func (d *demographics) readHeader(text string) bool {
	d.header, _ = splitTabs(text)
	have := map[string]bool{}
	for _, c := range d.header {
		have[strings.TrimSpace(c)] = true
	}
	ok := true
	for _, c := range gaitpdbColumns {
		if !have[c] {
			d.probs.add(where(demographicsFile, 1), "missing column %s: the header must name the columns %s", c, strings.Join(gaitpdbColumns, ", "))
			ok = false
		}
	}
	return ok
}

// row maps a row's cells to the header. A short row is padded with unknown
// values, and a row longer than the header is a problem.
func (d *demographics) row(line int, cells []string) (demographicsRow, bool) {
	if len(cells) > len(d.header) {
		d.probs.add(where(demographicsFile, line), "%d cells but the header names %d columns: remove the extra cells or name their columns", len(cells), len(d.header))
		return demographicsRow{}, false
	}
	if len(cells) < len(d.header) {
		d.rep.note(where(demographicsFile, line), "%d cells but the header names %d columns; columns %s to %s are stored as unknown", len(cells), len(d.header), d.header[len(cells)], d.header[len(d.header)-1])
	}
	row := demographicsRow{line: line, cells: map[string]string{}}
	for i, c := range cells {
		row.cells[strings.TrimSpace(d.header[i])] = strings.TrimSpace(c)
	}
	return row, true
}

// participant builds the participant of one row.
func (d *demographics) participant(r demographicsRow) (registry.ParticipantInput, bool) {
	id, ok := d.subjectID(r)
	if !ok {
		return registry.ParticipantInput{}, false
	}
	at := where(demographicsFile, r.line)
	if first, dup := d.seen[id]; dup {
		d.probs.add(at, "subject %s is also on line %d: keep one row per subject", id, first)
		return registry.ParticipantInput{}, false
	}
	d.seen[id] = r.line

	a := participant.Attributes{
		AgeYears: d.measure(r.line, "Age", r.cells["Age"], adultAge),
		Sex:      d.sex(r),
		HeightM:  d.height(r),
		WeightKg: d.measure(r.line, "Weight", r.cells["Weight"], adultWeight),
	}
	a.Condition, a.Group = d.group(r)
	a.Scores = d.scores(r)
	return registry.ParticipantInput{Namespace: gaitpdbNamespace, SourceID: id, Attributes: a, Where: at}, true
}

// subjectID derives the canonical id, such as JuCo10, from Study, Group and
// Subjnum, which the walk file names use. The ID column is used only when
// those columns cannot give one, because it has at least one misspelling
// (Juc010 for JuCo10).
func (d *demographics) subjectID(r demographicsRow) (string, bool) {
	at := where(demographicsFile, r.line)
	idCell := r.cells["ID"]
	derived, ok := gaitpdbSubjectID(r.cells["Study"], r.cells["Group"], r.cells["Subjnum"])
	switch {
	case ok && idCell != derived:
		d.rep.note(at, "ID %s disagrees with Study %s, Group %s, Subjnum %s; imported as %s, the name its walk files use", describeCell(idCell), r.cells["Study"], r.cells["Group"], r.cells["Subjnum"], derived)
		return derived, true
	case ok:
		return derived, true
	case idCell != "":
		d.rep.note(at, "Study %s, Group %s and Subjnum %s do not give a subject id; the ID column %q is used", describeCell(r.cells["Study"]), describeCell(r.cells["Group"]), describeCell(r.cells["Subjnum"]), idCell)
		return idCell, true
	}
	d.probs.add(at, "no subject id: the ID column is empty and Study, Group and Subjnum do not give one: fill in the ID column")
	return "", false
}

// gaitpdbSubjectID returns the id that walk files use: study, Pt for group
// 1 or Co for group 2, and the two-digit subject number.
func gaitpdbSubjectID(study, group, subjnum string) (string, bool) {
	kind := map[string]string{"1": "Pt", "2": "Co"}[group]
	n, err := strconv.Atoi(subjnum)
	if len(study) != 2 || kind == "" || err != nil || n < 0 || n > 99 {
		return "", false
	}
	return fmt.Sprintf("%s%s%02d", study, kind, n), true
}

func (d *demographics) sex(r demographicsRow) string {
	switch cell := r.cells["Gender"]; cell {
	case "1":
		return "male"
	case "2":
		return "female"
	case "", "NaN":
		if cell == "NaN" {
			d.markUnknown(r.line, "Gender")
		}
		return ""
	default:
		d.rep.note(where(demographicsFile, r.line), "Gender %q is neither 1 (male) nor 2 (female); stored as unknown", cell)
		return ""
	}
}

// height reads the Height column in metres. The Ju study gives heights in
// centimetres. No adult is 3 m tall, so a larger value is read as
// centimetres in any study.
func (d *demographics) height(r demographicsRow) *float64 {
	v, ok := d.number(r.line, "Height", r.cells["Height"])
	if !ok {
		return nil
	}
	if v > 3 {
		d.rep.note(where(demographicsFile, r.line), "Height %v read as centimetres; stored as %v m", v, v/100)
		v /= 100
	}
	return d.check(r.line, "Height", v, adultHeight)
}

// group returns the condition and audit group of Group 1 (Parkinson's
// disease) or 2 (control).
func (d *demographics) group(r demographicsRow) (condition, group string) {
	switch cell := r.cells["Group"]; cell {
	case "1":
		return "parkinsons", "patient"
	case "2":
		return "control", "control"
	default:
		d.rep.note(where(demographicsFile, r.line), "Group %s is neither 1 (Parkinson's disease) nor 2 (control); condition stored as unknown", describeCell(cell))
		return "", ""
	}
}

func (d *demographics) scores(r demographicsRow) []participant.Score {
	var s []participant.Score
	s = d.score(s, r.line, "HoehnYahr", r.cells["HoehnYahr"], participant.ScaleHoehnYahr, hoehnYahr)
	s = d.score(s, r.line, "UPDRS", r.cells["UPDRS"], participant.ScaleUPDRS, updrsTotal)
	s = d.score(s, r.line, "UPDRSM", r.cells["UPDRSM"], participant.ScaleUPDRSMotor, updrsMotor)
	s = d.score(s, r.line, "TUAG", r.cells["TUAG"], participant.ScaleTUG, tugSeconds)
	// Speed_01 is the speed of the usual walk, walk 01.
	s = d.score(s, r.line, "Speed_01", r.cells["Speed_01"], participant.ScaleGaitSpeed, gaitSpeed)
	return s
}
