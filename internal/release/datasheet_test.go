package release

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sheetLines is a datasheet whose verified parts are removed one by one,
// so that what is left can be checked for unverified numbers.
type sheetLines struct {
	t     *testing.T
	lines []string
}

// consume removes text from the first line that contains it.
func (s *sheetLines) consume(text string) {
	s.t.Helper()
	for i, l := range s.lines {
		if strings.Contains(l, text) {
			s.lines[i] = strings.Replace(l, text, "", 1)
			return
		}
	}
	s.t.Errorf("datasheet lacks %q", text)
}

// table returns the rows of the table whose first header cell is title,
// as cells, and removes the table.
func (s *sheetLines) table(title string) (header []string, rows [][]string) {
	s.t.Helper()
	cells := func(l string) []string {
		parts := strings.Split(strings.Trim(l, "|"), " | ")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	for i, l := range s.lines {
		if !strings.HasPrefix(l, "| "+title+" |") {
			continue
		}
		header = cells(l)
		s.lines[i], s.lines[i+1] = "", ""
		for j := i + 2; j < len(s.lines) && strings.HasPrefix(s.lines[j], "|"); j++ {
			rows = append(rows, cells(s.lines[j]))
			s.lines[j] = ""
		}
		return header, rows
	}
	s.t.Errorf("datasheet has no %s table", title)
	return nil, nil
}

// expectedCounts lists counts as the datasheet does, largest first, then by
// name.
func expectedCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("table cell %q is not a count", s)
	}
	return n
}

