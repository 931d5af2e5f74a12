package importer

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/steward-rehab/steward/internal/participant"
)

var utf8BOM = []byte("\xef\xbb\xbf")

// readTextLines reads a text file as lines without their terminators. It
// removes a UTF-8 byte order mark and accepts LF, CRLF and lone CR line
// endings, mixed in one file.
func readTextLines(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := string(normalizeNewlines(bytes.TrimPrefix(raw, utf8BOM)))
	if text == "" {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n"), nil
}

// normalizeNewlines turns CRLF and lone CR into LF. Line numbers stay as an
// editor shows them.
func normalizeNewlines(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
}

// splitTabs splits a tab-separated line and drops the empty cells at its
// end. trailing reports whether there were any.
func splitTabs(line string) (cells []string, trailing bool) {
	cells = strings.Split(line, "\t")
	n := len(cells)
	for n > 0 && strings.TrimSpace(cells[n-1]) == "" {
		n--
	}
	return cells[:n], n < len(cells)
}

// bounds is the range of values that a source could plausibly mean.
// Outside it a value is taken for a data entry error and stored as unknown.
type bounds struct {
	min, max float64
	unit     string
}

// Plausibility bounds for adult study participants. They are looser than
// any study's inclusion criteria and only catch values that cannot be right,
// such as a height in centimetres in a column of metres. Scale bounds are the
// scales' own limits.
var (
	adultAge      = bounds{18, 110, "years"}
	adultHeight   = bounds{1.20, 2.10, "m"}
	adultWeight   = bounds{30, 250, "kg"}
	gaitSpeed     = bounds{0.05, 3, "m/s"}
	tugSeconds    = bounds{2, 300, "s"}
	hoehnYahr     = bounds{0, 5, ""}
	updrsTotal    = bounds{0, 199, ""} // parts I-IV
	updrsMotor    = bounds{0, 108, ""} // part III: 27 items scored 0-4
	functionalCap = bounds{0, 13, ""}  // Huntington's Total Functional Capacity
	monthsSinceDx = bounds{0, 600, "months"}
)

// tableReader reads typed values from the cells of a table file. It reports
// malformed cells as problems, notes implausible values, and counts the
// cells holding the source's token for an unknown value.
type tableReader struct {
	file    string
	missing string // the token for an unknown value, such as NaN or MISSING
	rep     *Report
	probs   *problems

	unknownLines map[string][]int
	columns      []string // in the order first seen, for stable notes
}

func newTableReader(file, missing string, rep *Report, probs *problems) *tableReader {
	return &tableReader{file: file, missing: missing, rep: rep, probs: probs, unknownLines: map[string][]int{}}
}

// number parses a cell. It returns ok false for an empty cell, the unknown
// token, and a malformed cell (which it reports as a problem).
func (t *tableReader) number(line int, column, cell string) (float64, bool) {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return 0, false
	}
	if strings.EqualFold(cell, t.missing) {
		t.markUnknown(line, column)
		return 0, false
	}
	v, err := strconv.ParseFloat(cell, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		t.probs.add(where(t.file, line), "column %s: value %q is not a number: write a number, or %s when the value is unknown", column, cell, t.missing)
		return 0, false
	}
	return v, true
}

func (t *tableReader) markUnknown(line int, column string) {
	if _, seen := t.unknownLines[column]; !seen {
		t.columns = append(t.columns, column)
	}
	t.unknownLines[column] = append(t.unknownLines[column], line)
}

// check returns v when it is within b, and otherwise notes it and returns
// nil, which stores the value as unknown.
func (t *tableReader) check(line int, column string, v float64, b bounds) *float64 {
	if v < b.min || v > b.max {
		t.rep.note(where(t.file, line), "%s %v is outside the plausible range %v to %v %s; stored as unknown", column, v, b.min, b.max, b.unit)
		return nil
	}
	return &v
}

// measure reads a cell as a plausible value, or nil when it is unknown.
func (t *tableReader) measure(line int, column, cell string, b bounds) *float64 {
	v, ok := t.number(line, column, cell)
	if !ok {
		return nil
	}
	return t.check(line, column, v, b)
}

// score appends the cell's value on a scale to scores, unless it is unknown.
func (t *tableReader) score(scores []participant.Score, line int, column, cell, scale string, b bounds) []participant.Score {
	v := t.measure(line, column, cell, b)
	if v == nil {
		return scores
	}
	return append(scores, participant.Score{Scale: scale, Value: *v, Unit: b.unit})
}

// finish notes, per column, the lines where the unknown token appeared.
func (t *tableReader) finish() {
	for _, column := range t.columns {
		lines := t.unknownLines[column]
		t.rep.note(linesWhere(t.file, lines), "column %s is %s on %d %s; stored as unknown", column, t.missing, len(lines), plural(len(lines), "row", "rows"))
	}
}

func plural(n int, singular, pluralForm string) string {
	if n == 1 {
		return singular
	}
	return pluralForm
}

func describeCell(cell string) string {
	if cell == "" {
		return "empty"
	}
	return fmt.Sprintf("%q", cell)
}
