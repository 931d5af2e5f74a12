package release

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testBundle is a bundle folder written the way the registry writes one,
// with generated recordings and without log evidence, for tests of the
// documents. Its checkpoint and entries are placeholders.
type testBundle struct {
	dir     string
	header  Header
	trailer Trailer
}

// bundleSample returns sample i of a generated release: two modalities,
// demographics with unknown values and small groups, and a capture time
// missing for every seventh sample.
func bundleSample(i int, content []byte) Sample {
	modality := []string{"voice", "pressure", "voice"}[i%3]
	format := map[string]string{"voice": "wav", "pressure": "tsv"}[modality]
	at := time.Date(2025, 2, 1+i%20, 9, 30, 0, 0, time.UTC)
	s := Sample{
		ID: fmt.Sprintf("s-%04d", i), Digest: Digest(content), Size: int64(len(content)),
		Modality: modality, Format: format, SamplingRate: map[string]float64{"voice": 16000, "pressure": 100}[modality],
		Protocol: []string{"walk", "sustained-vowel"}[i%2], CollectorID: []string{"site-a/slp-2", "site-b"}[i%2],
		DeviceModel: []string{"H5", "insole-3"}[i%2], CapturedAt: &at, Participant: fmt.Sprintf("p-%02d", i%9),
		Demographics: Demographics{
			AgeBand:         []string{"60-69", "70-79", "unknown", "50-59", "80-89"}[i%5],
			Sex:             []string{"female", "male", "unknown"}[i%3],
			Condition:       []string{"parkinsons", "stroke", "parkinsons", "unknown"}[i%4],
			AssistiveDevice: []string{"none", "cane", "walker", "none", "unknown", "none"}[i%6],
		},
		File:     DataFile(fmt.Sprintf("s-%04d", i), format),
		Evidence: Evidence{Registration: uint64(10 + i), Consent: []uint64{1}},
	}
	if i%7 == 3 {
		s.CapturedAt = nil
	}
	return s
}

// writeTestBundle builds a bundle of n samples in a new folder: it renders
// every document from the streamed samples, closes the manifest with their
// digests, and writes the data files.
func writeTestBundle(t *testing.T, n int, h Header, attribution []Attribution, terms Terms) testBundle {
	t.Helper()
	var manifest, metadata bytes.Buffer
	mw := NewManifestWriter(&manifest, h)
	meta := NewMetadataWriter(&metadata, h)
	st := NewStats(meta.Add)
	data := map[string][]byte{}
	for i := 0; i < n; i++ {
		content := fmt.Appendf(nil, "recording %d\n%s", i, bytes.Repeat([]byte{byte(i)}, i%13))
		s := bundleSample(i, content)
		data[s.File] = content
		if err := mw.Add(s); err != nil {
			t.Fatal(err)
		}
		st.Add(s)
	}
	tr := Trailer{
		Version:     "2.1.0",
		Selection:   Selection{Considered: n + 6, Excluded: map[string]int{"use not granted": 4, "consent withdrawn": 2}},
		Attribution: attribution,
	}
	licence, err := NewLicence(h, Trailer{Attribution: attribution}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	licenceLD, err := NewLicenceJSONLD(h, Trailer{Attribution: attribution}, terms)
	if err != nil {
		t.Fatal(err)
	}
	sheet := Datasheet(h, st, tr, terms)
	sheetHTML, err := DatasheetHTML(h.Release, sheet)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{LicenceJSONLDFile: licenceLD, DatasheetHTMLFile: sheetHTML}
	tr.Documents = map[string]string{
		LicenceFile: Digest(licence), LicenceJSONLDFile: Digest(licenceLD),
		DatasheetFile: Digest(sheet), DatasheetHTMLFile: Digest(sheetHTML),
	}
	if tr.Documents[MetadataFile], err = meta.Finish(st, tr, tr.Documents); err != nil {
		t.Fatal(err)
	}
	docs[MetadataFile] = metadata.Bytes()
	if _, err := mw.Finish(tr); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "bundle")
	opener := func(b []byte) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	c := Contents{
		Manifest: opener(manifest.Bytes()), Licence: licence, Datasheet: sheet, Checkpoint: []byte("placeholder\n"),
		Entries:   func(*EntryWriter) error { return nil },
		Data:      func(s Sample) (io.ReadCloser, error) { return opener(data[s.File])() },
		Documents: map[string]func() (io.ReadCloser, error){},
	}
	for name, raw := range docs {
		c.Documents[name] = opener(raw)
	}
	if err := Write(dir, c); err != nil {
		t.Fatal(err)
	}
	return testBundle{dir: dir, header: h, trailer: tr}
}

// readSamples decodes the bundle's manifest from disk.
func (b testBundle) readSamples(t *testing.T) (Header, Trailer, []Sample) {
	t.Helper()
	f, err := os.Open(filepath.Join(b.dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var samples []Sample
	h, tr, err := DecodeManifest(f, func(_ Header, s Sample) error { samples = append(samples, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return h, tr, samples
}

func (b testBundle) read(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func testHeader() Header {
	return Header{
		Release: "r-test", Origin: "steward.example/lab", Purpose: "research.rehabilitation", Tier: "research",
		Modalities: []string{"voice", "pressure"}, BuiltAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Licensee: "acme", Replaces: "r-old",
	}
}