// TestDatasheetEveryNumberFromBundle recomputes every number in
// datasheet.md from the bundle's manifest, removes each one it checked,
// and then requires that no other number is left.
func TestDatasheetEveryNumberFromBundle(t *testing.T) {
	attribution := []Attribution{{Dataset: "gaitpdb", Citation: "Hausdorff 2000", Licence: "ODC-By-1.0", Samples: 20}, {Dataset: "clinic", Samples: 17}}
	until := time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)
	b := writeTestBundle(t, 37, testHeader(), attribution, Terms{Until: until})
	h, tr, samples := b.readSamples(t)
	sheet := &sheetLines{t: t, lines: strings.Split(string(b.read(t, DatasheetFile)), "\n")}

	// Recompute from the manifest alone.
	field := map[string]func(Sample) string{
		ByModality: func(s Sample) string { return s.Modality }, ByFormat: func(s Sample) string { return s.Format },
		BySex: func(s Sample) string { return s.Demographics.Sex }, ByAgeBand: func(s Sample) string { return s.Demographics.AgeBand },
		ByCondition: func(s Sample) string { return s.Demographics.Condition }, ByAssistiveDevice: func(s Sample) string { return s.Demographics.AssistiveDevice },
		ByProtocol: func(s Sample) string { return s.Protocol }, ByCollector: func(s Sample) string { return s.CollectorID },
		ByDeviceModel: func(s Sample) string { return s.DeviceModel }, BySamplingRate: func(s Sample) string { return fmt.Sprint(s.SamplingRate) },
	}
	counts := map[string]map[string]int{}
	perModality := map[string]map[string]map[string]int{}
	participants := map[string]bool{}
	modalityParticipants := map[string]map[string]bool{}
	var from, to time.Time
	captureUnknown := 0
	for _, s := range samples {
		participants[s.Participant] = true
		if modalityParticipants[s.Modality] == nil {
			modalityParticipants[s.Modality] = map[string]bool{}
			perModality[s.Modality] = map[string]map[string]int{}
		}
		modalityParticipants[s.Modality][s.Participant] = true
		for dim, get := range field {
			if counts[dim] == nil {
				counts[dim] = map[string]int{}
			}
			counts[dim][get(s)]++
			if perModality[s.Modality][dim] == nil {
				perModality[s.Modality][dim] = map[string]int{}
			}
			perModality[s.Modality][dim][get(s)]++
		}
		if s.CapturedAt == nil {
			captureUnknown++
		} else {
			if from.IsZero() || s.CapturedAt.Before(from) {
				from = *s.CapturedAt
			}
			if s.CapturedAt.After(to) {
				to = *s.CapturedAt
			}
		}
	}
	n := len(samples)
	var modalities []string
	for m := range perModality {
		modalities = append(modalities, m)
	}
	slices.Sort(modalities)

	// Tables.
	header, rows := sheet.table(ByModality)
	if !slices.Equal(header, []string{ByModality, "Samples", "Participants"}) {
		t.Errorf("modality table header %v", header)
	}
	for _, r := range rows {
		if atoi(t, r[1]) != counts[ByModality][r[0]] || atoi(t, r[2]) != len(modalityParticipants[r[0]]) {
			t.Errorf("modality row %v, manifest gives %d samples from %d participants", r, counts[ByModality][r[0]], len(modalityParticipants[r[0]]))
		}
	}
	if len(rows) != len(modalities) {
		t.Errorf("%d modality rows, manifest has %d modalities", len(rows), len(modalities))
	}
	for _, dim := range DemographicDimensions {
		header, rows := sheet.table(dim)
		if want := append(append([]string{dim}, modalities...), "Samples"); !slices.Equal(header, want) {
			t.Errorf("%s table header %v, want %v", dim, header, want)
			continue
		}
		sum := 0
		for _, r := range rows {
			for i, m := range modalities {
				if got := atoi(t, r[1+i]); got != perModality[m][dim][r[0]] {
					t.Errorf("%s %s %s: datasheet says %d, manifest gives %d", dim, r[0], m, got, perModality[m][dim][r[0]])
				}
			}
			total := atoi(t, r[len(r)-1])
			if total != counts[dim][r[0]] {
				t.Errorf("%s %s: datasheet says %d samples, manifest gives %d", dim, r[0], total, counts[dim][r[0]])
			}
			sum += total
		}
		if sum != n || len(rows) != len(counts[dim]) {
			t.Errorf("%s: %d rows summing to %d, manifest has %d values over %d samples", dim, len(rows), sum, len(counts[dim]), n)
		}
	}
	for _, dim := range []string{ByFormat, ByProtocol, ByCollector, ByDeviceModel, BySamplingRate} {
		_, rows := sheet.table(dim)
		for _, r := range rows {
			if atoi(t, r[1]) != counts[dim][r[0]] {
				t.Errorf("%s %s: datasheet says %s, manifest gives %d", dim, r[0], r[1], counts[dim][r[0]])
			}
		}
		if len(rows) != len(counts[dim]) {
			t.Errorf("%s: %d rows, manifest has %d values", dim, len(rows), len(counts[dim]))
		}
	}
	_, rows = sheet.table("Reason left out")
	for _, r := range rows {
		if atoi(t, r[1]) != tr.Selection.Excluded[r[0]] {
			t.Errorf("left out for %s: datasheet says %s, manifest gives %d", r[0], r[1], tr.Selection.Excluded[r[0]])
		}
	}

	// Sentences.
	sheet.consume(fmt.Sprintf("Built %s", h.BuiltAt.Format(time.RFC3339)))
	sheet.consume("Version " + tr.Version)
	sheet.consume("This is version " + tr.Version)
	sheet.consume(fmt.Sprintf("%d samples from %d participants.", n, len(participants)))
	sheet.consume(fmt.Sprintf("Of %d samples considered, %d were included and %d left out.", tr.Selection.Considered, n, tr.Selection.Considered-n))
	sheet.consume(fmt.Sprintf("Captured between %s and %s.", from.Format("2006-01-02"), to.Format("2006-01-02")))
	sheet.consume(fmt.Sprintf("The capture time of %d samples is not recorded by their source.", captureUnknown))
	sheet.consume(fmt.Sprintf("Use is permitted until %s.", until.Format(time.RFC3339)))
	sheet.consume(fmt.Sprintf("protocols %s, by the collectors %s, on the device models %s.",
		expectedCounts(counts[ByProtocol]), escapeMarkdown(expectedCounts(counts[ByCollector])), expectedCounts(counts[ByDeviceModel])))
	for _, dim := range DemographicDimensions {
		if u := counts[dim]["unknown"]; u > 0 {
			sheet.consume(fmt.Sprintf("%s is unknown for %d of %d samples.", dim, u, n))
		}
		sheet.consume(fmt.Sprintf("%s: %s, of %d samples.", dim, expectedCounts(counts[dim]), n))
	}
	sheet.consume(fmt.Sprintf("Capture time is unknown for %d of %d samples.", captureUnknown, n))
	for _, m := range modalities {
		for _, dim := range DemographicDimensions {
			for value, c := range perModality[m][dim] {
				if value != "unknown" && c < SmallGroupSamples {
					sheet.consume(fmt.Sprintf("Small group: %s %s %s has %d samples.", m, strings.ToLower(dim), value, c))
				}
			}
		}
	}
	for _, a := range attribution {
		sheet.consume(fmt.Sprintf("- %s: %d samples", a.Dataset, a.Samples))
	}

	// What remains may hold digits only in names that are not counts.
	rest := strings.Join(sheet.lines, "\n")
	for _, token := range []string{"Hausdorff 2000", "ODC-By-1.0", "GA4GH", "DUO:0000006", "DUO:0000046", "sha256", "Croissant 1.1", "ODRL 2.2"} {
		rest = strings.ReplaceAll(rest, token, "")
	}
	if m := regexp.MustCompile(`.{0,40}\d.{0,40}`).FindAllString(rest, -1); len(m) > 0 {
		t.Errorf("numbers the test did not recompute:\n%s", strings.Join(m, "\n"))
	}
}

