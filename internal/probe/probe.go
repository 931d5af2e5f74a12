// Package probe measures what a recording's content says about itself
// (sampling rate, channels, length) while the content streams past, so that
// declared metadata can be cross-checked without reading a file twice or
// holding it in memory.
package probe

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Measured is what a probe read from the content. Zero values mean the
// format does not say.
type Measured struct {
	SamplingRate float64
	Channels     int
	Frames       int64 // samples per channel
	Duration     float64
	// RateFromHeader is set when the format's header states the sampling
	// rate, which a declaration must then match exactly; a rate estimated
	// from a time column may be off by rounding.
	RateFromHeader bool
}

// Prober consumes content through Write and reports on Finish. Write never
// fails, so a prober can sit beside the writers of a stream; Finish returns
// the first problem found.
type Prober interface {
	io.Writer
	Finish() (Measured, error)
}

// Options tell a probe what the declaration says about the layout.
type Options struct {
	// TimeUnit is the unit of a tabular file's first column, s or ms, or
	// empty when there is no time column.
	TimeUnit string
}

// For returns the prober of a format, or nil when Steward cannot read it.
func For(format string, opts Options) Prober {
	switch format {
	case "wav":
		return &wavProber{}
	case "tsv":
		return newTabular('\t', opts)
	case "csv":
		return newTabular(',', opts)
	case "txt":
		return newTabular(0, opts)
	case "wfdb":
		return newWFDBProber()
	}
	return nil
}

// Mismatch is a declared value that the content contradicts.
type Mismatch struct {
	Field    string
	Declared string
	Measured string
}

func (m Mismatch) Error() string {
	return fmt.Sprintf("field %s: declared %s but the file has %s", m.Field, m.Declared, m.Measured)
}

// rateTolerance is how far a sampling rate estimated from a time column may
// be from the declared one, relative: clocks and rounded time columns drift
// by well under 1 %.
const rateTolerance = 0.01

// Compare checks declared values against measured ones and returns the
// mismatches. A zero measured value is not checked.
func Compare(samplingRate float64, channels int, m Measured) []Mismatch {
	var out []Mismatch
	tolerance := rateTolerance * samplingRate
	if m.RateFromHeader {
		tolerance = 1e-9 * samplingRate // the header's value, up to its decimal notation
	}
	if m.SamplingRate > 0 && math.Abs(m.SamplingRate-samplingRate) > tolerance {
		out = append(out, Mismatch{Field: "samplingRate", Declared: formatHz(samplingRate), Measured: formatHz(m.SamplingRate)})
	}
	if channels > 0 && m.Channels > 0 && channels != m.Channels {
		out = append(out, Mismatch{Field: "channels", Declared: fmt.Sprint(channels), Measured: fmt.Sprint(m.Channels)})
	}
	return out
}

func formatHz(v float64) string {
	s := fmt.Sprintf("%.4f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " Hz"
}
