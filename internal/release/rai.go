package release

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
)

// property is one dataset-level property of metadata.json.
type property struct {
	name  string
	value any
}

// raiProperties returns the Croissant RAI properties of a release. Every
// number in them comes from the statistics of the manifest's samples, the
// same ones the datasheet reports.
func raiProperties(h Header, st *Stats, t Trailer, p consent.Purpose) []property {
	props := []property{
		{"rai:dataCollection", collectionText(st, verbatim)},
		{"rai:dataCollectionType", []string{"Direct measurement"}},
		{"rai:dataCollectionRawData", "Each record is one recording as its collector captured it, in the format, sampling rate and device that the manifest states for it."},
		{"rai:dataCollectionMissingData", missingData(st)},
	}
	if st.CapturedFrom != nil {
		// An ISO 8601 interval, the form the RAI vocabulary gives for a
		// collection timeframe.
		props = append(props, property{"rai:dataCollectionTimeframe",
			st.CapturedFrom.Format(time.RFC3339) + "/" + st.CapturedTo.Format(time.RFC3339)})
	}
	return append(props,
		property{"rai:dataPreprocessingProtocol", preprocessing()},
		property{"rai:personalSensitiveInformation", sensitiveInformation(h)},
		property{"rai:dataBiases", biases(st, verbatim)},
		property{"rai:dataLimitations", nonEmpty(limitations(st), "None recorded.")},
		property{"rai:dataUseCases", useCases(h, t, p)},
		property{"rai:dataReleaseMaintenancePlan", maintenancePlan(h, t, verbatim)},
	)
}

func nonEmpty(lines []string, otherwise string) []string {
	if len(lines) == 0 {
		return []string{otherwise}
	}
	return lines
}

// verbatim leaves a value as it is, for documents that are not Markdown.
func verbatim(s string) string { return s }

// formatCounts lists the values of a breakdown with their counts, largest
// first, such as "walk (20), sustained-vowel (3)". esc quotes each value for
// the document it goes into.
func formatCounts(counts map[string]int, esc func(string) string) string {
	keys := sortedByCount(counts)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", esc(k), counts[k])
	}
	return strings.Join(parts, ", ")
}

// sortedByCount returns the keys of counts, largest count first, then by name.
func sortedByCount(counts map[string]int) []string {
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
	return keys
}

func collectionText(st *Stats, esc func(string) string) string {
	return fmt.Sprintf("Recordings were captured under the protocols %s, by the collectors %s, on the device models %s. "+
		"Each was registered in the Steward registry with its provenance, and its registration event is in the registry's log with a proof in the bundle.",
		formatCounts(st.Counts[ByProtocol], esc), formatCounts(st.Counts[ByCollector], esc), formatCounts(st.Counts[ByDeviceModel], esc))
}

// missingData lists what is unknown, in samples. Unknown values are kept
// as a group of their own in every breakdown, never dropped.
func missingData(st *Stats) []string {
	var out []string
	for _, dim := range DemographicDimensions {
		if n := st.Counts[dim]["unknown"]; n > 0 {
			out = append(out, fmt.Sprintf("%s is unknown for %d of %d samples.", dim, n, st.Samples))
		}
	}
	if st.CaptureUnknown > 0 {
		out = append(out, fmt.Sprintf("Capture time is unknown for %d of %d samples.", st.CaptureUnknown, st.Samples))
	}
	return nonEmpty(out, "No demographic attribute or capture time is missing.")
}

func preprocessing() []string {
	return []string{
		"Recordings are not altered: every data file is byte-identical to the registered recording, whose sha256 is in the manifest and in the registry's log.",
		"Samples are selected by replaying each participant's consent history at the build time. The manifest's selection counts the samples left out, by reason.",
		"Participant attributes are coarsened before release: age becomes a ten-year band, and a value that was not recorded becomes \"unknown\".",
	}
}

func sensitiveInformation(h Header) []string {
	out := []string{
		"Health data: every sample is a recording of a person's gait, balance, movement or voice, with their clinical condition.",
		"Participants appear only under pseudonyms. Names, contact details, source identifiers such as a source dataset's subject id, and consent forms are not in the bundle.",
		"Demographics per sample: sex, age band, condition and assistive device.",
	}
	if slices.Contains(h.Modalities, "voice") || slices.Contains(h.Modalities, "video") {
		out = append(out, "Voice and video recordings can identify a person by themselves. The licence prohibits re-identification.")
	}
	return append(out, "Absent: exact age or date of birth, location, ethnicity, language, clinical scores and labels.")
}

// biases describes how each demographic dimension is distributed and
// lists the subgroups too small for conclusions.
func biases(st *Stats, esc func(string) string) []string {
	var out []string
	for _, dim := range DemographicDimensions {
		out = append(out, fmt.Sprintf("%s: %s, of %d samples.", dim, formatCounts(st.Counts[dim], esc), st.Samples))
	}
	return append(out, smallGroups(st, esc)...)
}

// smallGroups names every known subgroup of a modality with fewer than
// SmallGroupSamples samples.
func smallGroups(st *Stats, esc func(string) string) []string {
	var out []string
	for _, m := range st.Modalities() {
		for _, dim := range DemographicDimensions {
			counts := st.ByModality[m][dim]
			for _, value := range sortedByCount(counts) {
				if value != "unknown" && counts[value] < SmallGroupSamples {
					out = append(out, fmt.Sprintf("Small group: %s %s %s has %d samples.", esc(m), strings.ToLower(dim), esc(value), counts[value]))
				}
			}
		}
	}
	return out
}

func useCases(h Header, t Trailer, p consent.Purpose) []string {
	out := []string{fmt.Sprintf("Only for %s (%s): %s", strings.ToLower(p.Label), p.Code, p.Description)}
	out = append(out, usesAllowed(h, t.ExcludedPurposes)...)
	avoid := "any other purpose"
	for _, code := range t.ExcludedPurposes {
		avoid += ", " + code + " (the consent of at least one sample does not permit it)"
	}
	return append(out, "Not for: "+avoid+", re-identifying or contacting participants, or redistributing the raw recordings.")
}

func maintenancePlan(h Header, t Trailer, esc func(string) string) []string {
	out := []string{
		fmt.Sprintf("This is version %s. A new release of the same purpose, modalities and licensee gets a new semantic version: a major step when samples were removed, a minor step when samples were only added, and a patch when the selection is unchanged.", esc(t.Version)),
		"When the consent behind a released sample is withdrawn, narrowed, expires or is invalidated, or its participant is erased, the registry issues a revocation notice that names the samples. Licensees must delete them, and retrain models when the notice says so. `steward release status BUNDLE` lists the notices issued since the build, and `steward release ack NOTICE` records that a licensee acted on one.",
		fmt.Sprintf("The registry keeps this release's manifest and documents: `steward release export %s --out DIR` writes the bundle again, with proofs against the newest checkpoint.", h.Release),
	}
	if h.Replaces != "" {
		out = append(out, fmt.Sprintf("This release replaces release %s.", esc(h.Replaces)))
	}
	return out
}
