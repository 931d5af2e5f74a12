package probe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/steward-rehab/steward/internal/synth"
	"github.com/steward-rehab/steward/internal/wfdb"
)

// Real files come from the shared data folder beside the repository; each
// test says which dataset it reads.
const data = "../../../shared/data"

func probeFile(t *testing.T, path, format string, opts Options) (Measured, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := For(format, opts)
	// Small writes exercise lines and headers split across calls.
	buf := make([]byte, 777)
	if _, err := io.CopyBuffer(struct{ io.Writer }{p}, f, buf); err != nil {
		t.Fatal(err)
	}
	return p.Finish()
}

func TestTabularRealFiles(t *testing.T) {
	cases := []struct {
		name, path, format, unit string
		rate                     float64
		channels                 int
	}{
		{"gaitpdb walk, tabs, seconds", "physionet-gaitpdb/GaPt03_01.txt", "tsv", "s", 100, 18},
		{"daphnet, spaces, milliseconds", "daphnet-fog/S03R02.txt", "txt", "ms", 64, 10},
		{"bmclab, header and CRLF", "bmclab-bds-balance/BDS00157.txt", "tsv", "s", 100, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := probeFile(t, filepath.Join(data, c.path), c.format, Options{TimeUnit: c.unit})
			if err != nil {
				t.Fatal(err)
			}
			if len(Compare(c.rate, c.channels, m)) != 0 {
				t.Fatalf("measured %+v, want %v Hz and %d channels", m, c.rate, c.channels)
			}
		})
	}
}

func TestTabularWrongRateNamesValues(t *testing.T) {
	m, err := probeFile(t, filepath.Join(data, "physionet-gaitpdb/GaPt03_01.txt"), "tsv", Options{TimeUnit: "s"})
	if err != nil {
		t.Fatal(err)
	}
	mm := Compare(200, 0, m)
	if len(mm) != 1 || !strings.Contains(mm[0].Error(), "declared 200 Hz but the file has 100.") {
		t.Fatalf("mismatches %v", mm)
	}
}

func TestTabularBadRows(t *testing.T) {
	cases := map[string]string{
		"ragged row":     "0\t1\t2\n0.01\t1\n",
		"overflow":       "0\t1\n0.01\t1e999\n",
		"text cell":      "0\t1\n0.01\tabc\n",
		"time goes back": "0\t1\n0.01\t1\n0.005\t1\n",
		"only header":    "time\tx\n",
		"empty":          "",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := For("tsv", Options{TimeUnit: "s"})
			p.Write([]byte(content))
			if _, err := p.Finish(); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
		})
	}
}

// A recording of another format declared as tabular is named as such, not
// reported as rows that fail to parse.
func TestTabularRejectsBinary(t *testing.T) {
	cases := map[string]struct{ content, want string }{
		"WAV file":  {"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00", "WAV recording, not a tabular text file: declare format wav"},
		"NUL bytes": {"0\t1\n\x00\x00\x00\x01", "binary data"},
	}
	for name, c := range cases {
		p := For("tsv", Options{TimeUnit: "s"})
		p.Write([]byte(c.content))
		if _, err := p.Finish(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestTabularMixedLineEndings(t *testing.T) {
	p := For("csv", Options{TimeUnit: "s"})
	p.Write([]byte("t,x\r\n0,1\r0.5,2\n1.0,3\r\n1.5,4"))
	m, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if m.Frames != 4 || m.SamplingRate != 2 || m.Channels != 1 {
		t.Fatalf("%+v", m)
	}
}

// wav builds a PCM WAV file in memory.
func wav(rate uint32, channels uint16, frames int, declaredData uint32) []byte {
	var b bytes.Buffer
	dataLen := uint32(frames) * uint32(channels) * 2
	if declaredData == 0 {
		declaredData = dataLen
	}
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), channels, rate, rate * uint32(channels) * 2, channels * 2, uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, declaredData)
	b.Write(make([]byte, dataLen))
	return b.Bytes()
}

func TestWAV(t *testing.T) {
	p := For("wav", Options{})
	content := wav(16000, 1, 8000, 0)
	for i := 0; i < len(content); i += 5 {
		p.Write(content[i:min(i+5, len(content))])
	}
	m, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if m.SamplingRate != 16000 || m.Channels != 1 || m.Frames != 8000 || m.Duration != 0.5 {
		t.Fatalf("%+v", m)
	}
	if mm := Compare(44100, 2, m); len(mm) != 2 {
		t.Fatalf("mismatches %v", mm)
	}
	// The header states the rate, so a declaration close to it is wrong
	// all the same.
	if mm := Compare(16100, 1, m); len(mm) != 1 {
		t.Fatalf("16100 Hz declared for a 16000 Hz header: mismatches %v", mm)
	}
	if mm := Compare(16000, 1, m); len(mm) != 0 {
		t.Fatalf("the header's own rate: mismatches %v", mm)
	}
}

func TestWAVTruncated(t *testing.T) {
	full := wav(16000, 1, 8000, 0)
	for _, n := range []int{10, 30, len(full) - 100} {
		p := For("wav", Options{})
		p.Write(full[:n])
		_, err := p.Finish()
		if err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("cut at %d: %v, want a truncation error", n, err)
		}
	}
	p := For("wav", Options{})
	p.Write([]byte("not a wav file at all"))
	if _, err := p.Finish(); err == nil {
		t.Error("garbage accepted")
	}
}

