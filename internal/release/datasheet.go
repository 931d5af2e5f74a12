package release

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Datasheet renders datasheet.md from what the manifest holds: the header,
// the statistics of its samples and the selection and attribution of its
// trailer. Anyone holding the bundle can recompute every number in it.
func Datasheet(h Header, st *Stats, t Trailer) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Datasheet for release %s\n\n", h.Release)
	w("Built %s by the Steward registry %s for **%s** use of %s data.\n\n",
		h.BuiltAt.UTC().Format(time.RFC3339), h.Origin, h.Purpose, strings.Join(h.Modalities, ", "))

	w("## Composition\n\n")
	w("%d samples from %d participants.\n\n", st.Samples, st.Participants())
	for _, dim := range []string{ByModality, ByFormat, BySex, ByAgeBand, ByCondition, ByAssistiveDevice} {
		table(&b, dim, st.Counts[dim])
	}

	w("## Collection process\n\n")
	for _, dim := range []string{ByProtocol, ByCollector, ByDeviceModel, BySamplingRate} {
		table(&b, dim, st.Counts[dim])
	}
	if st.CapturedFrom != nil {
		w("Captured between %s and %s.", st.CapturedFrom.Format("2006-01-02"), st.CapturedTo.Format("2006-01-02"))
	}
	if st.CaptureUnknown > 0 {
		w(" The capture time of %d samples is not recorded by their source.", st.CaptureUnknown)
	}
	w("\n\n")

	w("## Consent\n\n")
	w("Every sample is included because the consent in force for its participant at build time permits the %s tier for its modality. ", h.Tier)
	w("The bundle carries each participant's consent history and the proof that it is in the registry's log, so the decision can be replayed offline.\n\n")
	w("Of %d samples considered, %d were included and %d left out.\n\n", t.Selection.Considered, st.Samples, t.Selection.Considered-st.Samples)
	if len(t.Selection.Excluded) > 0 {
		w("| Reason left out | Samples |\n| --- | ---: |\n")
		for _, r := range sortedKeys(t.Selection.Excluded) {
			w("| %s | %d |\n", r, t.Selection.Excluded[r])
		}
		w("\n")
	}

	w("## Sources and attribution\n\n")
	for _, a := range t.Attribution {
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
	lim := limitations(st)
	if len(lim) == 0 {
		w("None recorded.\n")
	}
	for _, l := range lim {
		w("- %s\n", l)
	}
	return []byte(b.String())
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// table writes a two-column count table, largest group first.
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

func limitations(st *Stats) []string {
	var out []string
	for _, dim := range []string{BySex, ByAgeBand, ByCondition} {
		if n := st.Counts[dim]["unknown"]; n > 0 {
			out = append(out, fmt.Sprintf("%s is unknown for %d of %d samples.", dim, n, st.Samples))
		}
	}
	if st.CaptureUnknown > 0 {
		out = append(out, fmt.Sprintf("Capture time is unknown for %d samples.", st.CaptureUnknown))
	}
	if st.Samples < 30 {
		out = append(out, fmt.Sprintf("Only %d samples: too few for subgroup conclusions.", st.Samples))
	}
	return out
}
