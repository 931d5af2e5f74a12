package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/strictjson"
)

// bidsNamespace holds the participants of every BIDS dataset.
//
// NOTE: BIDS labels subjects sub-01, sub-02 and so on in every dataset, so
// two BIDS datasets imported into one registry share their participants.
// Import each into its own registry until the namespace names the dataset.
const bidsNamespace = "bids"

// bidsSubject is a BIDS participant_id: sub- and an alphanumeric label, as
// the BIDS specification defines labels.
var bidsSubject = regexp.MustCompile(`^sub-[A-Za-z0-9]+$`)

const datasetDescriptionFile = "dataset_description.json"

// bidsDataset is the description of a BIDS dataset, taken from
// dataset_description.json and the folder name.
type bidsDataset struct {
	dir      string
	folder   string // base name of dir, stored as the source dataset
	name     string // Name, or the folder name when there is none
	licence  string
	citation string
}

// bidsMotion is one motion recording: a _motion.tsv file, by its path
// relative to the dataset root.
type bidsMotion struct {
	rel  string
	name bidsName
}

// BIDS reads a Motion-BIDS dataset: one participant per row of
// participants.tsv, in namespace "bids", and one sensor sample per
// sub-*/[ses-*/]motion/*_motion.tsv recording.
func BIDS(dir string) (*registry.Batch, *Report, error) {
	rep := &Report{}
	if err := checkLinks(dir); err != nil {
		return nil, rep, err
	}
	var probs problems
	ds, err := readDatasetDescription(dir, rep, &probs)
	if err != nil {
		return nil, rep, err
	}
	b := &registry.Batch{}
	if b.Participants, err = readBIDSParticipants(dir, rep, &probs); err != nil {
		return nil, rep, err
	}
	motions, scansFiles, err := findBIDSFiles(dir)
	if err != nil {
		return nil, rep, err
	}
	scans, err := readScans(dir, scansFiles, rep, &probs)
	if err != nil {
		return nil, rep, err
	}

	known := map[string]bool{}
	for _, p := range b.Participants {
		known[p.SourceID] = true
	}
	for _, m := range motions {
		s, ok, err := bidsRecording(ds, m, scans, known, rep, &probs)
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

// readDatasetDescription reads dataset_description.json, which every BIDS
// dataset has.
func readDatasetDescription(dir string, rep *Report, probs *problems) (bidsDataset, error) {
	folder := filepath.Base(filepath.Clean(dir))
	ds := bidsDataset{dir: dir, folder: folder, name: folder}
	raw, err := os.ReadFile(filepath.Join(dir, datasetDescriptionFile))
	if errors.Is(err, fs.ErrNotExist) {
		probs.add(dir, "no %s: is this the root folder of a BIDS dataset?", datasetDescriptionFile)
		return ds, nil
	}
	if err != nil {
		return ds, err
	}
	var desc struct {
		Name       string
		License    string
		Authors    []string
		DatasetDOI string
	}
	if path, dup := strictjson.DuplicateName(raw); dup {
		probs.add(datasetDescriptionFile, "field %s is given twice: keep one value", path)
		return ds, nil
	}
	if err := json.Unmarshal(raw, &desc); err != nil {
		probs.add(datasetDescriptionFile, "invalid JSON: %w", err)
		return ds, nil
	}
	if name := strings.TrimSpace(desc.Name); name != "" {
		ds.name = name
	}
	ds.licence = spdxLicence(desc.License, rep)
	ds.citation = bidsCitation(desc.Authors, ds.name, desc.DatasetDOI)
	return ds, nil
}

// spdxLicence returns the SPDX identifier of a BIDS License value. BIDS
// asks for SPDX identifiers, but older datasets write CC0.
func spdxLicence(licence string, rep *Report) string {
	licence = strings.TrimSpace(licence)
	if licence == "CC0" {
		rep.note(datasetDescriptionFile, "License %q recorded as its SPDX identifier CC0-1.0", licence)
		return "CC0-1.0"
	}
	return licence
}

// bidsCitation builds a short citation from the authors' surnames, the
// dataset name and its DOI.
func bidsCitation(authors []string, name, doi string) string {
	var surnames []string
	for _, a := range authors {
		a = strings.TrimSpace(a)
		if before, _, found := strings.Cut(a, ","); found {
			surnames = append(surnames, strings.TrimSpace(before))
		} else if fields := strings.Fields(a); len(fields) > 0 {
			surnames = append(surnames, fields[len(fields)-1])
		}
	}
	var byline string
	switch len(surnames) {
	case 0:
	case 1:
		byline = surnames[0] + ", "
	case 2:
		byline = surnames[0] + " and " + surnames[1] + ", "
	default:
		byline = surnames[0] + " et al., "
	}
	citation := byline + name
	if doi = strings.TrimSpace(doi); doi != "" && doi != "n/a" {
		citation += ", " + doi
	}
	return citation
}

// findBIDSFiles returns the motion recordings and the _scans.tsv files
// under the sub-* folders, as slash-separated paths relative to dir.
func findBIDSFiles(dir string) (motions []bidsMotion, scans []string, err error) {
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			// Only subject folders hold raw recordings; derivatives, sourcedata
			// and code are not imported.
			if rel != "." && !strings.Contains(rel, "/") && !strings.HasPrefix(rel, "sub-") {
				return fs.SkipDir
			}
			return nil
		}
		name, ok := parseBIDSName(e.Name())
		switch {
		case !ok || !strings.HasPrefix(rel, "sub-"):
		case name.suffix == "motion" && name.ext == ".tsv" && path.Base(path.Dir(rel)) == "motion":
			motions = append(motions, bidsMotion{rel: rel, name: name})
		case name.suffix == "scans" && name.ext == ".tsv":
			scans = append(scans, rel)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read BIDS folder: %w", err)
	}
	return motions, scans, nil
}

// bidsRecording builds the sample of one motion recording. ok is false for
// a recording that is skipped: an empty placeholder, or one with problems.
func bidsRecording(ds bidsDataset, m bidsMotion, scans map[string]*scanEntry, known map[string]bool, rep *Report, probs *problems) (registry.SampleInput, bool, error) {
	full := filepath.Join(ds.dir, filepath.FromSlash(m.rel))
	info, err := os.Stat(full)
	if err != nil {
		return registry.SampleInput{}, false, err
	}
	// BIDS example datasets ship signal files as placeholders of at most one
	// byte, such as a single newline, to keep the download small.
	if info.Size() <= 1 {
		rep.skip(m.rel, "empty placeholder (%d %s); no recording to import", info.Size(), plural(int(info.Size()), "byte", "bytes"))
		return registry.SampleInput{}, false, nil
	}

	label, hasSubject := m.name.entities["sub"]
	if hasSubject && !bidsSubject.MatchString("sub-"+label) {
		probs.add(m.rel, "subject label %q is not a BIDS label: use letters and digits only, such as sub-01", label)
		return registry.SampleInput{}, false, nil
	}
	if !hasSubject || !strings.HasPrefix(m.rel, "sub-"+label+"/") {
		probs.add(m.rel, "the file name's sub- entity does not match its subject folder: name it sub-<label>_..._motion.tsv inside sub-<label>/")
		return registry.SampleInput{}, false, nil
	}
	meta, ok, err := readMotionMetadata(ds.dir, m, probs)
	if err != nil || !ok {
		return registry.SampleInput{}, false, err
	}

	subject := "sub-" + label
	if !known[subject] {
		rep.note(m.rel, "participant %s is not in %s; the recording is imported and the participant has no attributes", subject, participantsFile)
	}
	d := provenance.Declaration{
		Path:        m.rel,
		Participant: subject,
		Record: provenance.Record{
			Modality:           "sensor",
			Format:             "tsv",
			SamplingRate:       meta.samplingFrequency,
			Channels:           meta.channelCount,
			CollectorID:        "bids/" + ds.name,
			Device:             provenance.Device{Model: meta.deviceModel(m.rel, rep), Firmware: firmwareUnknown},
			CapturedAt:         capturedAt(scans[m.rel], rep, probs),
			Protocol:           meta.taskName,
			LabelSchemaVersion: labelSchemaVersion,
			ConsentVersion:     consentVersion,
		},
	}
	source := map[string]string{"dataset": ds.folder, "file": m.rel, "citation": ds.citation}
	if ds.licence != "" {
		source["licence"] = ds.licence
	}
	return registry.SampleInput{
		Declaration: d,
		Namespace:   bidsNamespace,
		Open:        openFile(full),
		Source:      source,
		Where:       m.rel,
	}, true, nil
}