func TestWFDBArchive(t *testing.T) {
	dir := filepath.Join(data, "physionet-gaitndd")
	_, files, err := wfdb.RecordFiles(filepath.Join(dir, "park1.hea"))
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := wfdb.WriteArchive(&archive, dir, append(files, "park1.ts")); err != nil {
		t.Fatal(err)
	}
	p := For("wfdb", Options{})
	p.Write(archive.Bytes())
	m, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if m.SamplingRate != 300 || m.Channels != 2 || m.Frames != 90000 {
		t.Fatalf("%+v", m)
	}

	// A damaged signal byte breaks the checksum.
	damaged := bytes.Clone(archive.Bytes())
	damaged[1024+512+100] ^= 0x01
	p = For("wfdb", Options{})
	p.Write(damaged)
	if _, err := p.Finish(); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("damaged archive: %v", err)
	}
}

func TestNumericSyntax(t *testing.T) {
	for _, ok := range []string{"0", "-1", "+2.5", ".5", "5.", "1e-7", "1.5E+10", "NaN", "nan", "n/a", "N/A", "1e308", "1e-999"} {
		if !numeric([]byte(ok)) {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e", "e5", "1.2.3", "abc", "1,5", "0x10", "MISSING", "inf", "1e999", "-1e400", "n\x0fa", "n-a", strings.Repeat("9", 400)} {
		if numeric([]byte(bad)) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestParseDecimalMatchesParseFloat compares the probe's fast time parser
// with strconv.ParseFloat, which it must match bit for bit or decline.
func TestParseDecimalMatchesParseFloat(t *testing.T) {
	cases := []string{"0", "0.0100", "1.5", "-3.25", "+7", "123456.789012", "0.1", "0.3", "2.675", "1e5", "", ".", "-", "1.2.3", "0x10",
		"999999999999999", "9999999999999999", "0.000000000000001", "4.35", "1000000.0000001"}
	for i := range 2000 {
		cases = append(cases, fmt.Sprintf("%.4f", float64(i)*0.01), fmt.Sprintf("%.6f", float64(i)/7), fmt.Sprintf("-%.3f", float64(i)*1.001))
	}
	for _, c := range cases {
		got, ok := parseDecimal([]byte(c))
		if !ok {
			continue
		}
		want, err := strconv.ParseFloat(c, 64)
		if err != nil {
			t.Errorf("parseDecimal(%q) accepted what ParseFloat rejects: %v", c, err)
			continue
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("parseDecimal(%q) = %v, ParseFloat = %v", c, got, want)
		}
	}
	for _, c := range []string{"0.0100", "-3.25", "123456.789012"} {
		if _, ok := parseDecimal([]byte(c)); !ok {
			t.Errorf("parseDecimal(%q) declined a plain decimal", c)
		}
	}
}

// BenchmarkTabularIMU probes a 5 s, 100 Hz IMU table of about 25 KB, the
// file of the registration benchmarks.
func BenchmarkTabularIMU(b *testing.B) {
	var buf bytes.Buffer
	synth.IMU(&buf, 100, 5, 1)
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		p := For("tsv", Options{TimeUnit: "s"})
		p.Write(buf.Bytes())
		if _, err := p.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPlainCellsMatchCells checks the fast path of the tabular probe
// against the general one: on every line the fast path accepts, both must
// count the same cells and return the same first cell.
func TestPlainCellsMatchCells(t *testing.T) {
	lines := []string{
		"0.01\t1\t-2.5", "1.\t.5\t-.5", "+3\t4", "1", "1\t\t2", "1\t2\t", " 1\t2", "1\t2 ", "1e5\t2", "nan\t1", "-\t1", ".\t1",
		"1-2\t3", "+-1\t2", "1..2\t3", "0.0000\t0.0100\t1.0000\t0.3000", "12\t\u00a013",
	}
	for _, line := range lines {
		fast := &tabular{sep: '\t', header: true}
		n, first, ok := fast.plainCells([]byte(line))
		if !ok {
			continue
		}
		general := &tabular{sep: '\t', header: true}
		wantN, wantFirst, wantOK := general.cells([]byte(line))
		if !wantOK || n != wantN || string(first) != string(wantFirst) {
			t.Errorf("line %q: fast path gives %d cells from %q, general path %d from %q (ok %v, err %v)", line, n, first, wantN, wantFirst, wantOK, general.err)
		}
	}
	for _, line := range []string{"0.01\t1\t-2.5", "+3\t4", "1"} {
		if _, _, ok := (&tabular{sep: '\t', header: true}).plainCells([]byte(line)); !ok {
			t.Errorf("fast path declined the plain line %q", line)
		}
	}
}

// A WAV file whose header contradicts itself, or whose chunks make the
// audio ambiguous, is rejected.
func TestWAVInconsistentHeaders(t *testing.T) {
	base := wav(16000, 2, 100, 0)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	put16 := func(b []byte, at int, v uint16) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
	put32 := func(b []byte, at int, v uint32) []byte { binary.LittleEndian.PutUint32(b[at:], v); return b }
	fmtChunk := base[12:36]
	cases := map[string]struct {
		content []byte
		want    string
	}{
		"two fmt chunks": {append(append(append([]byte{}, base[:36]...), fmtChunk...), base[36:]...), "two fmt chunks"},
		"format tag 99":  {edit(func(b []byte) []byte { return put16(b, 20, 99) }), "format tag 99"},
		"13-bit samples": {edit(func(b []byte) []byte { return put16(b, 34, 13) }), "13 bits per sample"},
		"byte rate off":  {edit(func(b []byte) []byte { return put32(b, 28, 1) }), "byte rate 1"},
		"mid-frame end": {edit(func(b []byte) []byte {
			b = append(b, 0, 0)
			return put32(put32(b, 40, uint32(len(b)-44)), 4, uint32(len(b)-8))
		}), "not a whole number of 4-byte blocks"},
		"RIFF size 10": {edit(func(b []byte) []byte { return put32(b, 4, 10) }), "RIFF chunk declares 10 bytes"},
		"two data chunks": {func() []byte {
			second := append([]byte("data"), 4, 0, 0, 0, 1, 2, 3, 4)
			return put32(append(bytes.Clone(base), second...), 4, uint32(len(base)+len(second)-8))
		}(), "two data chunks"},
	}
	for name, c := range cases {
		p := For("wav", Options{})
		p.Write(c.content)
		_, err := p.Finish()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}

	// A LIST chunk after the audio is common and fine.
	list := append([]byte("LIST"), 4, 0, 0, 0, 'I', 'N', 'F', 'O')
	withList := put32(append(bytes.Clone(base), list...), 4, uint32(len(base)+len(list)-8))
	p := For("wav", Options{})
	p.Write(withList)
	if m, err := p.Finish(); err != nil || m.Frames != 100 {
		t.Errorf("WAV with a LIST chunk after the data: %+v, %v", m, err)
	}
}
