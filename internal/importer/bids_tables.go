package importer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/strictjson"
)

const (
	participantsFile    = "participants.tsv"
	participantsSidecar = "participants.json"
	bidsMissing         = "n/a" // BIDS writes unknown values as n/a
)

// bidsAge accepts any age: BIDS datasets may include children.
var bidsAge = bounds{0, 120, "years"}

// columnDescription is one column of participants.json.
type columnDescription struct {
	Units  string
	Unit   string // some datasets write Unit for the standard Units
	Levels map[string]any
}

// level returns the description of a code, such as "male" for M.
func (c columnDescription) level(code string) string {
	switch v := c.Levels[code].(type) {
	case string:
		return v
	case map[string]any: // a level may also be an object with a Description
		d, _ := v["Description"].(string)
		return d
	}
	return ""
}

// bidsParticipants is the reader of participants.tsv, which has one row per
// participant.
type bidsParticipants struct {
	*tableReader
	columns map[string]columnDescription
	index   map[string]int
	width   int
	seen    map[string]int
}

// readBIDSParticipants returns one participant per row of participants.tsv,
// in file order, reading codes through the levels of participants.json.
func readBIDSParticipants(dir string, rep *Report, probs *problems) ([]registry.ParticipantInput, error) {
	lines, err := readTextLines(filepath.Join(dir, participantsFile))
	if errors.Is(err, fs.ErrNotExist) {
		rep.note(participantsFile, "not found; participants are imported without attributes")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	bp := &bidsParticipants{tableReader: newTableReader(participantsFile, bidsMissing, rep, probs), seen: map[string]int{}}
	if err := bp.readSidecar(dir); err != nil {
		return nil, err
	}
	if len(lines) == 0 || !bp.readHeader(lines[0]) {
		return nil, nil
	}
	var people []registry.ParticipantInput
	for i, text := range lines[1:] {
		if strings.TrimSpace(text) == "" {
			continue
		}
		if p, ok := bp.participant(i+2, strings.Split(text, "\t")); ok {
			people = append(people, p)
		}
	}
	bp.finish()
	return people, nil
}

func (bp *bidsParticipants) readSidecar(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, participantsSidecar))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if path, dup := strictjson.DuplicateName(raw); dup {
		bp.probs.add(participantsSidecar, "field %s is given twice: keep one value", path)
	} else if err := json.Unmarshal(raw, &bp.columns); err != nil {
		bp.probs.add(participantsSidecar, "invalid JSON: %w", err)
	}
	return nil
}

func (bp *bidsParticipants) readHeader(text string) bool {
	header := strings.Split(text, "\t")
	bp.width = len(header)
	bp.index = map[string]int{}
	for i, name := range header {
		bp.index[strings.TrimSpace(name)] = i
	}
	if _, ok := bp.index["participant_id"]; !ok {
		bp.probs.add(where(participantsFile, 1), "no participant_id column: BIDS names it in the first header cell")
		return false
	}
	return true
}

func (bp *bidsParticipants) participant(line int, cells []string) (registry.ParticipantInput, bool) {
	at := where(participantsFile, line)
	if len(cells) != bp.width {
		bp.probs.add(at, "%d cells but the header names %d columns: separate cells by single tabs and write n/a for unknown values", len(cells), bp.width)
		return registry.ParticipantInput{}, false
	}
	cell := func(column string) string {
		if i, ok := bp.index[column]; ok {
			return strings.TrimSpace(cells[i])
		}
		return ""
	}
	id := cell("participant_id")
	if !bidsSubject.MatchString(id) {
		bp.probs.add(at, "participant_id %s is not a BIDS subject label such as sub-01: use sub- and then letters and digits only", describeCell(id))
		return registry.ParticipantInput{}, false
	}
	if first, dup := bp.seen[id]; dup {
		bp.probs.add(at, "participant %s is also on line %d: keep one row per participant", id, first)
		return registry.ParticipantInput{}, false
	}
	bp.seen[id] = line

	a := participant.Attributes{
		AgeYears:   bp.age(line, cell("age")),
		Sex:        bp.coded(line, "sex", cell("sex"), sexLevels),
		Handedness: bp.coded(line, "handedness", cell("handedness"), handednessLevels),
	}
	if g := cell("group"); g != bidsMissing {
		a.Group = g
	}
	return registry.ParticipantInput{Namespace: bidsNamespace, SourceID: id, Attributes: a, Where: at}, true
}

// age reads the age column in years. BIDS top-codes ages above 89 as 89+
// to de-identify them.
func (bp *bidsParticipants) age(line int, cell string) *float64 {
	if cell == "" {
		return nil
	}
	if unit := bp.columns["age"].unit(); unit != "" && unit != "year" && unit != "years" {
		bp.rep.note(where(participantsFile, line), "age %s is in %q, not years; stored as unknown", cell, unit)
		return nil
	}
	if strings.HasSuffix(cell, "+") {
		bp.rep.note(where(participantsFile, line), "age %s is top-coded for de-identification; stored as unknown", cell)
		return nil
	}
	return bp.measure(line, "age", cell, bidsAge)
}

