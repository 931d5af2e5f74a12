package probe

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
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
	err     error
}

func newTabular(sep byte, opts Options) *tabular {
	return &tabular{sep: sep, timeUnit: opts.TimeUnit}
}

func (p *tabular) Write(b []byte) (int, error) {
	if p.err != nil {
		return len(b), nil
	}
	data := b
	if len(p.partial) > 0 {
		data = append(p.partial, b...)
		p.partial = nil
	}
	for p.err == nil {
		i := bytes.IndexAny(data, "\r\n")
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

func (p *tabular) split(s string) []string {
	if p.sep == 0 {
		return strings.Fields(s)
	}
	// Trailing separators are padding, as in files written by spreadsheets.
	s = strings.TrimRight(s, string(p.sep)+" ")
	return strings.Split(s, string(p.sep))
}

func (p *tabular) row(raw []byte) {
	p.line++
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return
	}
	cells := p.split(s)
	if p.columns == 0 && p.rows == 0 && !p.header && !numeric(strings.TrimSpace(cells[0])) {
		p.header = true
		p.columns = len(cells)
		return
	}
	if p.columns == 0 {
		p.columns = len(cells)
	} else if len(cells) != p.columns {
		p.err = fmt.Errorf("line %d has %d columns, earlier rows have %d", p.line, len(cells), p.columns)
		return
	}
	for i, c := range cells {
		c = strings.TrimSpace(c)
		if !numeric(c) {
			p.err = fmt.Errorf("line %d column %d: value %q is not a number", p.line, i+1, c)
			return
		}
	}
	p.rows++
	if p.timeUnit == "" {
		return
	}
	t, _ := strconv.ParseFloat(strings.TrimSpace(cells[0]), 64)
	if math.IsNaN(t) {
		p.err = fmt.Errorf("line %d: time value is NaN", p.line)
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

func numeric(s string) bool {
	if strings.EqualFold(s, "nan") {
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
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
