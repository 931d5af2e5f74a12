package importer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/registry"
)

// PhysioNet Gait in Parkinson's Disease (gaitpdb 1.0.0): foot-pressure
// walks of patients and controls from three studies, with demographics and
// clinical scores.
const (
	gaitpdbNamespace = "gaitpdb"
	gaitpdbDataset   = "physionet-gaitpdb"
	gaitpdbCitation  = "Hausdorff et al., Gait in Parkinson's Disease, PhysioNet gaitpdb 1.0.0"
	gaitpdbDevice    = "Ultraflex Computer Dyno Graphy (Infotronic)"

	// Each walk file has a time column in seconds, 8 sensors under each
	// foot and the total force under each foot, sampled at 100 Hz.
	gaitpdbRate     = 100
	gaitpdbChannels = 18
)

// gaitpdbWalkName matches walk files such as GaPt03_01.txt: study, Co for
// control or Pt for patient, subject number, walk number.
var gaitpdbWalkName = regexp.MustCompile(`^([A-Z][a-z])(Co|Pt)(\d{2})_(\d{2})\.txt$`)

// gaitpdbOtherFiles are the files of the dataset that hold no walk.
var gaitpdbOtherFiles = map[string]bool{
	"README.MD": true, "format.txt": true, demographicsFile: true, "demographics.html": true,
	"demographics.xls": true, publisherSumsFile: true, "_extracted.sha256": true,
}

// GaitPDB reads a PhysioNet gaitpdb folder: one participant per row of
// demographics.txt, in namespace "gaitpdb", and one pressure sample per walk
// file.
func GaitPDB(dir string) (*registry.Batch, *Report, error) {
	rep := &Report{}
	if err := checkLinks(dir); err != nil {
		return nil, rep, err
	}
	var probs problems
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, rep, fmt.Errorf("read gaitpdb folder: %w", err)
	}

	b := &registry.Batch{}
	b.Participants, err = readDemographics(dir, rep, &probs)
	if errors.Is(err, fs.ErrNotExist) {
		rep.note(demographicsFile, "not found in %s; participants are imported without attributes", dir)
	} else if err != nil {
		return nil, rep, err
	}
	sums, err := readPublisherSums(dir, publisherSumsFile, rep)
	if err != nil {
		return nil, rep, err
	}
	if err := noteSidecarChecksum(dir, demographicsFile, sums, rep); err != nil {
		return nil, rep, err
	}

	known := map[string]bool{}
	for _, p := range b.Participants {
		known[p.SourceID] = true
	}
	for _, e := range entries {
		s, ok, err := gaitpdbWalk(dir, e, sums, known, rep)
		if err != nil {
			return nil, rep, err
		}
		if ok {
			b.Samples = append(b.Samples, s)
		}
	}
	if len(b.Samples) == 0 && len(b.Participants) == 0 {
		probs.add(dir, "no gaitpdb walk files and no %s: import the folder that holds them", demographicsFile)
	}
	validateDeclarations(b, &probs)
	if err := probs.err(); err != nil {
		return nil, rep, err
	}
	return b, rep, nil
}

// gaitpdbWalk builds the sample of one folder entry. ok is false for an
// entry that is not a walk file, and an entry that is not part of the dataset
// is noted.
func gaitpdbWalk(dir string, e fs.DirEntry, sums publisherSums, known map[string]bool, rep *Report) (registry.SampleInput, bool, error) {
	name := e.Name()
	m := gaitpdbWalkName.FindStringSubmatch(name)
	if m == nil {
		if !gaitpdbOtherFiles[name] {
			rep.skip(name, "not a gaitpdb walk file (<Study><Co|Pt><NN>_<WW>.txt)")
		}
		return registry.SampleInput{}, false, nil
	}
	info, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		return registry.SampleInput{}, false, err
	}
	if !info.Mode().IsRegular() || info.Size() == 0 {
		rep.skip(name, "empty or not a regular file; no walk to import")
		return registry.SampleInput{}, false, nil
	}

	study, subject, walk := m[1], m[1]+m[2]+m[3], m[4]
	if !known[subject] && len(known) > 0 {
		rep.note(name, "subject %s is not in %s; the walk is imported and the participant has no attributes", subject, demographicsFile)
	}
	status, err := sums.check(dir, name)
	if err != nil {
		return registry.SampleInput{}, false, err
	}
	if sums.unverified(status) {
		rep.note(name, "publisher checksum %s", status)
	}

	d := provenance.Declaration{
		Path:        name,
		Participant: subject,
		Record: provenance.Record{
			Modality:           "pressure",
			Format:             "tsv",
			SamplingRate:       gaitpdbRate,
			Channels:           gaitpdbChannels,
			TimeUnit:           "s",
			CollectorID:        gaitpdbDataset + "/" + study,
			Device:             provenance.Device{Model: gaitpdbDevice, Firmware: firmwareUnknown},
			CapturedAt:         nil, // the dataset does not record when walks were captured
			Protocol:           gaitpdbProtocol(name, walk, rep),
			LabelSchemaVersion: labelSchemaVersion,
			ConsentVersion:     consentVersion,
		},
	}
	return registry.SampleInput{
		Declaration: d,
		Namespace:   gaitpdbNamespace,
		Open:        openFile(filepath.Join(dir, name)),
		Source: map[string]string{
			"dataset":           gaitpdbDataset,
			"file":              name,
			"licence":           licenceODCBY,
			"citation":          gaitpdbCitation,
			"publisherChecksum": status,
		},
		Where: name,
	}, true, nil
}

// gaitpdbProtocol names the task of a walk. The dataset describes walk 01
// as a usual walk at self-selected pace and walk 10 as walking while
// subtracting serial sevens. It does not describe other walk numbers.
func gaitpdbProtocol(name, walk string, rep *Report) string {
	switch walk {
	case "10":
		return "dual-task-walk"
	case "01":
		return "usual-walk"
	}
	rep.note(name, "the dataset describes only walks 01 (usual walk) and 10 (dual task); walk %s is recorded as usual-walk", walk)
	return "usual-walk"
}

// noteSidecarChecksum notes a metadata file that does not match the
// publisher's checksum. Its values are imported as they are.
func noteSidecarChecksum(dir, name string, sums publisherSums, rep *Report) error {
	status, err := sums.check(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if status == checksumMismatch {
		rep.note(name, "differs from the publisher's checksum in %s, also with CRLF line endings; its values are imported as they are", sums.file)
	}
	return nil
}

func openFile(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}
