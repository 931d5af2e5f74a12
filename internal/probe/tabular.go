package probe

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// tabular checks a delimited numeric file line by line: every row has the
// same number of columns, every cell is a number (NaN allowed), and, when the
// first column is time, it increases and gives the sampling interval.
type tabular struct {
	sep      byte // 0 splits on runs of spaces and tabs
	timeUnit string

	partial []byte
	line    int
	columns int
	rows    int64
	header  bool
	first   float64
	last    float64
	sawCR   bool
	sawLF   bool
	sniffed bool
	err     error
}

func newTabular(sep byte, opts Options) *tabular {
	return &tabular{sep: sep, timeUnit: opts.TimeUnit}
}

func (p *tabular) Write(b []byte) (int, error) {
	if p.err != nil {
		return len(b), nil
	}
	if !p.sniffed && len(b) > 0 {
		p.sniffed = true
		p.err = sniffBinary(b)
		if p.err != nil {
			return len(b), nil
		}
	}
	data := b
	if len(p.partial) > 0 {
		data = append(p.partial, b...)
		p.partial = nil
	}
	for p.err == nil {
		i := lineEnd(data)
		if i < 0 {
			break
		}
		// A CR at the very end may be the first half of CRLF.
		if data[i] == '\r' && i+1 == len(data) {
			break
		}
		p.row(data[:i])
		if data[i] == '\r' && data[i+1] == '\n' {
			p.sawCR = true
			i++
		} else if data[i] == '\r' {
			p.sawCR = true
		} else {
			p.sawLF = true
		}
		data = data[i+1:]
	}
	if p.err == nil && len(data) > 0 {
		p.partial = append(p.partial, data...)
		if len(p.partial) > 1<<20 {
			p.err = fmt.Errorf("line %d is longer than 1 MiB: not a tabular file", p.line+1)
		}
	}
	return len(b), nil
}

// nextCell returns the cell at the start of line and the rest after its
// separator. Cells are split on the separator, or on runs of spaces and
// tabs when it is 0. ok is false when no cell is left.
func (p *tabular) nextCell(line []byte) (cell, rest []byte, ok bool) {
	if p.sep == 0 {
		i := 0
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			return nil, nil, false
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		return line[i:j], line[j:], true
	}
	if line == nil {
		return nil, nil, false
	}
	i := bytes.IndexByte(line, p.sep)
	if i < 0 {
		return trimSpace(line), nil, true
	}
	return trimSpace(line[:i]), line[i+1:], true
}

// trimSpace is bytes.TrimSpace, skipped for the usual cell that neither
// starts nor ends with a control, space or non-ASCII byte and so has no
// white space to trim.
func trimSpace(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	first, last := b[0], b[len(b)-1]
	if first > ' ' && first < 0x80 && last > ' ' && last < 0x80 {
		return b
	}
	return bytes.TrimSpace(b)
}

// trimLine drops surrounding space and, for delimited files, the trailing
// separators that spreadsheets write as padding.
func (p *tabular) trimLine(raw []byte) []byte {
	line := bytes.TrimSpace(raw)
	if p.sep != 0 {
		for len(line) > 0 && (line[len(line)-1] == p.sep || line[len(line)-1] == ' ') {
			line = line[:len(line)-1]
		}
	}
	return line
}

func (p *tabular) countCells(line []byte) int {
	n := 0
	for rest := line; ; n++ {
		var ok bool
		if _, rest, ok = p.nextCell(rest); !ok {
			return n
		}
	}
}

func (p *tabular) row(raw []byte) {
	p.line++
	var n int
	var timeCell []byte
	plain := false
	if p.sep != 0 && (p.columns != 0 || p.rows != 0 || p.header) {
		n, timeCell, plain = p.plainCells(raw)
	}
	if !plain {
		var ok bool
		if n, timeCell, ok = p.cells(raw); !ok {
			return
		}
	}
	if p.columns == 0 {
		p.columns = n
	} else if n != p.columns {
		p.err = fmt.Errorf("line %d has %d columns, earlier rows have %d", p.line, n, p.columns)
		return
	}
	p.rows++
	if p.timeUnit != "" {
		p.addTime(timeCell)
	}
}

// cells checks the cells of a line and returns their number and the first
// one. It returns ok false for an empty line, for the header, which it
// records, and for an invalid cell, which sets p.err.
func (p *tabular) cells(raw []byte) (n int, first []byte, ok bool) {
	line := p.trimLine(raw)
	if len(line) == 0 {
		return 0, nil, false
	}
	if p.columns == 0 && p.rows == 0 && !p.header {
		if first, _, _ := p.nextCell(line); !numeric(first) {
			p.header = true
			p.columns = p.countCells(line)
			return 0, nil, false
		}
	}
	for rest := line; ; n++ {
		cell, next, more := p.nextCell(rest)
		if !more {
			break
		}
		if !numeric(cell) {
			if _, err := strconv.ParseFloat(string(cell), 64); errors.Is(err, strconv.ErrRange) {
				p.err = fmt.Errorf("line %d column %d: value %q is beyond the range of a 64-bit floating-point number: check the export that wrote it", p.line, n+1, cell)
			} else {
				p.err = fmt.Errorf("line %d column %d: value %q is not a number: write a number, or NaN or n/a for a missing value", p.line, n+1, cell)
			}
			return 0, nil, false
		}
		if n == 0 {
			first = cell
		}
		rest = next
	}
	return n, first, true
}

