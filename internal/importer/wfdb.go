package importer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/wfdb"
)

const recordsFile = "RECORDS"

// wfdbProfile is the provenance that a WFDB folder's own files lack: the
// collector, device, task, licence and citation of its records.
type wfdbProfile struct {
	namespace string
	dataset   string
	licence   string
	citation  string
	modality  string
	collector string
	device    provenance.Device
	protocol  string
	// withIntervals appends each record's .ts interval file to its archive.
	withIntervals bool
}

// gaitnddProfile describes PhysioNet Gait in Neurodegenerative Disease
// (gaitndd 1.0.0): 5-minute walks recorded with force-sensitive resistors
// under each foot.
var gaitnddProfile = wfdbProfile{
	namespace:     "gaitndd",
	dataset:       "physionet-gaitndd",
	licence:       licenceODCBY,
	citation:      "Hausdorff et al., Gait in Neurodegenerative Disease, PhysioNet gaitndd 1.0.0",
	modality:      "pressure",
	collector:     "physionet-gaitndd",
	device:        provenance.Device{Model: "force-sensitive resistor insoles", Firmware: firmwareUnknown},
	protocol:      "walk-5-minutes",
	withIntervals: true,
}

// genericWFDBProfile describes a WFDB folder that the importer does not
// recognise. The records' own files name no modality, device or task.
func genericWFDBProfile(dir string) wfdbProfile {
	name := filepath.Base(filepath.Clean(dir))
	return wfdbProfile{
		namespace: "wfdb-" + namespaceSafe.ReplaceAllString(name, "-"),
		dataset:   name,
		modality:  "sensor",
		collector: "wfdb/" + name,
		device:    provenance.Device{Model: "unknown", Firmware: firmwareUnknown},
		protocol:  "unknown",
	}
}

// namespaceSafe matches what a namespace may not contain. The registry
// reads a qualified participant reference as namespace:id, and a manifest's
// participant field allows only these characters, so a namespace with a
// colon or a slash could never be named.
var namespaceSafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// wfdbRecord is one record name listed in RECORDS.
type wfdbRecord struct {
	name string
	line int
}

// WFDB reads a folder of WFDB records listed in RECORDS, one sample per
// record whose files are present. A folder with subject-description.txt is
// read as PhysioNet gaitndd, with one participant per subject in namespace
// "gaitndd". Any other folder gets namespace "wfdb-<folder name>", and each
// record is taken for its own participant.
func WFDB(dir string) (*registry.Batch, *Report, error) {
	rep := &Report{}
	if err := checkLinks(dir); err != nil {
		return nil, rep, err
	}
	var probs problems
	profile, err := chooseWFDBProfile(dir, rep)
	if err != nil {
		return nil, rep, err
	}
	records, err := readRecordsFile(dir, rep, &probs)
	if err != nil {
		return nil, rep, err
	}
	if err := noteBackupHeaders(dir, records, rep); err != nil {
		return nil, rep, err
	}
	sums, err := readPublisherSums(dir, publisherSumsFile, rep)
	if err != nil {
		return nil, rep, err
	}

	b := &registry.Batch{}
	if profile.namespace == gaitnddProfile.namespace {
		if b.Participants, err = readSubjectDescription(dir, rep, &probs); err != nil {
			return nil, rep, err
		}
		if err := noteSidecarChecksum(dir, subjectDescriptionFile, sums, rep); err != nil {
			return nil, rep, err
		}
	}
	// NOTE: signal files are compared within one import only. A header
	// registered later that names a signal file of an earlier batch is
	// caught only when the whole record's content is the same.
	claimed := map[string]string{} // signal file -> the record that names it
	for _, rec := range records {
		s, ok, err := wfdbRecordSample(dir, rec, profile, sums, claimed, rep, &probs)
		if err != nil {
			return nil, rep, err
		}
		if ok {
			b.Samples = append(b.Samples, s)
		}
	}
	validateDeclarations(b, &probs)
	if err := probs.err(); err != nil {
		return nil, rep, err
	}
	return b, rep, nil
}

