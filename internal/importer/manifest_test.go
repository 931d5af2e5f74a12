package importer

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// jsonRow returns a manifest row like the example in the ingest help, with
// the given path and sampling rate and any extra fields appended.
func jsonRow(path string, rate string, extra ...string) string {
	fields := []string{
		fmt.Sprintf(`"path":%q`, path), `"participant":"P017"`, `"modality":"voice"`, `"format":"wav"`,
		`"samplingRate":` + rate, `"collectorId":"site-a/slp-2"`, `"device":{"model":"H5","firmware":"2.1"}`,
		`"capturedAt":"2025-05-01T10:00:00Z"`, `"protocol":"sustained-vowel"`, `"labelSchemaVersion":"1"`, `"consentVersion":"v1"`,
	}
	return "{" + strings.Join(append(fields, extra...), ",") + "}"
}

const csvHeader = "path,participant,modality,format,samplingRate,channels,collectorId,device.model,device.firmware,capturedAt,protocol,labelSchemaVersion,consentVersion"

// csvRow returns the CSV row of jsonRow(path, rate) with one channel.
func csvRow(path, rate string) string {
	return path + ",P017,voice,wav," + rate + ",1,site-a/slp-2,H5,2.1,2025-05-01T10:00:00Z,sustained-vowel,1,v1"
}

// manifestFolder makes a fixture folder with walks/w1.wav and walks/w2.wav,
// each holding a line of text. That is enough because the importer checks
// that files exist and leaves their content to the registry's probes.
func manifestFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "walks", "w1.wav"), "first recording\n")
	writeFile(t, filepath.Join(dir, "walks", "w2.wav"), "second recording\n")
	return dir
}

func TestManifestCSVMatchesJSONL(t *testing.T) {
	// Both manifests are written here and declare the same two rows. The
	// second has no capture time, written as null and as an empty cell.
	dir := manifestFolder(t)
	jsonl := filepath.Join(dir, "m.jsonl")
	writeFile(t, jsonl, jsonRow("walks/w1.wav", "16000", `"channels":1`)+"\n\n"+
		strings.Replace(jsonRow("walks/w2.wav", "8000", `"channels":1`), `"2025-05-01T10:00:00Z"`, "null", 1)+"\n")
	csvPath := filepath.Join(dir, "m.csv")
	writeFile(t, csvPath, csvHeader+"\n"+csvRow("walks/w1.wav", "16000")+"\n"+
		strings.Replace(csvRow("walks/w2.wav", "8000"), "2025-05-01T10:00:00Z", "", 1)+"\n")

	fromJSON, _, err := Manifest(jsonl, "clinic")
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, _, err := Manifest(csvPath, "clinic")
	if err != nil {
		t.Fatal(err)
	}
	if len(fromJSON.Samples) != 2 || len(fromCSV.Samples) != 2 {
		t.Fatalf("%d JSON Lines samples and %d CSV samples, want 2 each", len(fromJSON.Samples), len(fromCSV.Samples))
	}
	for i := range 2 {
		j, c := fromJSON.Samples[i], fromCSV.Samples[i]
		if !reflect.DeepEqual(j.Declaration, c.Declaration) {
			t.Errorf("row %d: JSON Lines %+v, CSV %+v", i+1, j.Declaration, c.Declaration)
		}
		if j.Namespace != "clinic" || c.Namespace != "clinic" {
			t.Errorf("row %d: namespaces %q and %q, want clinic", i+1, j.Namespace, c.Namespace)
		}
		if j.Source["file"] != c.Source["file"] {
			t.Errorf("row %d: source files %q and %q", i+1, j.Source["file"], c.Source["file"])
		}
	}
	if fromCSV.Samples[1].Declaration.CapturedAt != nil {
		t.Error("an empty capturedAt cell did not become null")
	}
	if fromJSON.Samples[1].Where != "m.jsonl line 3" {
		t.Errorf("second JSON Lines row at %s, want line 3 after the blank line", fromJSON.Samples[1].Where)
	}
}

func TestManifestOpenReadsFile(t *testing.T) {
	dir := manifestFolder(t)
	path := filepath.Join(dir, "m.jsonl")
	writeFile(t, path, jsonRow("walks/w2.wav", "16000")+"\n")
	b, _, err := Manifest(path, "")
	if err != nil {
		t.Fatal(err)
	}
	s := b.Samples[0]
	rc, err := s.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "second recording\n" {
		t.Errorf("Open read %q, want the content of walks/w2.wav", got)
	}
	if s.Where != "m.jsonl line 1" || s.Source["manifest"] != "m.jsonl" || s.Source["file"] != "walks/w2.wav" {
		t.Errorf("where %q, source %v", s.Where, s.Source)
	}
}

