package release

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// Datasheet renders datasheet.md from what the manifest holds: the header,
// the statistics of its samples and the selection and attribution of its
// trailer, plus the end date of the licence. Anyone holding the bundle can
// recompute every number in it.
//
// Its sections answer the questions of "Datasheets for Datasets" (Gebru et
// al., Communications of the ACM 64(12), 2021): motivation, composition,
// collection process, preprocessing and labelling, uses, distribution and
// maintenance.
func Datasheet(h Header, st *Stats, t Trailer, terms Terms) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	purpose, err := consent.LookupPurpose(h.Purpose)
	if err != nil {
		purpose = consent.Purpose{Code: h.Purpose, Label: h.Purpose, Tier: h.Tier}
	}

	w("# Datasheet for release %s\n\n", escapeMarkdown(h.Release))
	w("Built %s by the Steward registry %s for **%s** use of %s data. Version %s.\n\n",
		h.BuiltAt.UTC().Format(time.RFC3339), escapeMarkdown(h.Origin), escapeMarkdown(h.Purpose),
		strings.Join(h.Modalities, ", "), escapeMarkdown(t.Version))

	w("## Motivation\n\n")
	w("This dataset was assembled for %s (`%s`): %s", strings.ToLower(purpose.Label), purpose.Code, purpose.Description)
	if len(purpose.DUO) > 0 {
		w(" Its GA4GH Data Use Ontology codes are %s.", strings.Join(duoNames(purpose.DUO), ", "))
	}
	w("\n\n")
	if h.Licensee != "" {
		w("The registry %s built it for the licensee %s.", escapeMarkdown(h.Origin), escapeMarkdown(h.Licensee))
	} else {
		w("The registry %s built it as an open offer, for no licensee in particular.", escapeMarkdown(h.Origin))
	}
	if h.Replaces != "" {
		w(" It replaces release %s of the same selection.", escapeMarkdown(h.Replaces))
	}
	w("\n\n")

	w("## Composition\n\n")
	w("%d samples from %d participants. Each sample is one recording of one participant. ", st.Samples, st.Participants())
	w("A participant can have several samples, so keep all samples of a participant in the same split.\n\n")
	modalityTable(&b, st)
	w("Every breakdown below counts samples. A value that was not recorded is counted as unknown, never dropped, so each table sums to the number of samples.\n\n")
	for _, dim := range DemographicDimensions {
		subgroupTable(&b, st, dim)
	}
	table(&b, ByFormat, st.Counts[ByFormat])
	w("The bundle carries no clinical labels or scores. ")
	w("Participants appear only under pseudonyms, and the bundle holds health data: see the sensitive information below.\n\n")

	w("## Collection process\n\n")
	w("%s\n\n", collectionText(st, escapeMarkdown))
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
	w("Every sample is included because the consent in force for its participant at build time permits the %s tier for its modality. ", h.Tier)
	w("The bundle carries each participant's consent history and the proof that it is in the registry's log, so the decision can be replayed offline.\n\n")
	w("Of %d samples considered, %d were included and %d left out.\n\n", t.Selection.Considered, st.Samples, t.Selection.Considered-st.Samples)
	if len(t.Selection.Excluded) > 0 {
		w("| Reason left out | Samples |\n| --- | ---: |\n")
		for _, r := range sortedKeys(t.Selection.Excluded) {
			w("| %s | %d |\n", escapeMarkdown(r), t.Selection.Excluded[r])
		}
		w("\n")
	}

	w("## Preprocessing, cleaning and labelling\n\n")
	list(&b, preprocessing())
	w("No labels were added for this release.\n\n")

	w("## Uses\n\n")
	list(&b, useCases(h, t, purpose))
	w("Uses to avoid:\n\n")
	avoid := []string{"Any use for a purpose other than " + escapeMarkdown(h.Purpose) + ", or after the licence ends."}
	for _, u := range excludedUses(t.ExcludedPurposes) {
		avoid = append(avoid, strings.ToUpper(u[:1])+u[1:]+".")
	}
	list(&b, append(avoid,
		"Re-identifying or attempting to contact any participant.",
		"Redistributing the raw recordings.",
		"Conclusions about a subgroup too small to support them: see the known limitations.",
	))

	w("## Distribution and licence\n\n")
	w("The terms are in licence.json, for people, and licence.jsonld, as ODRL 2.2 policies. ")
	w("Use is permitted until %s. ", terms.EndDate(h.BuiltAt).Format(time.RFC3339))
	if h.Compensation != nil {
		w("The licensee must attribute the sources below, compensate the registry per use, delete the samples named in any revocation notice, and apply the same terms to anything derived from the release.\n\n")
	} else {
		w("The licensee must attribute the sources below, delete the samples named in any revocation notice, and apply the same terms to anything derived from the release. ")
		w("The registry had no compensation policy when the release was built, so the licence states no payment.\n\n")
	}
	w("Anyone holding the bundle and the registry's public key verifies it offline with `steward verify BUNDLE --key log.pub`. ")
	w("metadata.json describes the release in Croissant 1.1 with its Responsible AI properties, and attestation.dsse.json is the registry's signed in-toto statement of every file in the bundle.\n\n")
	w("### Personal and sensitive information\n\n")
	list(&b, sensitiveInformation(h))
	w("### Sources and attribution\n\n")
	for _, a := range t.Attribution {
		w("- %s: %d samples", escapeMarkdown(a.Dataset), a.Samples)
		if a.Licence != "" {
			w(", licence %s", escapeMarkdown(a.Licence))
		}
		if a.Citation != "" {
			w(". Cite: %s", escapeMarkdown(a.Citation))
		}
		w("\n")
	}
	if len(t.Attribution) == 0 {
		w("No source to attribute.\n")
	}
	w("\n")

	w("## Maintenance\n\n")
	list(&b, maintenancePlan(h, t, escapeMarkdown))

	w("## Known limitations\n\n")
	list(&b, nonEmpty(append(limitations(st), smallGroups(st, escapeMarkdown)...), "None recorded."))
	w("Distribution of each demographic attribute:\n\n")
	var spread []string
	for _, dim := range DemographicDimensions {
		spread = append(spread, fmt.Sprintf("%s: %s, of %d samples.", dim, formatCounts(st.Counts[dim], escapeMarkdown), st.Samples))
	}
	list(&b, spread)
	return []byte(b.String())
}

