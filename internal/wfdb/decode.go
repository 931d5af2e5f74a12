package wfdb

import (
	"fmt"
	"io"
)

// SignalStats summarises one signal file as it is decoded.
type SignalStats struct {
	Samples  int64
	First    int
	Checksum int // sum of all samples, modulo 2^16, as WFDB defines it
	Bytes    int64
}

// Decoder decodes a single-signal file incrementally. Feed it with Write.
type Decoder struct {
	format  int
	pending []byte
	stats   SignalStats
}

// NewDecoder returns a decoder for one signal of the given format.
func NewDecoder(format int) (*Decoder, error) {
	if _, err := BytesFor(format, 1); err != nil {
		return nil, err
	}
	return &Decoder{format: format}, nil
}

func (d *Decoder) emit(v int) {
	if d.stats.Samples == 0 {
		d.stats.First = v
	}
	d.stats.Samples++
	d.stats.Checksum += v
}

// Write decodes p.
func (d *Decoder) Write(p []byte) (int, error) {
	d.stats.Bytes += int64(len(p))
	buf := p
	if len(d.pending) > 0 {
		buf = append(d.pending, p...)
		d.pending = nil
	}
	var used int
	switch d.format {
	case 212:
		// Two 12-bit two's complement samples in three bytes: the first is
		// byte 0 plus the low nibble of byte 1; the second is byte 2 plus the
		// high nibble of byte 1.
		for used+3 <= len(buf) {
			b0, b1, b2 := int(buf[used]), int(buf[used+1]), int(buf[used+2])
			d.emit(sign12(b0 | (b1&0x0f)<<8))
			d.emit(sign12(b2 | (b1&0xf0)<<4))
			used += 3
		}
	case 16:
		for used+2 <= len(buf) {
			d.emit(int(int16(uint16(buf[used]) | uint16(buf[used+1])<<8)))
			used += 2
		}
	case 61:
		for used+2 <= len(buf) {
			d.emit(int(int16(uint16(buf[used])<<8 | uint16(buf[used+1]))))
			used += 2
		}
	case 80:
		for ; used < len(buf); used++ {
			d.emit(int(buf[used]) - 128)
		}
	}
	d.pending = append([]byte(nil), buf[used:]...)
	return len(p), nil
}

func sign12(v int) int {
	if v&0x800 != 0 {
		return v - 0x1000
	}
	return v
}

// Finish returns the statistics. A trailing half frame of format 212 (two
// bytes for one last sample) counts as that sample.
func (d *Decoder) Finish() (SignalStats, error) {
	if d.format == 212 && len(d.pending) == 2 {
		d.emit(sign12(int(d.pending[0]) | int(d.pending[1]&0x0f)<<8))
		d.pending = nil
	}
	if len(d.pending) != 0 {
		return d.stats, fmt.Errorf("signal data ends in the middle of a sample (%d stray bytes): the file is truncated", len(d.pending))
	}
	s := d.stats
	s.Checksum = int(int16(uint16(s.Checksum & 0xffff)))
	return s, nil
}

var _ io.Writer = (*Decoder)(nil)

// invalidSample is the value WFDB reports for a sample that the format
// marks as invalid, such as -2048 in format 212 or -32768 in format 16.
const invalidSample = -32768

// InitialMatches reports whether the decoded first sample equals the
// header's initial value, reading the format's invalid-sample code as WFDB
// does.
func (s SignalStats) InitialMatches(format, initial int) bool {
	first := s.First
	if format == 212 && first == -2048 {
		first = invalidSample
	}
	return first == initial
}