func TestManifestBOMAndCRLF(t *testing.T) {
	// The fixture starts with a UTF-8 byte order mark and ends its lines in
	// CRLF, except the last, which ends in LF alone.
	dir := manifestFolder(t)
	path := filepath.Join(dir, "m.csv")
	writeFile(t, path, "\ufeff"+csvHeader+"\r\n"+csvRow("walks/w1.wav", "16000")+"\r\n"+csvRow("walks/w2.wav", "16000")+"\n")
	b, _, err := Manifest(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Samples) != 2 {
		t.Fatalf("%d samples, want 2", len(b.Samples))
	}
	if b.Samples[0].Declaration.Path != "walks/w1.wav" || b.Samples[1].Declaration.ConsentVersion != "v1" {
		t.Errorf("declarations %+v and %+v", b.Samples[0].Declaration, b.Samples[1].Declaration)
	}
	if b.Samples[1].Where != "m.csv line 3" {
		t.Errorf("second row at %s, want line 3", b.Samples[1].Where)
	}
}

func TestManifestSymlinkInsideFolder(t *testing.T) {
	// The fixture links walks/alias.wav to walks/w1.wav, inside the folder.
	dir := manifestFolder(t)
	if err := os.Symlink("w1.wav", filepath.Join(dir, "walks", "alias.wav")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.jsonl")
	writeFile(t, path, jsonRow("walks/alias.wav", "16000")+"\n")
	if _, _, err := Manifest(path, ""); err != nil {
		t.Fatal(err)
	}
}

func TestManifestBadInput(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		content string
		setup   func(t *testing.T, dir string) // makes extra fixture files
		where   string                         // the problem's place, without the file name
		parts   []string                       // what the message must name
	}{
		{
			name: "path traversal", file: "m.jsonl",
			content: jsonRow("../x", "16000") + "\n",
			where:   "line 1", parts: []string{"field path", `"../x"`},
		},
		{
			name: "absolute path", file: "m.jsonl",
			content: jsonRow("/etc/passwd", "16000") + "\n",
			where:   "line 1", parts: []string{"field path", `"/etc/passwd"`},
		},
		{
			name: "symlink escaping", file: "m.jsonl",
			content: jsonRow("walks/link.wav", "16000") + "\n",
			setup: func(t *testing.T, dir string) {
				// walks/link.wav points to a file in another temporary folder.
				outside := filepath.Join(t.TempDir(), "secret.wav")
				writeFile(t, outside, "outside\n")
				if err := os.Symlink(outside, filepath.Join(dir, "walks", "link.wav")); err != nil {
					t.Fatal(err)
				}
			},
			where: "line 1", parts: []string{"field path", `"walks/link.wav"`, "outside the manifest's folder"},
		},
		{
			name: "semicolon separated", file: "m.csv",
			content: "path;participant;modality\nwalks/w1.wav;P1;voice\n",
			where:   "line 1", parts: []string{`separated by ";"`, "comma-separated"},
		},
		{
			name: "absolute symlink inside", file: "m.jsonl",
			content: jsonRow("walks/abs.wav", "16000") + "\n",
			setup: func(t *testing.T, dir string) {
				// walks/abs.wav points to a file beside it, by its absolute path.
				inside := filepath.Join(dir, "walks", "real.wav")
				writeFile(t, inside, "inside\n")
				if err := os.Symlink(inside, filepath.Join(dir, "walks", "abs.wav")); err != nil {
					t.Fatal(err)
				}
			},
			where: "line 1", parts: []string{"field path", `"walks/abs.wav"`, "a link to the absolute path", "make the link relative"},
		},
		{
			name: "missing file", file: "m.jsonl",
			content: jsonRow("walks/none.wav", "16000") + "\n",
			where:   "line 1", parts: []string{"field path", `"walks/none.wav"`, "not found"},
		},
		{
			name: "duplicate path", file: "m.jsonl",
			content: jsonRow("walks/w1.wav", "16000") + "\n" + jsonRow("walks/./w1.wav", "16000") + "\n",
			where:   "line 2", parts: []string{"field path", `"walks/./w1.wav"`, "line 1"},
		},
		{
			name: "unknown column", file: "m.csv",
			content: strings.Replace(csvHeader, "samplingRate", "sampling_rate", 1) + "\n" + csvRow("walks/w1.wav", "16000") + "\n",
			where:   "line 1", parts: []string{"unknown column", `"sampling_rate"`},
		},
		{
			name: "missing column", file: "m.csv",
			content: strings.Replace(csvHeader, ",protocol", "", 1) + "\n" + strings.Replace(csvRow("walks/w1.wav", "16000"), ",sustained-vowel", "", 1) + "\n",
			where:   "line 1", parts: []string{"missing column protocol"},
		},
		{
			name: "wrong type in CSV", file: "m.csv",
			content: csvHeader + "\n" + csvRow("walks/w1.wav", "fast") + "\n",
			where:   "line 2", parts: []string{"field samplingRate", `"fast"`, "not a number"},
		},
		{
			name: "wrong type in JSON Lines", file: "m.jsonl",
			content: jsonRow("walks/w1.wav", `"fast"`) + "\n",
			where:   "line 1", parts: []string{"field samplingRate", `"fast"`, "want number"},
		},
		{
			name: "fractional channels", file: "m.csv",
			content: csvHeader + "\n" + strings.Replace(csvRow("walks/w1.wav", "16000"), ",1,", ",2.5,", 1) + "\n",
			where:   "line 2", parts: []string{"field channels", `"2.5"`, "not an integer"},
		},
		{
			name: "unknown modality", file: "m.jsonl",
			content: strings.Replace(jsonRow("walks/w1.wav", "16000"), `"voice"`, `"smell"`, 1) + "\n",
			where:   "line 1", parts: []string{"field modality", `"smell"`},
		},
		{
			name: "unknown field", file: "m.jsonl",
			content: jsonRow("walks/w1.wav", "16000", `"colour":"red"`) + "\n",
			where:   "line 1", parts: []string{"'colour'", "remove it"},
		},
		{
			name: "truncated last line", file: "m.jsonl",
			content: jsonRow("walks/w1.wav", "16000") + "\n" + `{"path":"walks/w2.wav","partic`,
			where:   "line 2", parts: []string{"invalid JSON", "cut off"},
		},
		{
			name: "wrong cell count", file: "m.csv",
			content: csvHeader + "\n" + csvRow("walks/w1.wav", "16000") + ",extra\n",
			where:   "line 2", parts: []string{"14 cells", "13 columns"},
		},
		{
			name: "JSON array", file: "m.json",
			content: "[" + jsonRow("walks/w1.wav", "16000") + "]\n",
			where:   "line 1", parts: []string{"JSON array", "one JSON object per line"},
		},
		{
			name: "unsupported extension", file: "m.txt",
			content: jsonRow("walks/w1.wav", "16000") + "\n",
			where:   "", parts: []string{`".txt"`, ".csv"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := manifestFolder(t)
			if c.setup != nil {
				c.setup(t, dir)
			}
			path := filepath.Join(dir, c.file)
			writeFile(t, path, c.content)
			b, _, err := Manifest(path, "")
			if b != nil {
				t.Error("a batch was returned with the error")
			}
			problems := batchProblems(t, err)
			where := strings.TrimSpace(c.file + " " + c.where)
			if _, ok := findProblem(problems, where, c.parts...); !ok {
				t.Fatalf("no problem at %q naming %q in:\n%v", where, c.parts, err)
			}
		})
	}
}

