package release

import (
	"fmt"
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

// Stats are the counts a datasheet reports, gathered one sample at a time.
// Missing values count as "unknown", never dropped, so every breakdown sums
// to the number of samples.
type Stats struct {
	Samples        int
	participants   map[string]bool
	Counts         map[string]map[string]int
	CapturedFrom   *time.Time
	CapturedTo     *time.Time
	CaptureUnknown int
}

// NewStats returns empty statistics.
func NewStats() *Stats {
	return &Stats{participants: map[string]bool{}, Counts: map[string]map[string]int{}}
}

// Add counts one sample.
func (st *Stats) Add(s Sample) {
	st.Samples++
	st.participants[s.Participant] = true
	for dim, value := range map[string]string{
		ByModality: s.Modality, ByFormat: s.Format, BySex: s.Demographics.Sex, ByAgeBand: s.Demographics.AgeBand,
		ByCondition: s.Demographics.Condition, ByAssistiveDevice: s.Demographics.AssistiveDevice,
		ByProtocol: s.Protocol, ByCollector: s.CollectorID, ByDeviceModel: s.DeviceModel,
		BySamplingRate: fmt.Sprint(s.SamplingRate),
	} {
		if value == "" {
			value = "unknown"
		}
		if st.Counts[dim] == nil {
			st.Counts[dim] = map[string]int{}
		}
		st.Counts[dim][value]++
	}
	if s.CapturedAt == nil {
		st.CaptureUnknown++
		return
	}
	t := s.CapturedAt.UTC()
	if st.CapturedFrom == nil || t.Before(*st.CapturedFrom) {
		st.CapturedFrom = &t
	}
	if st.CapturedTo == nil || t.After(*st.CapturedTo) {
		st.CapturedTo = &t
	}
}

// Participants returns the number of distinct participants counted.
func (st *Stats) Participants() int { return len(st.participants) }