func duoNames(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		if t, err := consent.LookupDUO(id); err == nil {
			out[i] = fmt.Sprintf("%s (%s, %s)", id, t.Shorthand, t.Label)
		}
	}
	return out
}

// list writes a bullet list of lines whose values are already escaped.
func list(b *strings.Builder, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
	b.WriteString("\n")
}

// escapeMarkdown keeps a value from a source or a data steward from being
// read as Markdown or HTML markup: table pipes, emphasis, code, links and
// tags.
func escapeMarkdown(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\|*_`[]<>#!&~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
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
	fmt.Fprintf(b, "| %s | Samples |\n| --- | ---: |\n", title)
	for _, k := range sortedByCount(counts) {
		fmt.Fprintf(b, "| %s | %d |\n", escapeMarkdown(k), counts[k])
	}
	b.WriteString("\n")
}

// modalityTable writes the samples and participants of each modality.
func modalityTable(b *strings.Builder, st *Stats) {
	b.WriteString("| Modality | Samples | Participants |\n| --- | ---: | ---: |\n")
	for _, m := range st.Modalities() {
		fmt.Fprintf(b, "| %s | %d | %d |\n", escapeMarkdown(m), st.Counts[ByModality][m], st.ParticipantsIn(m))
	}
	b.WriteString("\n")
}

// subgroupTable writes the samples of each value of a demographic
// dimension, one column per modality and a total.
func subgroupTable(b *strings.Builder, st *Stats, dim string) {
	modalities := st.Modalities()
	b.WriteString("| " + dim)
	for _, m := range modalities {
		b.WriteString(" | " + escapeMarkdown(m))
	}
	b.WriteString(" | Samples |\n| ---" + strings.Repeat(" | ---:", len(modalities)+1) + " |\n")
	for _, value := range sortedByCount(st.Counts[dim]) {
		b.WriteString("| " + escapeMarkdown(value))
		for _, m := range modalities {
			fmt.Fprintf(b, " | %d", st.ByModality[m][dim][value])
		}
		fmt.Fprintf(b, " | %d |\n", st.Counts[dim][value])
	}
	b.WriteString("\n")
}

func limitations(st *Stats) []string {
	var out []string
	for _, dim := range DemographicDimensions {
		if n := st.Counts[dim]["unknown"]; n > 0 {
			out = append(out, fmt.Sprintf("%s is unknown for %d of %d samples.", dim, n, st.Samples))
		}
	}
	if st.CaptureUnknown > 0 {
		out = append(out, fmt.Sprintf("Capture time is unknown for %d of %d samples.", st.CaptureUnknown, st.Samples))
	}
	if st.Samples < 30 {
		out = append(out, fmt.Sprintf("Only %d samples: too few for subgroup conclusions.", st.Samples))
	}
	return out
}