func TestManifestMissingColumnReportedOnce(t *testing.T) {
	cases := map[string]struct {
		drop    []string // columns left out of csvHeader and csvRow
		columns int      // missing columns reported
	}{
		"protocol":      {[]string{"protocol"}, 1},
		"device object": {[]string{"device.model", "device.firmware"}, 2},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			header := strings.Split(csvHeader, ",")
			row := strings.Split(csvRow("walks/w1.wav", "16000"), ",")
			for _, column := range c.drop {
				i := slices.Index(header, column)
				header = slices.Delete(header, i, i+1)
				row = slices.Delete(row, i, i+1)
			}
			path := filepath.Join(manifestFolder(t), "m.csv")
			writeFile(t, path, strings.Join(header, ",")+"\n"+strings.Join(row, ",")+"\n")

			_, _, err := Manifest(path, "")
			problems := batchProblems(t, err)
			if len(problems) != c.columns {
				t.Fatalf("%d problems, want only the %d missing columns:\n%v", len(problems), c.columns, err)
			}
			for _, p := range problems {
				if p.Where != "m.csv line 1" {
					t.Errorf("problem at %s, want the header line: %v", p.Where, p.Err)
				}
			}
		})
	}
}

func TestManifestCollectsAllProblems(t *testing.T) {
	// Lines 1, 2 and 4 of the fixture are bad in different ways, and line 3
	// is good.
	dir := manifestFolder(t)
	path := filepath.Join(dir, "m.jsonl")
	writeFile(t, path, jsonRow("../x", "16000")+"\n"+
		jsonRow("walks/w1.wav", `"fast"`)+"\n"+
		jsonRow("walks/w2.wav", "16000")+"\n"+
		jsonRow("walks/none.wav", "16000")+"\n")
	_, _, err := Manifest(path, "")
	problems := batchProblems(t, err)
	var places []string
	for _, p := range problems {
		places = append(places, p.Where)
	}
	if got := strings.Join(places, ", "); got != "m.jsonl line 1, m.jsonl line 2, m.jsonl line 4" {
		t.Errorf("problems at %s, want lines 1, 2 and 4", got)
	}
}

