package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
)

// manifest is one manifest file being read.
type manifest struct {
	name      string // base name, for messages and Source
	dir       string // absolute folder that paths are relative to
	realDir   string // dir with symlinks resolved
	namespace string
	csv       bool
	rep       *Report
	probs     problems

	lineCount     int
	endsInNewline bool
	// headerFields are fields already reported for the whole file, such as a
	// required column missing from a CSV header.
	headerFields map[string]bool
	paths        map[string]int // cleaned path to the line that listed it first
}

// manifestRow is one row as a JSON document.
type manifestRow struct {
	line int
	raw  []byte         // the JSON that the schema validates
	doc  map[string]any // raw decoded, for values in messages, or nil when raw is not an object
	// reported are fields whose problems were reported while the row was
	// read, so the schema's report on them is left out.
	reported map[string]bool
}

// Manifest reads a CSV or JSON Lines manifest (format chosen by extension:
// .csv, .jsonl or .ndjson; .json with one object per line is JSON Lines
// too). Paths are relative to the manifest's folder. Samples get the given
// participant namespace. An empty namespace lets the registry find each
// participant in any namespace.
func Manifest(path string, namespace string) (*registry.Batch, *Report, error) {
	rep := &Report{}
	m, text, err := openManifest(path, namespace, rep)
	if err != nil {
		return nil, rep, err
	}
	var rows []manifestRow
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		m.csv = true
		rows, err = m.parseCSV(text)
	case ".jsonl", ".ndjson", ".json":
		rows = m.parseJSONLines(text)
	default:
		m.probs.add(m.name, "unsupported manifest type %q: name the file .csv, or .jsonl, .ndjson or .json for JSON Lines", ext)
	}
	if err != nil {
		return nil, rep, err
	}
	if len(rows) == 0 && len(m.probs) == 0 {
		m.probs.add(m.name, "no rows: the manifest lists no samples")
	}

	b := &registry.Batch{}
	for _, r := range rows {
		if s, ok := m.sample(r); ok {
			b.Samples = append(b.Samples, s)
		}
	}
	if err := m.probs.err(); err != nil {
		return nil, rep, err
	}
	return b, rep, nil
}

// checkUTF8 rejects a manifest that is not valid UTF-8. Decoding would
// replace each invalid byte with U+FFFD, so a Latin-1 "é" in a collector
// id would be registered and logged as another value.
func checkUTF8(name string, raw []byte) error {
	if utf8.Valid(raw) {
		return nil
	}
	line, start := 1, 0
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%s: invalid UTF-8 byte 0x%02X at byte %d of the line: save the manifest as UTF-8",
				where(name, line), raw[i], i-start+1)
		}
		if raw[i] == '\n' {
			line, start = line+1, i+1
		}
		i += size
	}
	return nil
}

// openManifest reads the manifest's text with any byte order mark removed
// and every line ending turned into LF.
func openManifest(path, namespace string, rep *Report) (*manifest, string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read manifest: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, "", err
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, "", err
	}
	raw = bytes.TrimPrefix(raw, utf8BOM)
	if err := checkUTF8(filepath.Base(path), raw); err != nil {
		return nil, "", err
	}
	text := string(normalizeNewlines(raw))
	m := &manifest{
		name:          filepath.Base(path),
		dir:           dir,
		realDir:       realDir,
		namespace:     namespace,
		rep:           rep,
		lineCount:     strings.Count(text, "\n"),
		endsInNewline: text == "" || strings.HasSuffix(text, "\n"),
		headerFields:  map[string]bool{},
		paths:         map[string]int{},
	}
	if !m.endsInNewline {
		m.lineCount++
	}
	return m, text, nil
}

func (m *manifest) where(line int) string { return where(m.name, line) }

