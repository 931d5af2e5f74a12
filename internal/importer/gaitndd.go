package importer

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/registry"
)

const subjectDescriptionFile = "subject-description.txt"

// Columns of subject-description.txt. The subject column has an empty name.
const (
	nddSubject  = ""
	nddGroup    = "GROUP"
	nddAge      = "AGE(YRS)"
	nddHeight   = "HEIGHT(meters)"
	nddWeight   = "Weight(kg)"
	nddGender   = "gender"
	nddSpeed    = "GaitSpeed(m/sec)"
	nddSeverity = "Duration/Severity"
)

var nddColumns = []string{nddSubject, nddGroup, nddAge, nddHeight, nddWeight, nddGender, nddSpeed, nddSeverity}

// nddSubjectName matches gaitndd subject and record names, such as hunt20.
var nddSubjectName = regexp.MustCompile(`^(als|control|hunt|park)\d+$`)

// nddCondition maps a subject name prefix to the condition, audit group and
// severity scale. The GROUP column is not used because it reads "subjects"
// for the ALS group.
var nddCondition = map[string]struct {
	condition string
	group     string
	severity  string // scale of the Duration/Severity column, empty for none
	bounds    bounds
}{
	"als":     {"als", "patient", participant.ScaleALSDuration, monthsSinceDx},
	"control": {"control", "control", "", bounds{}},
	"hunt":    {"huntingtons", "patient", participant.ScaleTFC, functionalCap},
	"park":    {"parkinsons", "patient", participant.ScaleHoehnYahr, hoehnYahr},
}

// subjectDescription is the reader of subject-description.txt, which has
// one tab-separated row per subject.
type subjectDescription struct {
	*tableReader
	index        map[string]int // column name to cell index
	width        int            // cells in the header
	seen         map[string]int // subject to line
	groupMisfits map[string][]int
}

// readSubjectDescription returns one participant per row of gaitndd's
// subject-description.txt, in file order.
func readSubjectDescription(dir string, rep *Report, probs *problems) ([]registry.ParticipantInput, error) {
	lines, err := readTextLines(filepath.Join(dir, subjectDescriptionFile))
	if err != nil {
		return nil, err
	}
	sd := &subjectDescription{
		tableReader:  newTableReader(subjectDescriptionFile, "MISSING", rep, probs),
		seen:         map[string]int{},
		groupMisfits: map[string][]int{},
	}
	if len(lines) == 0 || !sd.readHeader(lines[0]) {
		return nil, nil
	}
	var people []registry.ParticipantInput
	for i, text := range lines[1:] {
		line := i + 2
		cells, ok := sd.cells(line, text)
		if !ok {
			continue
		}
		if p, ok := sd.participant(line, cells); ok {
			people = append(people, p)
		}
	}
	sd.noteGroupMisfits()
	sd.finish()
	return people, nil
}

func (sd *subjectDescription) readHeader(text string) bool {
	header, _ := splitTabs(text)
	sd.width = len(header)
	sd.index = map[string]int{}
	for i, name := range header {
		sd.index[strings.TrimSpace(name)] = i
	}
	ok := len(header) > 0 && strings.TrimSpace(header[0]) == nddSubject
	for _, c := range nddColumns[1:] {
		if _, found := sd.index[c]; !found {
			ok = false
		}
	}
	if !ok {
		sd.probs.add(where(subjectDescriptionFile, 1), "header %q is not the gaitndd header: expected an empty first cell, then %s, separated by tabs", text, strings.Join(nddColumns[1:], ", "))
	}
	return ok
}

