package release

import (
	"fmt"
	"slices"
	"time"
)

// Dimensions the datasheet breaks the samples down by.
const (
	ByModality        = "Modality"
	ByFormat          = "Format"
	BySex             = "Sex"
	ByAgeBand         = "Age band"
	ByCondition       = "Condition"
	ByAssistiveDevice = "Assistive device"
	ByProtocol        = "Protocol"
	ByCollector       = "Collector"
	ByDeviceModel     = "Device model"
	BySamplingRate    = "Sampling rate (Hz)"
)

// DemographicDimensions are the subgroups the datasheet and metadata.json
// count within each modality.
var DemographicDimensions = []string{BySex, ByAgeBand, ByCondition, ByAssistiveDevice}

// Stats are the counts a datasheet reports, gathered one sample at a time.
// Missing values count as "unknown", never dropped, so every breakdown sums
// to the number of samples.
type Stats struct {
	Samples      int
	participants map[string]bool
	Counts       map[string]map[string]int
	// ByModality counts the samples of each modality by subgroup:
	// modality, then dimension, then value.
	ByModality map[string]map[string]map[string]int
	// participantsByModality holds the pseudonyms seen in each modality.
	participantsByModality map[string]map[string]bool
	CapturedFrom           *time.Time
	CapturedTo             *time.Time
	CaptureUnknown         int

	observers []func(Sample)
}

// NewStats returns empty statistics. Each observer is called with every
// sample added, after it is counted.
func NewStats(observers ...func(Sample)) *Stats {
	return &Stats{
		participants: map[string]bool{}, Counts: map[string]map[string]int{},
		ByModality: map[string]map[string]map[string]int{}, participantsByModality: map[string]map[string]bool{},
		observers: observers,
	}
}

// Add counts one sample.
func (st *Stats) Add(s Sample) {
	st.Samples++
	st.participants[s.Participant] = true
	values := map[string]string{
		ByModality: s.Modality, ByFormat: s.Format, BySex: s.Demographics.Sex, ByAgeBand: s.Demographics.AgeBand,
		ByCondition: s.Demographics.Condition, ByAssistiveDevice: s.Demographics.AssistiveDevice,
		ByProtocol: s.Protocol, ByCollector: s.CollectorID, ByDeviceModel: s.DeviceModel,
		BySamplingRate: fmt.Sprint(s.SamplingRate),
	}
	for dim, value := range values {
		if value == "" {
			value = "unknown"
		}
		countIn(st.Counts, dim, value)
	}

	modality := orUnknown(s.Modality)
	if st.ByModality[modality] == nil {
		st.ByModality[modality] = map[string]map[string]int{}
		st.participantsByModality[modality] = map[string]bool{}
	}
	st.participantsByModality[modality][s.Participant] = true
	for _, dim := range DemographicDimensions {
		countIn(st.ByModality[modality], dim, orUnknown(values[dim]))
	}

	if s.CapturedAt == nil {
		st.CaptureUnknown++
	} else {
		t := s.CapturedAt.UTC()
		if st.CapturedFrom == nil || t.Before(*st.CapturedFrom) {
			st.CapturedFrom = &t
		}
		if st.CapturedTo == nil || t.After(*st.CapturedTo) {
			st.CapturedTo = &t
		}
	}
	for _, observe := range st.observers {
		observe(s)
	}
}

func countIn(counts map[string]map[string]int, dim, value string) {
	if counts[dim] == nil {
		counts[dim] = map[string]int{}
	}
	counts[dim][value]++
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Participants returns the number of distinct participants counted.
func (st *Stats) Participants() int { return len(st.participants) }

// ParticipantsIn returns the number of distinct participants with samples
// of a modality.
func (st *Stats) ParticipantsIn(modality string) int { return len(st.participantsByModality[modality]) }

// Modalities returns the modalities counted, sorted.
func (st *Stats) Modalities() []string {
	out := make([]string, 0, len(st.ByModality))
	for m := range st.ByModality {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}