// plainCells is the fast path of cells for a delimited line whose cells are
// all plain decimals, such as -0.0123, with no space anywhere: it checks
// them in one pass over the bytes. For any other line it returns ok false
// and leaves the line to cells, which gives the same result for a plain
// line.
func (p *tabular) plainCells(line []byte) (n int, first []byte, ok bool) {
	start, digits, point := 0, 0, false
	for i := 0; i <= len(line); i++ {
		if i == len(line) || line[i] == p.sep {
			if digits == 0 {
				return 0, nil, false // an empty cell, or a trailing separator
			}
			if n == 0 {
				first = line[start:i]
			}
			n++
			start, digits, point = i+1, 0, false
			continue
		}
		switch c := line[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point:
			point = true
		case (c == '-' || c == '+') && i == start:
		default:
			return 0, nil, false
		}
	}
	return n, first, true
}

func (p *tabular) addTime(cell []byte) {
	t, ok := parseDecimal(cell)
	var err error
	if !ok {
		t, err = strconv.ParseFloat(string(cell), 64)
	}
	if err != nil || math.IsNaN(t) {
		p.err = fmt.Errorf("line %d: time value %q is not a number", p.line, cell)
		return
	}
	if p.rows == 1 {
		p.first = t
	} else if t <= p.last {
		p.err = fmt.Errorf("line %d: time %v does not increase after %v", p.line, t, p.last)
		return
	}
	p.last = t
}

// numeric reports whether a cell is a decimal number in the forms tables
// use (sign, digits, point, exponent), or NaN or n/a (the BIDS spelling)
// for a missing value. It checks the syntax only, which is much cheaper
// than parsing every cell, and parses only the rare cells long enough or
// with an exponent large enough to overflow to infinity.
func numeric(b []byte) bool {
	if missing(b) {
		return true
	}
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	if i != len(b) {
		return false
	}
	// A float64 overflows only past about 1.8e308: with a two-digit
	// exponent and few digits no cell comes close.
	if exp > 2 || digits > 300 {
		_, err := strconv.ParseFloat(string(b), 64)
		return err == nil
	}
	return true
}

// missing reports whether a cell marks a missing value: NaN in any case, or
// n/a as BIDS writes it.
func missing(b []byte) bool {
	if len(b) != 3 {
		return false
	}
	first, last := b[0]|0x20, b[2]|0x20
	return first == 'n' && last == 'n' && b[1]|0x20 == 'a' || first == 'n' && b[1] == '/' && last == 'a'
}

func (p *tabular) Finish() (Measured, error) {
	if p.err == nil && len(p.partial) > 0 {
		p.row(bytes.TrimSuffix(p.partial, []byte("\r")))
		p.partial = nil
	}
	if p.err != nil {
		return Measured{}, p.err
	}
	if p.rows == 0 {
		return Measured{}, fmt.Errorf("no data rows: the file is empty or holds only a header")
	}
	m := Measured{Channels: p.columns, Frames: p.rows}
	if p.timeUnit == "" {
		return m, nil
	}
	m.Channels = p.columns - 1
	if p.rows < 2 {
		return m, nil
	}
	scale := 1.0
	if p.timeUnit == "ms" {
		scale = 1e-3
	}
	interval := (p.last - p.first) * scale / float64(p.rows-1)
	m.SamplingRate = 1 / interval
	m.Duration = (p.last - p.first) * scale
	return m, nil
}

// lineEnd returns the index of the first CR or LF in data, or -1.
// bytes.IndexByte is vectorised, so two calls beat one loop over both bytes.
func lineEnd(data []byte) int {
	lf := bytes.IndexByte(data, '\n')
	before := data
	if lf >= 0 {
		before = data[:lf]
	}
	if cr := bytes.IndexByte(before, '\r'); cr >= 0 {
		return cr
	}
	return lf
}

// pow10 holds the powers of ten that a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal parses the common form of a time cell, digits with an
// optional point and sign, without allocating. For any other form it
// returns ok false, and the caller falls back to strconv.ParseFloat. With
// at most 15 digits both the mantissa and the power of ten are exact
// float64 values, so one division rounds correctly. This is the fast path
// of Clinger's algorithm, which strconv takes too.
func parseDecimal(b []byte) (float64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	var mantissa uint64
	digits, fraction := 0, -1
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			mantissa = mantissa*10 + uint64(c-'0')
			digits++
			if fraction >= 0 {
				fraction++
			}
		case c == '.' && fraction < 0:
			fraction = 0
		default:
			return 0, false
		}
		if digits > 15 {
			return 0, false
		}
	}
	if digits == 0 || mantissa > 1<<53 {
		return 0, false
	}
	f := float64(mantissa)
	if fraction > 0 {
		f /= pow10[fraction]
	}
	if neg {
		f = -f
	}
	return f, true
}

// sniffBinary rejects content that is not text at all, such as a WAV file
// declared as tsv, with a message about the format rather than about rows.
func sniffBinary(b []byte) error {
	head := b[:min(len(b), 512)]
	switch {
	case bytes.HasPrefix(head, []byte("RIFF")) && bytes.Contains(head, []byte("WAVE")):
		return fmt.Errorf("the file is a WAV recording, not a tabular text file: declare format wav")
	case bytes.IndexByte(head, 0) >= 0:
		return fmt.Errorf("the file contains binary data, not tabular text: check the declared format")
	}
	return nil
}
