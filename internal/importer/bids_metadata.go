package importer

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/steward-rehab/steward/internal/strictjson"
)

// bidsName is a BIDS file name split into its key-value entities, its
// suffix and its extension: sub-13_task-walk_motion.tsv has entities sub
// and task, suffix motion and extension .tsv.
type bidsName struct {
	entities map[string]string
	suffix   string
	ext      string
}

func parseBIDSName(base string) (bidsName, bool) {
	stem, ext, _ := strings.Cut(base, ".")
	parts := strings.Split(stem, "_")
	n := bidsName{entities: map[string]string{}, suffix: parts[len(parts)-1]}
	if ext != "" {
		n.ext = "." + ext
	}
	for _, part := range parts[:len(parts)-1] {
		key, value, ok := strings.Cut(part, "-")
		if !ok || key == "" || value == "" {
			return bidsName{}, false
		}
		n.entities[key] = value
	}
	return n, n.suffix != ""
}

// appliesTo reports whether a metadata file of this name applies to a data
// file: each of its entities has the data file's value.
func (n bidsName) appliesTo(data bidsName) bool {
	for k, v := range n.entities {
		if data.entities[k] != v {
			return false
		}
	}
	return true
}

// applicableFiles returns the metadata files with the given suffix and
// extension that apply to a data file under the BIDS inheritance principle,
// from the dataset root down to the data file's folder. Each folder may hold
// at most one such file.
func applicableFiles(root string, m bidsMotion, suffix, ext string, probs *problems) ([]string, bool, error) {
	var found []string
	ok := true
	levels := strings.Split(path.Dir(m.rel), "/")
	for depth := 0; depth <= len(levels); depth++ {
		folder := path.Join(levels[:depth]...)
		entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(folder)))
		if err != nil {
			return nil, false, err
		}
		var atLevel []string
		for _, e := range entries {
			n, valid := parseBIDSName(e.Name())
			if valid && !e.IsDir() && n.suffix == suffix && n.ext == ext && n.appliesTo(m.name) {
				atLevel = append(atLevel, path.Join(folder, e.Name()))
			}
		}
		if len(atLevel) > 1 {
			probs.add(m.rel, "%d *_%s%s files in one folder apply to this recording (%s): keep one per folder", len(atLevel), suffix, ext, strings.Join(atLevel, ", "))
			ok = false
		}
		found = append(found, atLevel...)
	}
	return found, ok, nil
}

// motionMetadata is the part of a recording's _motion.json sidecars that
// the importer uses.
type motionMetadata struct {
	samplingFrequency float64
	channelCount      int
	manufacturer      string
	model             string
	taskName          string
}

// readMotionMetadata merges the recording's _motion.json sidecars, deeper
// folders overriding the root, and checks MotionChannelCount against the
// rows of the nearest _channels.tsv.
func readMotionMetadata(root string, m bidsMotion, probs *problems) (motionMetadata, bool, error) {
	sidecars, ok, err := applicableFiles(root, m, "motion", ".json", probs)
	if err != nil || !ok {
		return motionMetadata{}, false, err
	}
	if len(sidecars) == 0 {
		probs.add(m.rel, "no _motion.json sidecar applies: add one beside the recording with SamplingFrequency, MotionChannelCount and TaskName")
		return motionMetadata{}, false, nil
	}
	merged := map[string]any{}
	for _, s := range sidecars {
		fields, err := readJSONObject(filepath.Join(root, filepath.FromSlash(s)))
		if err != nil {
			probs.add(s, "%w", err)
			return motionMetadata{}, false, nil
		}
		maps.Copy(merged, fields)
	}
	named := sidecars[len(sidecars)-1]
	meta, ok := decodeMotionMetadata(named, merged, probs)
	if !ok {
		return meta, false, nil
	}
	ok, err = checkChannelCount(root, m, meta.channelCount, named, probs)
	return meta, ok, err
}

func readJSONObject(file string) (map[string]any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if path, dup := strictjson.DuplicateName(raw); dup {
		return nil, fmt.Errorf("field %s is given twice: keep one value", path)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return fields, nil
}

// decodeMotionMetadata reads the sidecar fields. sidecar names the file
// that problems are reported at.
func decodeMotionMetadata(sidecar string, fields map[string]any, probs *problems) (motionMetadata, bool) {
	var meta motionMetadata
	before := len(*probs)
	rate, _ := fields["SamplingFrequency"].(float64)
	if rate <= 0 {
		probs.add(sidecar, "SamplingFrequency %s is not a positive number: write the sampling rate in Hz", describeJSON(fields["SamplingFrequency"]))
	}
	count, _ := fields["MotionChannelCount"].(float64)
	if count < 1 || count != math.Trunc(count) {
		probs.add(sidecar, "MotionChannelCount %s is not a positive integer: write the number of channels in the recording", describeJSON(fields["MotionChannelCount"]))
	}
	meta.samplingFrequency, meta.channelCount = rate, int(count)
	meta.manufacturer, _ = fields["Manufacturer"].(string)
	meta.model, _ = fields["ManufacturersModelName"].(string)
	meta.taskName, _ = fields["TaskName"].(string)
	if strings.TrimSpace(meta.taskName) == "" {
		probs.add(sidecar, "TaskName %s is missing or empty: name the task, such as dualWalking", describeJSON(fields["TaskName"]))
	}
	return meta, len(*probs) == before
}

// deviceModel joins Manufacturer and ManufacturersModelName, which BIDS
// only recommends, so either may be missing.
func (m motionMetadata) deviceModel(rel string, rep *Report) string {
	model := strings.TrimSpace(strings.TrimSpace(m.manufacturer) + " " + strings.TrimSpace(m.model))
	if model == "" {
		rep.note(rel, "sidecar names neither Manufacturer nor ManufacturersModelName; device model stored as unknown")
		return "unknown"
	}
	return model
}

func describeJSON(v any) string {
	if v == nil {
		return "(missing)"
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// checkChannelCount compares MotionChannelCount with the data rows of the
// nearest _channels.tsv, which lists one channel per row.
func checkChannelCount(root string, m bidsMotion, count int, sidecar string, probs *problems) (bool, error) {
	files, ok, err := applicableFiles(root, m, "channels", ".tsv", probs)
	if err != nil || !ok {
		return false, err
	}
	if len(files) == 0 {
		probs.add(m.rel, "no _channels.tsv applies: add one beside the recording with one row per channel")
		return false, nil
	}
	nearest := files[len(files)-1]
	lines, err := readTextLines(filepath.Join(root, filepath.FromSlash(nearest)))
	if err != nil {
		return false, err
	}
	rows := 0
	for _, line := range lines[min(1, len(lines)):] {
		if strings.TrimSpace(line) != "" {
			rows++
		}
	}
	if rows != count {
		probs.add(sidecar, "MotionChannelCount %d but %s lists %d channels: make them agree", count, nearest, rows)
		return false, nil
	}
	return true, nil
}
