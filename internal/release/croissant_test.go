package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	schema = "http://schema.org/"
	cr     = "http://mlcommons.org/croissant/"
	rai    = "http://mlcommons.org/croissant/RAI/"
)

func nodeByID(t *testing.T, nodes []map[string]any, id string) map[string]any {
	t.Helper()
	for _, n := range nodes {
		if n["@id"] == id && len(n) > 1 {
			return n
		}
	}
	t.Fatalf("no node %s", id)
	return nil
}

func stringValues(v any) []string {
	var out []string
	for _, x := range values(v) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func oneValue(t *testing.T, n map[string]any, property string) string {
	t.Helper()
	v := stringValues(n[property])
	if len(v) != 1 {
		t.Fatalf("%v has %d values of %s, want 1", n["@id"], len(v), property)
	}
	return v[0]
}

// TestMetadataFromBundle expands metadata.json offline and recomputes every
// digest, size and count in it from the files and manifest of the bundle.
func TestMetadataFromBundle(t *testing.T) {
	b := writeTestBundle(t, 23, testHeader(), []Attribution{{Dataset: "gaitpdb", Citation: "Hausdorff 2000", Licence: "ODC-By-1.0", Samples: 23}}, Terms{})
	h, tr, samples := b.readSamples(t)
	nodes := expandOffline(t, b.read(t, MetadataFile))
	base := ReleaseIRI(h.Origin, h.Release) + "/"

	datasets := nodesOfType(nodes, schema+"Dataset")
	var dataset map[string]any
	for _, d := range datasets {
		if d["@id"] == ReleaseIRI(h.Origin, h.Release) {
			dataset = d
		}
	}
	if dataset == nil {
		t.Fatalf("no dataset node for the release among %d datasets", len(datasets))
	}
	conforms := stringValues(dataset["http://purl.org/dc/terms/conformsTo"])
	for _, want := range []string{CroissantConformsTo, CroissantRAIConformsTo} {
		if !slices.Contains(conforms, want) {
			t.Errorf("conformsTo %v lacks %s", conforms, want)
		}
	}
	if got := oneValue(t, dataset, schema+"version"); got != tr.Version {
		t.Errorf("version %s, manifest says %s", got, tr.Version)
	}
	if got := oneValue(t, dataset, schema+"datePublished"); got != h.BuiltAt.Format(time.RFC3339) {
		t.Errorf("datePublished %s, manifest built at %s", got, h.BuiltAt)
	}
	if !hasID(dataset[schema+"license"], base+LicenceJSONLDFile) || !hasID(dataset[schema+"license"], base+LicenceFile) {
		t.Errorf("license %v does not name both licence documents", dataset[schema+"license"])
	}

	// Every file of the bundle but metadata.json itself and the log
	// evidence is a FileObject, with the sha256 and size of the file.
	objects := nodesOfType(nodes, cr+"FileObject")
	described := map[string]bool{}
	for _, fo := range objects {
		name := strings.TrimPrefix(fo["@id"].(string), base)
		described[name] = true
		raw := b.read(t, name)
		if name == ManifestFile {
			if fo[schema+"sha256"] != nil {
				t.Errorf("manifest.json FileObject carries a sha256, which would make the digests circular")
			}
			continue
		}
		sum := sha256.Sum256(raw)
		if got := oneValue(t, fo, schema+"sha256"); got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: sha256 %s, file has %x", name, got, sum)
		}
		if strings.HasPrefix(name, DataDir+"/") {
			if got := oneValue(t, fo, schema+"contentSize"); got != fmt.Sprintf("%d B", len(raw)) {
				t.Errorf("%s: contentSize %s, file has %d bytes", name, got, len(raw))
			}
		}
	}
	for _, s := range samples {
		if !described[s.File] {
			t.Errorf("data file %s of sample %s has no FileObject", s.File, s.ID)
		}
	}
	for _, name := range []string{ManifestFile, LicenceFile, LicenceJSONLDFile, DatasheetFile, DatasheetHTMLFile} {
		if !described[name] {
			t.Errorf("%s has no FileObject", name)
		}
	}
	if want := len(samples) + 5; len(objects) != want {
		t.Errorf("%d FileObjects, want %d", len(objects), want)
	}

	// One RecordSet per modality, with counts recomputed from the manifest.
	count := map[string]int{}
	people := map[string]map[string]bool{}
	for _, s := range samples {
		count[s.Modality]++
		if people[s.Modality] == nil {
			people[s.Modality] = map[string]bool{}
		}
		people[s.Modality][s.Participant] = true
	}
	recordSets := nodesOfType(nodes, cr+"RecordSet")
	if len(recordSets) != len(count) {
		t.Errorf("%d RecordSets for %d modalities", len(recordSets), len(count))
	}
	for modality, n := range count {
		rs := nodeByID(t, nodes, base+modality)
		if !slices.Contains(ids(rs["@type"]), cr+"RecordSet") && !slices.Contains(toStrings(rs["@type"]), cr+"RecordSet") {
			t.Errorf("%s is not a RecordSet", modality)
		}
		if got := oneValue(t, nodeByID(t, nodes, base+modality+"/count"), cr+"value"); got != fmt.Sprint(n) {
			t.Errorf("%s count %s, manifest has %d", modality, got, n)
		}
		if got := oneValue(t, nodeByID(t, nodes, base+modality+"/participants"), cr+"value"); got != fmt.Sprint(len(people[modality])) {
			t.Errorf("%s participants %s, manifest has %d", modality, got, len(people[modality]))
		}
		var fields []string
		for _, f := range rs[cr+"field"].([]any) {
			fields = append(fields, strings.TrimPrefix(f.(map[string]any)["@id"].(string), base+modality+"/"))
		}
		for _, want := range []string{"sample_id", "participant", "digest", "format", "sampling_rate", "demographics"} {
			if !slices.Contains(fields, want) {
				t.Errorf("%s RecordSet lacks field %s (has %v)", modality, want, fields)
			}
		}
	}

	// RAI: the collection timeframe and the missing data come from the samples.
	var from, to time.Time
	unknown := map[string]int{}
	for _, s := range samples {
		if s.CapturedAt == nil {
			unknown["Capture time"]++
		} else {
			if from.IsZero() || s.CapturedAt.Before(from) {
				from = *s.CapturedAt
			}
			if s.CapturedAt.After(to) {
				to = *s.CapturedAt
			}
		}
		for dim, v := range map[string]string{BySex: s.Demographics.Sex, ByAgeBand: s.Demographics.AgeBand,
			ByCondition: s.Demographics.Condition, ByAssistiveDevice: s.Demographics.AssistiveDevice} {
			if v == "unknown" {
				unknown[dim]++
			}
		}
	}
	if got := oneValue(t, dataset, rai+"dataCollectionTimeframe"); got != from.Format(time.RFC3339)+"/"+to.Format(time.RFC3339) {
		t.Errorf("dataCollectionTimeframe %s, samples span %s to %s", got, from, to)
	}
	missing := strings.Join(stringValues(dataset[rai+"dataCollectionMissingData"]), "\n")
	for dim, n := range unknown {
		if want := fmt.Sprintf("%s is unknown for %d of %d samples.", dim, n, len(samples)); !strings.Contains(missing, want) {
			t.Errorf("dataCollectionMissingData lacks %q:\n%s", want, missing)
		}
	}
	for _, property := range []string{"dataCollection", "personalSensitiveInformation", "dataBiases", "dataLimitations", "dataUseCases", "dataReleaseMaintenancePlan", "dataPreprocessingProtocol"} {
		if len(stringValues(dataset[rai+property])) == 0 {
			t.Errorf("rai:%s is missing", property)
		}
	}
	if plan := strings.Join(stringValues(dataset[rai+"dataReleaseMaintenancePlan"]), " "); !strings.Contains(plan, "steward release status") || !strings.Contains(plan, "revocation notice") {
		t.Errorf("maintenance plan does not explain revocation notices: %s", plan)
	}
	usage := dataset[schema+"usageInfo"]
	var duo []string
	for _, u := range usage.([]any) {
		if m := u.(map[string]any); m[schema+"url"] != nil {
			duo = append(duo, stringValues(m[schema+"url"])...)
		}
	}
	for _, want := range []string{DUOIRI("DUO:0000006"), DUOIRI("DUO:0000046")} {
		if !slices.Contains(duo, want) {
			t.Errorf("usageInfo %v lacks %s", duo, want)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestMetadataOmitsTimeframeWithoutCaptureTimes(t *testing.T) {
	h := testHeader()
	var raw strings.Builder
	meta := NewMetadataWriter(&raw, h)
	st := NewStats(meta.Add)
	s := bundleSample(1, []byte("x"))
	s.CapturedAt = nil
	st.Add(s)
	if _, err := meta.Finish(st, Trailer{Version: "1.0.0"}, map[string]string{LicenceFile: Digest([]byte("l"))}); err != nil {
		t.Fatal(err)
	}
	nodes := expandOffline(t, []byte(raw.String()))
	dataset := nodeByID(t, nodes, ReleaseIRI(h.Origin, h.Release))
	if v := dataset[rai+"dataCollectionTimeframe"]; v != nil {
		t.Errorf("timeframe %v for samples without capture times", v)
	}
	missing := strings.Join(stringValues(dataset[rai+"dataCollectionMissingData"]), " ")
	if !strings.Contains(missing, "Capture time is unknown for 1 of 1 samples.") {
		t.Errorf("missing data %q", missing)
	}
}

func TestMetadataRejectsUnknownDocument(t *testing.T) {
	var raw strings.Builder
	meta := NewMetadataWriter(&raw, testHeader())
	_, err := meta.Finish(NewStats(), Trailer{}, map[string]string{"notes.txt": Digest(nil)})
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("err %v, want one naming notes.txt", err)
	}
}

func TestWriteRejectsDocumentOutsideBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	err := Write(dir, Contents{
		Manifest:  func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil },
		Entries:   func(*EntryWriter) error { return nil },
		Documents: map[string]func() (io.ReadCloser, error){"../escape.json": func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("{}")), nil }},
	})
	if err == nil || !strings.Contains(err.Error(), "../escape.json") {
		t.Fatalf("err %v, want invalid bundle file name", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.json")); err == nil {
		t.Fatal("a document was written outside the bundle")
	}
}