// cells splits a row. One published row separates its last cells by a space
// instead of a tab, so a row with too few tab-separated cells is split again
// on any white space.
func (sd *subjectDescription) cells(line int, text string) ([]string, bool) {
	cells, _ := splitTabs(text)
	if len(cells) == 0 {
		return nil, false
	}
	if len(cells) == sd.width {
		return cells, true
	}
	if fields := strings.Fields(text); len(cells) < sd.width && len(fields) == sd.width {
		sd.rep.note(where(subjectDescriptionFile, line), "%d tab-separated cells where %d are expected, because cell %q contains a space; split on spaces and tabs", len(cells), sd.width, spacedCell(cells))
		return fields, true
	}
	sd.probs.add(where(subjectDescriptionFile, line), "%d cells where the header names %d columns: separate the cells by tabs", len(cells), sd.width)
	return nil, false
}

// spacedCell returns the first cell that contains a space.
func spacedCell(cells []string) string {
	for _, c := range cells {
		if strings.Contains(strings.TrimSpace(c), " ") {
			return c
		}
	}
	return ""
}

func (sd *subjectDescription) participant(line int, cells []string) (registry.ParticipantInput, bool) {
	cell := func(column string) string { return strings.TrimSpace(cells[sd.index[column]]) }
	at := where(subjectDescriptionFile, line)
	subject := cell(nddSubject)
	m := nddSubjectName.FindStringSubmatch(subject)
	if m == nil {
		sd.probs.add(at, "subject %s is not a gaitndd record name (als, control, hunt or park and a number): correct the first cell", describeCell(subject))
		return registry.ParticipantInput{}, false
	}
	if first, dup := sd.seen[subject]; dup {
		sd.probs.add(at, "subject %s is also on line %d: keep one row per subject", subject, first)
		return registry.ParticipantInput{}, false
	}
	sd.seen[subject] = line
	kind := nddCondition[m[1]]
	if g := cell(nddGroup); g != m[1] {
		sd.groupMisfits[g] = append(sd.groupMisfits[g], line)
	}

	a := participant.Attributes{
		AgeYears:  sd.measure(line, nddAge, cell(nddAge), adultAge),
		Sex:       sd.sex(line, cell(nddGender)),
		HeightM:   sd.measure(line, nddHeight, cell(nddHeight), adultHeight),
		WeightKg:  sd.measure(line, nddWeight, cell(nddWeight), adultWeight),
		Condition: kind.condition,
		Group:     kind.group,
	}
	a.Scores = sd.score(nil, line, nddSpeed, cell(nddSpeed), participant.ScaleGaitSpeed, gaitSpeed)
	if kind.severity != "" {
		a.Scores = sd.score(a.Scores, line, nddSeverity, cell(nddSeverity), kind.severity, kind.bounds)
	} else {
		sd.checkControlSeverity(line, cell(nddSeverity))
	}
	return registry.ParticipantInput{Namespace: gaitnddProfile.namespace, SourceID: subject, Attributes: a, Where: at}, true
}

func (sd *subjectDescription) sex(line int, cell string) string {
	switch strings.ToLower(cell) {
	case "m":
		return "male"
	case "f":
		return "female"
	case "missing":
		sd.markUnknown(line, nddGender)
		return ""
	}
	sd.rep.note(where(subjectDescriptionFile, line), "gender %s is neither m nor f; stored as unknown", describeCell(cell))
	return ""
}

// checkControlSeverity notes a control whose severity is not 0, the value
// the dataset uses for "not applicable".
func (sd *subjectDescription) checkControlSeverity(line int, cell string) {
	v, ok := sd.number(line, nddSeverity, cell)
	if ok && v != 0 {
		sd.rep.note(where(subjectDescriptionFile, line), "control subject has %s %v, which has no meaning for controls; ignored", nddSeverity, v)
	}
}

// noteGroupMisfits notes GROUP values that differ from the subject name
// prefix, such as "subjects" for the ALS rows.
func (sd *subjectDescription) noteGroupMisfits() {
	for _, g := range slices.Sorted(maps.Keys(sd.groupMisfits)) {
		lines := sd.groupMisfits[g]
		sd.rep.note(linesWhere(subjectDescriptionFile, lines), "GROUP %s differs from the subject name prefix; the condition is taken from the prefix", describeCell(g))
	}
}
