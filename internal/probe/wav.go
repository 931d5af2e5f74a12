package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// wavProber reads a RIFF WAVE header and counts the audio bytes that follow.
type wavProber struct {
	head     []byte // bytes kept until the data chunk starts
	inData   bool
	dataSize uint32 // declared size of the data chunk
	got      int64  // data bytes seen
	rate     uint32
	channels uint16
	align    uint16
	err      error
}

// maxWAVHeader bounds how much is buffered looking for the data chunk.
const maxWAVHeader = 1 << 20

func (p *wavProber) Write(b []byte) (int, error) {
	if p.err != nil {
		return len(b), nil
	}
	if p.inData {
		p.got += int64(len(b))
		return len(b), nil
	}
	p.head = append(p.head, b...)
	p.parse()
	return len(b), nil
}

// parse walks the chunks kept so far; when it reaches the data chunk the
// rest of the buffer counts as audio.
func (p *wavProber) parse() {
	h := p.head
	if len(h) < 12 {
		return
	}
	if string(h[0:4]) != "RIFF" || string(h[8:12]) != "WAVE" {
		p.err = errors.New("not a WAV file: no RIFF/WAVE signature")
		return
	}
	off := 12
	for off+8 <= len(h) {
		id := string(h[off : off+4])
		size := binary.LittleEndian.Uint32(h[off+4 : off+8])
		body := off + 8
		if id == "data" {
			if p.align == 0 {
				p.err = errors.New("invalid WAV file: data chunk before the fmt chunk")
				return
			}
			p.inData = true
			p.dataSize = size
			p.got = int64(len(h) - body)
			p.head = nil
			return
		}
		end := body + int(size) + int(size&1) // chunks are padded to even sizes
		if end > len(h) {
			break
		}
		if id == "fmt " {
			if size < 16 {
				p.err = fmt.Errorf("invalid WAV file: fmt chunk of %d bytes, want at least 16", size)
				return
			}
			p.channels = binary.LittleEndian.Uint16(h[body+2:])
			p.rate = binary.LittleEndian.Uint32(h[body+4:])
			p.align = binary.LittleEndian.Uint16(h[body+12:])
			if p.channels == 0 || p.rate == 0 || p.align == 0 {
				p.err = errors.New("invalid WAV file: fmt chunk declares zero channels, rate or block size")
				return
			}
		}
		off = end
	}
	if len(h) > maxWAVHeader {
		p.err = fmt.Errorf("invalid WAV file: no data chunk in the first %d bytes", maxWAVHeader)
	}
}

func (p *wavProber) Finish() (Measured, error) {
	if p.err != nil {
		return Measured{}, p.err
	}
	if !p.inData {
		if p.align == 0 {
			return Measured{}, errors.New("truncated WAV file: it ends before the fmt chunk")
		}
		return Measured{}, errors.New("truncated WAV file: it ends before the data chunk")
	}
	// A streaming writer may leave the data size at 0 or 0xFFFFFFFF when it
	// cannot seek back; only a declared size larger than the file is an error.
	if p.dataSize != 0 && p.dataSize != 0xFFFFFFFF && int64(p.dataSize) > p.got {
		return Measured{}, fmt.Errorf("truncated WAV file: the data chunk declares %d bytes but the file holds %d", p.dataSize, p.got)
	}
	audio := p.got
	if p.dataSize != 0 && p.dataSize != 0xFFFFFFFF {
		audio = int64(p.dataSize)
	}
	frames := audio / int64(p.align)
	return Measured{
		SamplingRate:   float64(p.rate),
		RateFromHeader: true,
		Channels:       int(p.channels),
		Frames:         frames,
		Duration:       float64(frames) / float64(p.rate),
	}, nil
}