// wfdbManifest makes a fixture folder holding a manifest whose one row
// declares rec/als1.hea, and copies the named files of PhysioNet gaitndd's
// als1 record into rec/.
func wfdbManifest(t *testing.T, files ...string) string {
	t.Helper()
	src := dataset(t, "physionet-gaitndd")
	dir := t.TempDir()
	for _, f := range files {
		copyFile(t, filepath.Join(src, f), filepath.Join(dir, "rec", f))
	}
	row := strings.NewReplacer(`"voice"`, `"pressure"`, `"wav"`, `"wfdb"`).Replace(jsonRow("rec/als1.hea", "300", `"channels":2`))
	path := filepath.Join(dir, "m.jsonl")
	writeFile(t, path, row+"\n")
	return path
}

func TestManifestWFDBRecord(t *testing.T) {
	b, _, err := Manifest(wfdbManifest(t, "als1.hea", "als1.let", "als1.rit"), "")
	if err != nil {
		t.Fatal(err)
	}
	m := probeSample(t, b.Samples[0])
	if m.Frames != 90000 {
		t.Errorf("measured %+v, want 90000 frames", m)
	}
}

func TestManifestWFDBMissingSignal(t *testing.T) {
	_, _, err := Manifest(wfdbManifest(t, "als1.hea", "als1.rit"), "")
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, "m.jsonl line 1", "signal file", `"rec/als1.let"`, "not found"); !ok {
		t.Fatalf("no problem naming rec/als1.let in:\n%v", err)
	}
}

func TestManifestInvalidUTF8(t *testing.T) {
	dir := manifestFolder(t)
	path := filepath.Join(dir, "m.csv")
	// Line 3 has a collector id with a Latin-1 "é" (0xE9), as a spreadsheet
	// saving in Windows-1252 writes it.
	latin1 := strings.Replace(csvRow("walks/w2.wav", "16000"), "site-a", "site-\xe9", 1)
	writeFile(t, path, csvHeader+"\n"+csvRow("walks/w1.wav", "16000")+"\n"+latin1+"\n")
	column := strings.Index(latin1, "\xe9") + 1
	_, _, err := Manifest(path, "")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("m.csv line 3: invalid UTF-8 byte 0xE9 at byte %d of the line", column)) {
		t.Errorf("manifest with a Latin-1 byte: %v", err)
	}
}

// A second header naming the same signal files registers the recording
// twice, possibly for another participant, so it is rejected.
func TestManifestWFDBSharedSignal(t *testing.T) {
	path := wfdbManifest(t, "als1.hea", "als1.let", "als1.rit")
	dir := filepath.Dir(path)
	raw, err := os.ReadFile(filepath.Join(dir, "rec", "als1.hea"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rec", "copy1.hea"), strings.Replace(string(raw), "als1", "copy1", 1))
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	second := strings.NewReplacer(`"rec/als1.hea"`, `"rec/copy1.hea"`, `"P017"`, `"P018"`).Replace(string(first))
	writeFile(t, path, string(first)+second)
	_, _, err = Manifest(path, "")
	problems := batchProblems(t, err)
	if _, ok := findProblem(problems, "m.jsonl line 2", `signal file "rec/als1.let"`, "also used on line 1"); !ok {
		t.Fatalf("no problem naming the shared signal file in:\n%v", err)
	}
}
