package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testSample(i int, sex, age string) Sample {
	at := time.Date(2025, 1, 1+i%28, 10, 0, 0, 0, time.UTC)
	s := Sample{
		ID: fmt.Sprintf("s-%04d", i), Digest: fmt.Sprintf("sha256:%064d", i), Size: int64(100 + i),
		Modality: []string{"voice", "pressure"}[i%2], Format: "tsv", SamplingRate: 100, Protocol: "walk",
		CollectorID: "site-a", DeviceModel: "insole", CapturedAt: &at, Participant: fmt.Sprintf("p-%d", i%7),
		Demographics: Demographics{AgeBand: age, Sex: sex, Condition: "parkinsons", AssistiveDevice: "unknown"},
		File:         DataFile(fmt.Sprintf("s-%04d", i), "tsv"),
		Evidence:     Evidence{Registration: uint64(10 + i), Consent: []uint64{1, 2}},
	}
	if i%5 == 0 {
		s.CapturedAt = nil
	}
	return s
}

func TestManifestStreamRoundTrip(t *testing.T) {
	h := Header{Release: "r-1", Origin: "o", Purpose: "research", Tier: "research", Modalities: []string{"voice", "pressure"},
		BuiltAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	mw := NewManifestWriter(&buf, h)
	var want []Sample
	for i := 0; i < 250; i++ {
		s := testSample(i, "female", "60-69")
		want = append(want, s)
		if err := mw.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	trailer := Trailer{Selection: Selection{Considered: 300, Excluded: map[string]int{"consent expired": 50}},
		Documents: map[string]string{LicenceFile: "sha256:aa"}}
	digest, err := mw.Finish(trailer)
	if err != nil {
		t.Fatal(err)
	}
	if digest != Digest(buf.Bytes()) {
		t.Fatalf("writer digest %s, bytes digest %s", digest, Digest(buf.Bytes()))
	}
	var got []Sample
	gh, gt, err := DecodeManifest(bytes.NewReader(buf.Bytes()), func(hh Header, s Sample) error {
		if hh.Release != "r-1" {
			return fmt.Errorf("header not complete when sample %s arrived", s.ID)
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gh.Tier != "research" || !gh.BuiltAt.Equal(h.BuiltAt) || gt.Selection.Excluded["consent expired"] != 50 || len(got) != 250 {
		t.Fatalf("decoded header %+v trailer %+v, %d samples", gh, gt, len(got))
	}
	if fmt.Sprint(got[7]) != fmt.Sprint(want[7]) {
		t.Fatalf("sample 7 decoded as %+v, want %+v", got[7], want[7])
	}
	// One sample per line, for people reading the file.
	if lines := strings.Count(buf.String(), "\n"); lines < 250 {
		t.Fatalf("manifest has %d lines", lines)
	}
}

func TestDecodeManifestRejectsUnknownField(t *testing.T) {
	_, _, err := DecodeManifest(strings.NewReader(`{"release":"r","samples":[],"extra":1}`), func(Header, Sample) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Fatalf("err %v", err)
	}
}

// TestDatasheetNumbersRecompute checks every count in the datasheet against
// an independent count of the samples, with unknown values kept as a group
// so that each breakdown sums to the total.
func TestDatasheetNumbersRecompute(t *testing.T) {
	st := NewStats()
	var samples []Sample
	for i := 0; i < 40; i++ {
		sex := []string{"female", "male", "unknown"}[i%3]
		age := []string{"60-69", "70-79", "unknown", "50-59"}[i%4]
		s := testSample(i, sex, age)
		samples = append(samples, s)
		st.Add(s)
	}
	h := Header{Release: "r-1", Origin: "o", Purpose: "research", Tier: "research", Modalities: []string{"voice"}, BuiltAt: time.Now()}
	sheet := string(Datasheet(h, st, Trailer{Selection: Selection{Considered: 55, Excluded: map[string]int{"consent withdrawn": 15}}}, Terms{}))

	if !strings.Contains(sheet, "40 samples from 7 participants.") || !strings.Contains(sheet, "Of 55 samples considered, 40 were included and 15 left out.") {
		t.Fatalf("summary lines missing:\n%s", sheet)
	}
	for dim, key := range map[string]func(Sample) string{
		BySex:     func(s Sample) string { return s.Demographics.Sex },
		ByAgeBand: func(s Sample) string { return s.Demographics.AgeBand },
		ByFormat:  func(s Sample) string { return s.Format },
	} {
		want := map[string]int{}
		for _, s := range samples {
			want[key(s)]++
		}
		got := tableCounts(t, sheet, dim)
		sum := 0
		for k, n := range got {
			sum += n
			if want[k] != n {
				t.Errorf("%s %s: datasheet says %d, samples give %d", dim, k, n, want[k])
			}
		}
		if sum != len(samples) {
			t.Errorf("%s groups sum to %d, want %d", dim, sum, len(samples))
		}
	}
	if !strings.Contains(sheet, "The capture time of 8 samples is not recorded") {
		t.Errorf("capture time unknown count missing:\n%s", sheet)
	}
}

// tableCounts reads the rows of the datasheet table titled dim: the first
// cell and the last, which is the number of samples.
func tableCounts(t *testing.T, sheet, dim string) map[string]int {
	t.Helper()
	start := strings.Index(sheet, "\n| "+dim+" |")
	if start < 0 {
		t.Fatalf("no %s table", dim)
	}
	out := map[string]int{}
	row := regexp.MustCompile(`^\| ([^|]+) \|.* (\d+) \|$`)
	for _, line := range strings.Split(sheet[start+1:], "\n")[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil {
			break
		}
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	return out
}

func TestEntryWriterMatchesJSON(t *testing.T) {
	cases := []EntryProof{
		{Index: 0, Entry: []byte(`{"v":1}`), Proof: [][]byte{}},
		{Index: 12345, Entry: []byte("\x00\xff binary"), Proof: [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}},
	}
	for _, e := range cases {
		var got, want bytes.Buffer
		if err := (&EntryWriter{w: &got}).Write(e); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(&want).Encode(e); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("got  %s\nwant %s", got.String(), want.String())
		}
	}
}
