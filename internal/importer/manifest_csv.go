package importer

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
)

// parseCSV reads a header row of schema field names and one row per
// sample. Cells are converted to the JSON types of their fields.
func (m *manifest) parseCSV(text string) ([]manifestRow, error) {
	fs, err := manifestFields()
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1 // rows of the wrong width are reported, not fatal
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		m.probs.add(m.where(1), "invalid CSV header: %v", err)
		return nil, nil
	}
	if len(header) == 1 {
		for _, sep := range []string{";", "\t"} {
			if strings.Count(header[0], sep) > 0 {
				m.probs.add(m.where(1), "the header is one column holding %q: columns are separated by %q, not commas; save the manifest as comma-separated CSV", header[0], sep)
				return nil, nil
			}
		}
	}
	columns := m.readCSVHeader(header, fs)

	var rows []manifestRow
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var parseErr *csv.ParseError
		if errors.As(err, &parseErr) {
			m.probs.add(m.where(parseErr.StartLine), "invalid CSV: %v%s", parseErr.Err, m.cutOff(parseErr.Line))
			continue
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if len(record) != len(header) {
			m.probs.add(m.where(line), "%d cells but the header has %d columns: quote cells that contain commas%s", len(record), len(header), m.cutOff(line))
			continue
		}
		if blankRecord(record) {
			continue
		}
		rows = append(rows, m.csvRow(line, columns, record))
	}
	return rows, nil
}

// readCSVHeader maps each column to its schema field. Unknown and repeated
// columns are problems and map to nil.
func (m *manifest) readCSVHeader(header []string, fs []manifestField) []*manifestField {
	byName := map[string]*manifestField{}
	for i := range fs {
		byName[fs[i].name] = &fs[i]
	}
	columns := make([]*manifestField, len(header))
	seen := map[string]bool{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		f, known := byName[name]
		switch {
		case !known:
			m.probs.add(m.where(1), "unknown column %q: the columns are the schema's fields: %s", name, fieldNames(fs))
		case seen[name]:
			m.probs.add(m.where(1), "column %s appears twice: keep one", name)
		default:
			columns[i] = f
		}
		seen[name] = true
	}
	for _, f := range fs {
		if f.required && !seen[f.name] && !seen[strings.SplitN(f.name, ".", 2)[0]] {
			m.probs.add(m.where(1), "missing column %s: every row needs it%s", f.name, fieldHint(f.name))
			m.headerFields[f.name] = true
		}
	}
	return columns
}

func blankRecord(record []string) bool {
	for _, c := range record {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// csvRow builds a row's JSON document. An empty cell leaves its field out,
// except for a nullable field such as capturedAt, which becomes null.
func (m *manifest) csvRow(line int, columns []*manifestField, record []string) manifestRow {
	row := manifestRow{line: line, doc: map[string]any{}, reported: map[string]bool{}}
	for i, f := range columns {
		if f == nil {
			continue
		}
		cell := strings.TrimSpace(record[i])
		value, present, err := convertCell(*f, cell)
		if err != nil {
			m.probs.add(m.where(line), "field %s: invalid value %q: %v%s", f.name, cell, err, fieldHint(f.name))
			row.reported[f.name] = true
			value, present = cell, true
		}
		if present {
			setField(row.doc, f.name, value)
		}
	}
	row.raw, _ = json.Marshal(row.doc)
	return row
}

func convertCell(f manifestField, cell string) (value any, present bool, err error) {
	if cell == "" {
		return nil, f.nullable, nil
	}
	switch f.kind {
	case "number":
		v, err := strconv.ParseFloat(cell, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false, errors.New("not a number")
		}
		return v, true, nil
	case "integer":
		v, err := strconv.ParseInt(cell, 10, 64)
		if err != nil {
			return nil, false, errors.New("not an integer")
		}
		return v, true, nil
	}
	return cell, true, nil
}

// setField sets a dotted field, creating the objects that hold it.
func setField(doc map[string]any, name string, value any) {
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		child, ok := doc[p].(map[string]any)
		if !ok {
			child = map[string]any{}
			doc[p] = child
		}
		doc = child
	}
	doc[parts[len(parts)-1]] = value
}
