package release

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Datasheet renders datasheet.md from the manifest alone, so that anyone
// holding the bundle can recompute every number in it.
func Datasheet(m *Manifest) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	participants := map[string]bool{}
	for _, s := range m.Samples {
		participants[s.Participant] = true
	}

	w("# Datasheet for release %s\n\n", m.Release)
	w("Built %s by the Steward registry %s for **%s** use of %s data.\n\n",
		m.BuiltAt.UTC().Format(time.RFC3339), m.Origin, m.Purpose, strings.Join(m.Modalities, ", "))

	w("## Composition\n\n")
	w("%d samples from %d participants.\n\n", len(m.Samples), len(participants))
	table(&b, "Modality", count(m.Samples, func(s Sample) string { return s.Modality }))
	table(&b, "Format", count(m.Samples, func(s Sample) string { return s.Format }))
	table(&b, "Sex", count(m.Samples, func(s Sample) string { return s.Demographics.Sex }))
	table(&b, "Age band", count(m.Samples, func(s Sample) string { return s.Demographics.AgeBand }))
	table(&b, "Condition", count(m.Samples, func(s Sample) string { return s.Demographics.Condition }))
	table(&b, "Assistive device", count(m.Samples, func(s Sample) string { return s.Demographics.AssistiveDevice }))

	w("## Collection process\n\n")
	table(&b, "Protocol", count(m.Samples, func(s Sample) string { return s.Protocol }))
	table(&b, "Collector", count(m.Samples, func(s Sample) string { return s.CollectorID }))
	table(&b, "Device model", count(m.Samples, func(s Sample) string { return s.DeviceModel }))
	table(&b, "Sampling rate (Hz)", count(m.Samples, func(s Sample) string { return fmt.Sprint(s.SamplingRate) }))
	from, to, unknown := captureRange(m.Samples)
	if from != nil {
		w("Captured between %s and %s.", from.Format("2006-01-02"), to.Format("2006-01-02"))
	}
	if unknown > 0 {
		w(" The capture time of %d samples is not recorded by their source.", unknown)
	}
	w("\n\n")

	w("## Consent\n\n")
	w("Every sample is included because the consent in force for its participant at build time permits the %s tier for its modality. ", m.Tier)
	w("The bundle carries each participant's consent history and the proof that it is in the registry's log, so the decision can be replayed offline.\n\n")
	w("Of %d samples considered, %d were included and %d left out.\n\n", m.Selection.Considered, len(m.Samples), m.Selection.Considered-len(m.Samples))
	reasons := make([]string, 0, len(m.Selection.Excluded))
	for r := range m.Selection.Excluded {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		w("| Reason left out | Samples |\n| --- | ---: |\n")
		for _, r := range reasons {
			w("| %s | %d |\n", r, m.Selection.Excluded[r])
		}
		w("\n")
	}

	w("## Sources and attribution\n\n")
	for _, a := range m.Attribution {
		w("- %s: %d samples", a.Dataset, a.Samples)
		if a.Licence != "" {
			w(", licence %s", a.Licence)
		}
		if a.Citation != "" {
			w(". Cite: %s", a.Citation)
		}
		w("\n")
	}
	w("\n## Known limitations\n\n")
	lim := limitations(m)
	if len(lim) == 0 {
		w("None recorded.\n")
	}
	for _, l := range lim {
		w("- %s\n", l)
	}
	return []byte(b.String())
}

func count(samples []Sample, key func(Sample) string) map[string]int {
	out := map[string]int{}
	for _, s := range samples {
		k := key(s)
		if k == "" {
			k = "unknown"
		}
		out[k]++
	}
	return out
}

// table writes a two-column count table, largest group first, with
// unknown always shown as a group of its own.
func table(b *strings.Builder, title string, counts map[string]int) {
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
	fmt.Fprintf(b, "| %s | Samples |\n| --- | ---: |\n", title)
	for _, k := range keys {
		fmt.Fprintf(b, "| %s | %d |\n", k, counts[k])
	}
	b.WriteString("\n")
}

func captureRange(samples []Sample) (from, to *time.Time, unknown int) {
	for _, s := range samples {
		if s.CapturedAt == nil {
			unknown++
			continue
		}
		t := s.CapturedAt.UTC()
		if from == nil || t.Before(*from) {
			from = &t
		}
		if to == nil || t.After(*to) {
			to = &t
		}
	}
	return from, to, unknown
}

func limitations(m *Manifest) []string {
	var out []string
	unknown := func(field string, key func(Sample) string) {
		n := 0
		for _, s := range m.Samples {
			if v := key(s); v == "" || v == "unknown" {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s is unknown for %d of %d samples.", field, n, len(m.Samples)))
		}
	}
	unknown("Sex", func(s Sample) string { return s.Demographics.Sex })
	unknown("Age", func(s Sample) string { return s.Demographics.AgeBand })
	unknown("Condition", func(s Sample) string { return s.Demographics.Condition })
	if _, _, n := captureRange(m.Samples); n > 0 {
		out = append(out, fmt.Sprintf("Capture time is unknown for %d samples.", n))
	}
	if len(m.Samples) < 30 {
		out = append(out, fmt.Sprintf("Only %d samples: too few for subgroup conclusions.", len(m.Samples)))
	}
	return out
}