// cutOff returns a hint for a problem on the last line of a file that ends
// without a newline, which is how a truncated copy ends.
func (m *manifest) cutOff(line int) string {
	if line == m.lineCount && !m.endsInNewline {
		return "; this last line has no newline, so the file may have been cut off: restore the complete row"
	}
	return ""
}

// parseJSONLines reads one JSON object per non-blank line.
func (m *manifest) parseJSONLines(text string) []manifestRow {
	var rows []manifestRow
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		line = strings.TrimSpace(line)
		n := i + 1
		if line == "" {
			continue
		}
		if len(rows) == 0 && strings.HasPrefix(line, "[") {
			m.probs.add(m.where(n), "the manifest is a JSON array: write one JSON object per line (JSON Lines) instead")
			return nil
		}
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			m.probs.add(m.where(n), "invalid JSON: %v%s", err, m.cutOff(n))
			continue
		}
		doc, _ := v.(map[string]any)
		rows = append(rows, manifestRow{line: n, raw: []byte(line), doc: doc})
	}
	return rows
}

// sample validates a row and checks its file. ok is false when the row has
// problems, which are collected in m.probs.
func (m *manifest) sample(r manifestRow) (registry.SampleInput, bool) {
	at := m.where(r.line)
	d, err := provenance.ValidateJSON(r.raw)
	flagged := map[string]bool{}
	if err != nil {
		flagged = m.reportInvalid(r, err)
	}
	rel, isString := r.doc["path"].(string)
	if !isString || flagged["path"] || r.reported["path"] {
		return registry.SampleInput{}, false
	}
	clean, full, ok := m.checkPath(r.line, rel)
	if !ok || err != nil {
		return registry.SampleInput{}, false
	}

	open := openInRoot(m.dir, clean)
	if d.Format == "wfdb" {
		if open, ok = m.openWFDB(r.line, clean, full); !ok {
			return registry.SampleInput{}, false
		}
	}
	return registry.SampleInput{
		Declaration: d,
		Namespace:   m.namespace,
		Open:        open,
		Source:      map[string]string{"manifest": m.name, "file": clean},
		Where:       at,
	}, true
}

// reportInvalid adds one problem per schema violation, with the value
// found, and returns the fields it named.
func (m *manifest) reportInvalid(r manifestRow, err error) map[string]bool {
	at := m.where(r.line)
	flagged := map[string]bool{}
	var ve *provenance.ValidationError
	if !errors.As(err, &ve) {
		m.probs.add(at, "%w", err)
		return flagged
	}
	for _, fe := range ve.Problems {
		field := strings.ReplaceAll(fe.Field, "/", ".")
		if m.alreadyReported(r, field, fe.Message) {
			continue
		}
		flagged[field] = true
		if field == "" || isObjectField(field) {
			m.probs.add(at, "%s%s", m.describeObjectProblem(field, fe.Message), m.cutOff(r.line))
			continue
		}
		value, _ := lookupField(r.doc, field)
		m.probs.add(at, "field %s: invalid value %s: %s%s", field, describeJSON(value), fe.Message, fieldHint(field))
	}
	return flagged
}

// alreadyReported reports whether a schema violation repeats a problem
// reported while reading the row or its header: the field itself, or the
// absence of the field or of an object that holds it, such as device for
// device.model.
func (m *manifest) alreadyReported(r manifestRow, field, message string) bool {
	covered := func(name string) bool {
		if name == field {
			return true
		}
		parts := strings.Split(name, ".")
		for i := range parts {
			parent := strings.Join(parts[:i], ".")
			if parent == field && strings.Contains(message, "'"+parts[i]+"'") {
				return true
			}
		}
		return false
	}
	for name := range r.reported {
		if covered(name) {
			return true
		}
	}
	for name := range m.headerFields {
		if covered(name) {
			return true
		}
	}
	return false
}

func isObjectField(field string) bool { return field == "device" }

