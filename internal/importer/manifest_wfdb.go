package importer

import (
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/steward-rehab/steward/internal/wfdb"
)

// openWFDB checks a WFDB record named by its .hea header and returns the
// opener of its record archive. Every signal file the header names must be
// present inside the manifest's folder.
func (m *manifest) openWFDB(line int, clean, full string) (func() (io.ReadCloser, error), bool) {
	at := m.where(line)
	if !strings.HasSuffix(clean, ".hea") {
		m.probs.add(at, "field path: %q must name the record's .hea header when format is wfdb", clean)
		return nil, false
	}
	h, files, err := wfdb.RecordFiles(full)
	if err != nil {
		m.probs.add(at, "field path: record header %s: %w", clean, err)
		return nil, false
	}
	if base, named := strings.TrimSuffix(path.Base(clean), ".hea"), strings.SplitN(h.Record, "/", 2)[0]; named != base {
		m.probs.add(at, "field path: record header %s names record %q: a header describes the record of its own name, so fix its first line or the file name", clean, h.Record)
		return nil, false
	}
	recordDir := filepath.Dir(full)
	ok := true
	for _, name := range files[1:] {
		rel := path.Join(path.Dir(clean), name)
		if !m.checkInside(at, "field path: signal file", rel, filepath.Join(recordDir, name)) {
			ok = false
		}
		// A signal file belongs to one record: a second header naming it,
		// or a row of its own, would register the same recording twice,
		// perhaps for another participant.
		if first, dup := m.paths[rel]; dup {
			m.probs.add(at, "field path: signal file %q of %s is also used on line %d: each signal file belongs to one record", rel, clean, first)
			ok = false
			continue
		}
		m.paths[rel] = line
	}
	if !ok {
		return nil, false
	}
	// NOTE: wfdb.WriteArchive opens the signal files by path, not through
	// os.Root as other files are. A symlink swapped in between this check and
	// registration could therefore lead outside the folder.
	return openRecordArchive(recordDir, files), true
}