func TestDatasheetAnswersGebruSections(t *testing.T) {
	b := writeTestBundle(t, 5, testHeader(), nil, Terms{})
	sheet := string(b.read(t, DatasheetFile))
	for _, heading := range []string{"## Motivation", "## Composition", "## Collection process", "## Preprocessing, cleaning and labelling",
		"## Uses", "Uses to avoid:", "## Distribution and licence", "## Maintenance", "### Personal and sensitive information", "## Known limitations"} {
		if !strings.Contains(sheet, heading) {
			t.Errorf("datasheet lacks %q", heading)
		}
	}
	for _, want := range []string{"licensee acme", "replaces release r-old", "steward release status BUNDLE", "revocation notice", "unknown"} {
		if !strings.Contains(sheet, want) {
			t.Errorf("datasheet does not mention %q", want)
		}
	}
}

// htmlCells returns the text of every table cell of a page, in order.
func htmlCells(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<t[dh](?:\s[^>]*)?>(.*?)</t[dh]>`).FindAllStringSubmatch(page, -1) {
		out = append(out, regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
	}
	return out
}

// mdCells returns the text of every table cell of a Markdown document, in
// order, skipping separator rows.
func mdCells(md string) []string {
	var out []string
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "|") || strings.HasPrefix(l, "| ---") {
			continue
		}
		for _, c := range strings.Split(strings.Trim(l, "|"), " | ") {
			out = append(out, strings.ReplaceAll(strings.TrimSpace(c), `\`, ""))
		}
	}
	return out
}

func TestDatasheetHTMLMatchesMarkdown(t *testing.T) {
	hostile := []Attribution{{Dataset: `<script>alert(1)</script> | *x*`, Citation: `<img src=x onerror=alert(1)>`, Samples: 9}}
	b := writeTestBundle(t, 9, testHeader(), hostile, Terms{})
	page := string(b.read(t, DatasheetHTMLFile))
	md := string(b.read(t, DatasheetFile))

	if !strings.HasPrefix(page, "<!DOCTYPE html>\n<html lang=\"en\">") || !strings.HasSuffix(page, "</html>\n") {
		t.Errorf("not a whole HTML page:\n%.200s", page)
	}
	for _, banned := range []string{"<script", "<img", "<link", "<iframe", "http://", "https://"} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q", banned)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt; | *x*") {
		t.Errorf("hostile dataset name is not shown as text")
	}
	if got, want := htmlCells(page), mdCells(md); !slices.Equal(got, want) {
		t.Errorf("HTML table cells differ from the Markdown ones:\nhtml %v\nmd   %v", got, want)
	}
	if !strings.Contains(page, "<h2>Composition</h2>") {
		t.Error("page lacks the Composition heading")
	}
}