func chooseWFDBProfile(dir string, rep *Report) (wfdbProfile, error) {
	_, err := os.Stat(filepath.Join(dir, subjectDescriptionFile))
	if err == nil {
		return gaitnddProfile, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return wfdbProfile{}, err
	}
	p := genericWFDBProfile(dir)
	rep.note(recordsFile, "no %s, so this is not PhysioNet gaitndd: records are imported as modality %s with device and protocol unknown, and each record name is taken as its participant's id; to declare them exactly, list the .hea files in a manifest with format wfdb", subjectDescriptionFile, p.modality)
	return p, nil
}

// readRecordsFile reads the record names in RECORDS, one per line. A name
// may name a subfolder, as in multi-folder PhysioNet databases, but not
// leave dir.
func readRecordsFile(dir string, rep *Report, probs *problems) ([]wfdbRecord, error) {
	lines, err := readTextLines(filepath.Join(dir, recordsFile))
	if errors.Is(err, fs.ErrNotExist) {
		probs.add(dir, "no %s file: a WFDB folder lists its record names in %s, one per line", recordsFile, recordsFile)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var records []wfdbRecord
	seen := map[string]int{}
	for i, line := range lines {
		name := strings.TrimSuffix(strings.TrimSpace(line), "/")
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if first, dup := seen[name]; dup {
			rep.skip(where(recordsFile, i+1), "record %s is also listed on line %d; imported once", name, first)
			continue
		}
		seen[name] = i + 1
		if !filepath.IsLocal(name) || strings.Contains(name, `\`) {
			probs.add(where(recordsFile, i+1), "record name %q leaves the folder: list records by their path inside it, such as p00/rec1", name)
			continue
		}
		records = append(records, wfdbRecord{name: name, line: i + 1})
	}
	if len(records) == 0 {
		probs.add(recordsFile, "lists no records: write one record name per line")
	}
	return records, nil
}

// noteBackupHeaders notes the *.hea- files, which are backups of earlier
// headers and not records, and headers that RECORDS does not list.
func noteBackupHeaders(dir string, records []wfdbRecord, rep *Report) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read WFDB folder: %w", err)
	}
	listed := map[string]bool{}
	for _, r := range records {
		listed[r.name] = true
	}
	var backups []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".hea-"):
			backups = append(backups, name)
		case strings.HasSuffix(name, ".hea") && !listed[strings.TrimSuffix(name, ".hea")]:
			rep.skip(name, "header of a record that %s does not list; ignored", recordsFile)
		}
	}
	if len(backups) > 0 {
		rep.note("*.hea-", "%d backup %s ignored: %s", len(backups), plural(len(backups), "header", "headers"), strings.Join(backups, ", "))
	}
	return nil
}

// wfdbRecordSample builds the sample of one listed record. ok is false for
// a record that is skipped: a dangling reference, or one whose signal file
// is missing or empty.
func wfdbRecordSample(dir string, rec wfdbRecord, p wfdbProfile, sums publisherSums, claimed map[string]string, rep *Report, probs *problems) (registry.SampleInput, bool, error) {
	at := where(recordsFile, rec.line)
	headerPath := filepath.Join(dir, filepath.FromSlash(rec.name)+".hea")
	if _, err := os.Stat(headerPath); errors.Is(err, fs.ErrNotExist) {
		rep.skip(at, "record %s: header %s.hea not found (dangling reference)", rec.name, rec.name)
		return registry.SampleInput{}, false, nil
	} else if err != nil {
		return registry.SampleInput{}, false, err
	}

	h, files, err := wfdb.RecordFiles(headerPath)
	if err != nil {
		probs.add(at, "record %s: %w", rec.name, err)
		return registry.SampleInput{}, false, nil
	}
	// A multi-segment header writes its record as name/segments.
	if base, named := path.Base(rec.name), strings.SplitN(h.Record, "/", 2)[0]; named != base {
		probs.add(at, "record %s: its header %s.hea names record %q: a header describes the record of its own name, so fix the first line or the file name", rec.name, rec.name, h.Record)
		return registry.SampleInput{}, false, nil
	}
	recordDir := filepath.Dir(headerPath)
	// A signal file named by two headers would register one recording for
	// two participants.
	for _, name := range files[1:] {
		key := path.Join(path.Dir(rec.name), name)
		if other, dup := claimed[key]; dup {
			probs.add(at, "record %s: signal file %s is also named by record %s: each signal file belongs to one record", rec.name, key, other)
			return registry.SampleInput{}, false, nil
		}
		claimed[key] = rec.name
	}
	if ok, err := signalFilesPresent(recordDir, rec, files[1:], rep); err != nil || !ok {
		return registry.SampleInput{}, false, err
	}

	if p.withIntervals {
		if files, err = appendIntervals(recordDir, path.Base(rec.name), files); err != nil {
			return registry.SampleInput{}, false, err
		}
	}

	status, detail, err := recordChecksum(recordDir, path.Dir(rec.name), files, sums)
	if err != nil {
		return registry.SampleInput{}, false, err
	}
	if sums.unverified(status) {
		rep.note(at, "record %s: publisher checksum %s (%s)", rec.name, status, detail)
	}
	return wfdbSample(rec, h, p, recordDir, files, status, detail), true, nil
}

func wfdbSample(rec wfdbRecord, h wfdb.Header, p wfdbProfile, recordDir string, files []string, status, detail string) registry.SampleInput {
	d := provenance.Declaration{
		Path:        rec.name + ".hea",
		Participant: path.Base(rec.name),
		Record: provenance.Record{
			Modality:           p.modality,
			Format:             "wfdb",
			SamplingRate:       h.Frequency,
			Channels:           len(h.Signals),
			CollectorID:        p.collector,
			Device:             p.device,
			CapturedAt:         nil, // a WFDB base time has no time zone, and gaitndd headers have none
			Protocol:           p.protocol,
			LabelSchemaVersion: labelSchemaVersion,
			ConsentVersion:     consentVersion,
		},
	}
	source := map[string]string{
		"dataset":                p.dataset,
		"file":                   rec.name,
		"publisherChecksum":      status,
		"publisherChecksumFiles": detail,
	}
	if p.licence != "" {
		source["licence"] = p.licence
	}
	if p.citation != "" {
		source["citation"] = p.citation
	}
	return registry.SampleInput{
		Declaration: d,
		Namespace:   p.namespace,
		Open:        openRecordArchive(recordDir, files),
		Source:      source,
		Where:       d.Path,
	}
}

// signalFilesPresent reports whether every signal file exists and holds
// data, and notes the record as skipped otherwise.
func signalFilesPresent(recordDir string, rec wfdbRecord, signals []string, rep *Report) (bool, error) {
	at := where(recordsFile, rec.line)
	for _, name := range signals {
		info, err := os.Stat(filepath.Join(recordDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			rep.skip(at, "record %s: signal file %s named by its header not found", rec.name, name)
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if info.Size() == 0 {
			rep.skip(at, "record %s: signal file %s is empty (0 bytes)", rec.name, name)
			return false, nil
		}
	}
	return true, nil
}

// appendIntervals adds the record's .ts interval file, when present, as an
// extra member of the archive.
func appendIntervals(recordDir, record string, files []string) ([]string, error) {
	name := record + ".ts"
	info, err := os.Stat(filepath.Join(recordDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return files, nil
	}
	return append(files, name), nil
}

// recordChecksum checks every file of a record archive against the
// publisher's list. status is the least assuring outcome of any file, and
// detail lists each file's outcome.
func recordChecksum(recordDir, subdir string, files []string, sums publisherSums) (status, detail string, err error) {
	status = checksumMatch
	parts := make([]string, len(files))
	for i, name := range files {
		listed := name
		if subdir != "." {
			listed = subdir + "/" + name
		}
		s, err := sums.checkFile(filepath.Join(recordDir, name), listed)
		if err != nil {
			return "", "", err
		}
		status = weakerChecksum(status, s)
		parts[i] = name + " " + s
	}
	return status, strings.Join(parts, ", "), nil
}

// openRecordArchive streams the record archive of files, all in dir,
// through a pipe, so that a record is never held in memory.
func openRecordArchive(dir string, files []string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(wfdb.WriteArchive(pw, dir, files))
		}()
		return pr, nil
	}
}
