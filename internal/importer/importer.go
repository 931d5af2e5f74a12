// Package importer turns source datasets and manifests into a registry
// batch. It reads and checks the files but never touches registry state: the
// registry validates every declaration again and reads every file when it
// registers the batch.
//
// Every importer returns the same three values. The batch is nil when the
// error is not. A *registry.BatchError lists every problem a user has to fix
// in the source, each placed at "FILE line N". Any other error is an I/O
// failure. The report lists the quirks that were handled and the items that
// were skipped. It comes with the error too, so that a caller can print it.
package importer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
)

// Report lists what an import handled or skipped, for the CLI to print.
type Report struct {
	Notes []Note // quirks handled and items skipped, each naming file, line and value
}

// Note is one quirk handled or one item skipped.
type Note struct {
	Where   string // "demographics.txt line 121"
	Text    string // the quirk or item found, and the action taken
	Skipped bool   // an item was left out (dangling reference, empty placeholder file)
}

func (r *Report) note(where, format string, args ...any) {
	r.Notes = append(r.Notes, Note{Where: where, Text: fmt.Sprintf(format, args...)})
}

func (r *Report) skip(where, format string, args ...any) {
	r.Notes = append(r.Notes, Note{Where: where, Text: fmt.Sprintf(format, args...), Skipped: true})
}

// problems collects what a user has to fix before the source can be
// imported.
type problems []registry.Problem

func (p *problems) add(where, format string, args ...any) {
	*p = append(*p, registry.Problem{Where: where, Err: fmt.Errorf(format, args...)})
}

// err returns the collected problems as a *registry.BatchError, or nil.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &registry.BatchError{Problems: p}
}

// Values shared by the declarations of the public datasets, whose sources
// record neither a label schema nor a consent document version.
const (
	labelSchemaVersion = "1"
	consentVersion     = "v1"
	firmwareUnknown    = "unknown"
)

// Publisher licences of the PhysioNet datasets, as SPDX identifiers.
const licenceODCBY = "ODC-BY-1.0"

// validateDeclarations checks the samples that an importer built in code
// against the same schema as a manifest row, so that a source value the
// schema rejects, such as an odd participant id, is reported with the rest.
func validateDeclarations(b *registry.Batch, probs *problems) {
	for _, s := range b.Samples {
		if err := provenance.Validate(s.Declaration); err != nil {
			probs.add(s.Where, "declaration built from %s is invalid: %w", s.Declaration.Path, err)
		}
	}
}

func where(file string, line int) string {
	return file + " line " + strconv.Itoa(line)
}

// lineRanges writes sorted line numbers compactly, such as "2-5, 9".
func lineRanges(lines []int) string {
	sorted := append([]int(nil), lines...)
	sort.Ints(sorted)
	var parts []string
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(sorted[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", sorted[i], sorted[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// linesWhere names a file and a set of its lines, such as
// "demographics.txt lines 2-5, 9".
func linesWhere(file string, lines []int) string {
	if len(lines) == 1 {
		return where(file, lines[0])
	}
	return file + " lines " + lineRanges(lines)
}
