// Package wfdb reads PhysioNet WFDB records: the .hea header, signal files
// in formats 212 and 16, and the record archive that Steward stores as one
// sample.
//
// Header format: https://physionet.org/physiotools/wag/header-5.htm
package wfdb

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Header is a parsed record header.
type Header struct {
	Record    string
	Frequency float64 // samples per second per signal
	Samples   int64   // samples per signal, 0 when not given
	Signals   []Signal
}

// Signal is one signal specification line.
type Signal struct {
	File         string
	Format       int
	Gain         string
	InitialValue *int
	Checksum     *int
	Description  string
	// Line is the header line the signal was read from, for messages.
	Line int
}

// ParseHeader reads a header. name is the file name used in messages.
func ParseHeader(r io.Reader, name string) (Header, error) {
	var h Header
	sc := bufio.NewScanner(r)
	line := 0
	sawRecord := false
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if !sawRecord {
			if err := h.parseRecordLine(fields, name, line); err != nil {
				return h, err
			}
			sawRecord = true
			continue
		}
		if len(h.Signals) == cap(h.Signals) {
			break // Lines after the signals are info strings.
		}
		s, err := parseSignalLine(fields, name, line)
		if err != nil {
			return h, err
		}
		h.Signals = append(h.Signals, s)
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("%s: %w", name, err)
	}
	if !sawRecord {
		return h, fmt.Errorf("%s: no record line: the header is empty", name)
	}
	if len(h.Signals) != cap(h.Signals) {
		return h, fmt.Errorf("%s: record line declares %d signals but %d signal lines follow", name, cap(h.Signals), len(h.Signals))
	}
	return h, nil
}

func (h *Header) parseRecordLine(fields []string, name string, line int) error {
	if len(fields) < 2 {
		return fmt.Errorf("%s line %d: record line %q needs at least a record name and a signal count", name, line, strings.Join(fields, " "))
	}
	h.Record, _, _ = strings.Cut(fields[0], "/") // multi-segment records carry /segments
	n, err := strconv.Atoi(fields[1])
	if err != nil || n < 0 || n > 10000 {
		return fmt.Errorf("%s line %d: invalid signal count %q", name, line, fields[1])
	}
	h.Signals = make([]Signal, 0, n)
	h.Frequency = 250 // the WFDB default when the field is absent
	if len(fields) > 2 {
		freq, _, _ := strings.Cut(fields[2], "/") // frequency may carry /counter frequency
		freq, _, _ = strings.Cut(freq, "(")
		f, err := strconv.ParseFloat(freq, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("%s line %d: invalid sampling frequency %q", name, line, fields[2])
		}
		h.Frequency = f
	}
	if len(fields) > 3 {
		s, err := strconv.ParseInt(fields[3], 10, 64)
		if err != nil || s < 0 {
			return fmt.Errorf("%s line %d: invalid number of samples %q", name, line, fields[3])
		}
		h.Samples = s
	}
	return nil
}

func parseSignalLine(fields []string, name string, line int) (Signal, error) {
	if len(fields) < 2 {
		return Signal{}, fmt.Errorf("%s line %d: signal line needs a file name and a format", name, line)
	}
	s := Signal{File: fields[0], Line: line}
	format, _, _ := strings.Cut(fields[1], "x") // 212x2 means samples per frame
	format, _, _ = strings.Cut(format, ":")
	format, _, _ = strings.Cut(format, "+")
	f, err := strconv.Atoi(format)
	if err != nil {
		return s, fmt.Errorf("%s line %d: invalid signal format %q", name, line, fields[1])
	}
	s.Format = f
	if len(fields) > 2 {
		s.Gain = fields[2]
	}
	optInt := func(i int, what string) (*int, error) {
		if len(fields) <= i {
			return nil, nil
		}
		v, err := strconv.Atoi(fields[i])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: invalid %s %q", name, line, what, fields[i])
		}
		return &v, nil
	}
	if s.InitialValue, err = optInt(5, "initial value"); err != nil {
		return s, err
	}
	if s.Checksum, err = optInt(6, "checksum"); err != nil {
		return s, err
	}
	if len(fields) > 8 {
		s.Description = strings.Join(fields[8:], " ")
	}
	return s, nil
}

// BytesFor returns the size in bytes of n samples of one signal stored
// alone in a file of the given format, or an error for formats Steward does
// not read.
func BytesFor(format int, n int64) (int64, error) {
	switch format {
	case 212:
		return (n*3 + 1) / 2, nil
	case 16, 61:
		return n * 2, nil
	case 80:
		return n, nil
	}
	return 0, fmt.Errorf("unsupported WFDB signal format %d: Steward reads formats 16, 61, 80 and 212", format)
}