func (c columnDescription) unit() string {
	if c.Units != "" {
		return strings.ToLower(c.Units)
	}
	return strings.ToLower(c.Unit)
}

// Values that codes and their level descriptions may spell, lower-cased.
var (
	sexLevels        = map[string]string{"m": "male", "male": "male", "f": "female", "female": "female", "o": "other", "other": "other"}
	handednessLevels = map[string]string{
		"r": "right", "right": "right", "right-handed": "right",
		"l": "left", "left": "left", "left-handed": "left",
		"a": "ambidextrous", "ambidextrous": "ambidextrous",
	}
)

// coded maps a code, or the description participants.json gives for it,
// to one of values. An unknown code is noted and stored as unknown.
func (bp *bidsParticipants) coded(line int, column, code string, values map[string]string) string {
	if code == "" || code == bidsMissing {
		return ""
	}
	for _, spelling := range []string{code, bp.columns[column].level(code)} {
		if v, ok := values[strings.ToLower(strings.TrimSpace(spelling))]; ok {
			return v
		}
	}
	bp.rep.note(where(participantsFile, line), "%s %q is not a known code; stored as unknown", column, code)
	return ""
}

// scanEntry is the row of a _scans.tsv file that names a recording.
type scanEntry struct {
	where   string
	acqTime string
}

// readScans reads every _scans.tsv file and returns its rows by the path,
// relative to the dataset root, of the file each row names. Rows naming
// files that are not present are noted as dangling references.
func readScans(dir string, files []string, rep *Report, probs *problems) (map[string]*scanEntry, error) {
	entries := map[string]*scanEntry{}
	for _, rel := range files {
		lines, err := readTextLines(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		if len(lines) == 0 {
			continue
		}
		header := strings.Split(lines[0], "\t")
		index := map[string]int{}
		for i, name := range header {
			index[strings.TrimSpace(name)] = i
		}
		nameAt, ok := index["filename"]
		if !ok {
			probs.add(where(rel, 1), "no filename column: a _scans.tsv file names each recording in its filename column")
			continue
		}
		timeAt, hasTime := index["acq_time"]
		for i, text := range lines[1:] {
			if strings.TrimSpace(text) == "" {
				continue
			}
			cells := strings.Split(text, "\t")
			at := where(rel, i+2)
			if len(cells) != len(header) {
				probs.add(at, "%d cells but the header names %d columns: separate cells by single tabs", len(cells), len(header))
				continue
			}
			name := strings.TrimSpace(cells[nameAt])
			target := path.Join(path.Dir(rel), name)
			if !filepath.IsLocal(name) || !filepath.IsLocal(target) {
				probs.add(at, "filename %q is not a path inside %s: name the file relative to the _scans.tsv folder", name, path.Dir(rel))
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(target))); errors.Is(err, fs.ErrNotExist) {
				rep.skip(at, "%s not found (dangling reference)", name)
				continue
			} else if err != nil {
				return nil, err
			}
			entry := &scanEntry{where: at}
			if hasTime {
				entry.acqTime = strings.TrimSpace(cells[timeAt])
			}
			entries[target] = entry
		}
	}
	return entries, nil
}

// shiftedYear is the latest year of a de-identified date. The BIDS
// specification recommends shifting dates to the year 1925 or earlier
// (earlier versions gave 1900), so no real recording carries such
// a year.
const shiftedYear = 1925

// capturedAt returns a recording's acq_time from _scans.tsv. It returns nil
// when the time is absent, date-shifted, or lacks a time zone, because a
// local time cannot be placed on the UTC time line.
func capturedAt(entry *scanEntry, rep *Report, probs *problems) *time.Time {
	if entry == nil || entry.acqTime == "" || entry.acqTime == bidsMissing {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, entry.acqTime)
	zoned := err == nil
	if !zoned {
		t, err = time.Parse("2006-01-02T15:04:05.999999999", entry.acqTime)
	}
	switch {
	case err != nil:
		probs.add(entry.where, "acq_time %q is not a date and time: write it as YYYY-MM-DDThh:mm:ss, with Z or an offset such as +01:00", entry.acqTime)
		return nil
	case t.Year() <= shiftedYear:
		rep.note(entry.where, "acq_time %s is date-shifted for de-identification (year %d); capturedAt stored as null", entry.acqTime, t.Year())
		return nil
	case !zoned:
		rep.note(entry.where, "acq_time %s has no time zone; capturedAt stored as null", entry.acqTime)
		return nil
	}
	t = t.UTC()
	return &t
}