// describeObjectProblem explains a violation of a whole row or of the
// device object, such as a missing or an unknown field.
func (m *manifest) describeObjectProblem(field, message string) string {
	fs, _ := manifestFields()
	prefix := ""
	if field != "" {
		prefix = "field " + field + ": "
	}
	switch {
	case strings.HasPrefix(message, "missing property"):
		if m.csv {
			return prefix + message + ": fill in the cell"
		}
		return prefix + message + ": add the field"
	case strings.HasPrefix(message, "missing properties"):
		if m.csv {
			return prefix + message + ": fill in the cells"
		}
		return prefix + message + ": add the fields"
	case strings.HasPrefix(message, "additional propert"):
		return prefix + message + ": remove it or correct its name; the fields are " + fieldNames(fs)
	}
	return prefix + message
}

// lookupField returns the value of a dotted field in a row.
func lookupField(doc map[string]any, field string) (any, bool) {
	var v any = doc
	for _, part := range strings.Split(field, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return v, true
}

// checkPath checks a row's path: it must name a regular file inside the
// manifest's folder, after symlinks are resolved, and appear once in the
// manifest. The schema has already rejected absolute paths and .. segments.
func (m *manifest) checkPath(line int, rel string) (clean, full string, ok bool) {
	at := m.where(line)
	clean = path.Clean(rel)
	if first, dup := m.paths[clean]; dup {
		m.probs.add(at, "field path: %q is also listed on line %d: list each file once", rel, first)
		return "", "", false
	}
	m.paths[clean] = line

	full = filepath.Join(m.dir, filepath.FromSlash(clean))
	if !m.checkInside(at, "field path: file", rel, full) {
		return "", "", false
	}
	info, err := os.Stat(full)
	if err != nil {
		m.probs.add(at, "field path: %q: %w", rel, err)
		return "", "", false
	}
	if !info.Mode().IsRegular() {
		m.probs.add(at, "field path: %q is a %s, not a regular file: name the recording file", rel, fileKind(info))
		return "", "", false
	}
	return clean, full, true
}

// checkInside reports whether the file at full exists and, with symlinks
// resolved, lies inside the manifest's folder. label names the file in the
// problem, such as "field path: file".
func (m *manifest) checkInside(at, label, rel, full string) bool {
	real, err := filepath.EvalSymlinks(full)
	if errors.Is(err, os.ErrNotExist) {
		m.probs.add(at, "%s %q not found in %s: paths are relative to the manifest's folder", label, rel, m.dir)
		return false
	}
	if err != nil {
		m.probs.add(at, "%s %q: %w", label, rel, err)
		return false
	}
	inside, err := filepath.Rel(m.realDir, real)
	if err != nil || !filepath.IsLocal(inside) {
		m.probs.add(at, "%s %q resolves to %s, outside the manifest's folder %s: copy the file into the folder instead of linking to it", label, rel, real, m.dir)
		return false
	}
	if link, target := absoluteLink(m.dir, rel); link != "" {
		m.probs.add(at, "%s %q goes through %s, a link to the absolute path %s: files are opened only through links relative to the manifest's folder; make the link relative or copy the file", label, rel, link, target)
		return false
	}
	return true
}

// absoluteLink returns the first symbolic link on the way from dir to rel
// whose target is an absolute path, and that target. Recordings are opened
// through os.Root, which follows relative links inside the folder only.
func absoluteLink(dir, rel string) (string, string) {
	cur := dir
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if err != nil || info.Mode()&os.ModeSymlink == 0 {
			continue
		}
		if target, err := os.Readlink(cur); err == nil && filepath.IsAbs(target) {
			return cur, target
		}
	}
	return "", ""
}

func fileKind(info os.FileInfo) string {
	if info.IsDir() {
		return "folder"
	}
	return "special file"
}

// openInRoot opens a file through os.Root, so that a symlink swapped in
// after the manifest was checked still cannot lead outside dir.
func openInRoot(dir, rel string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		return root.Open(filepath.FromSlash(rel))
	}
}
