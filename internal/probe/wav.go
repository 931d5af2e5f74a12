package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// wavProber reads a RIFF WAVE header, counts the audio bytes that follow,
// and reads the chunks after the audio.
type wavProber struct {
	head     []byte // bytes kept until the data chunk starts
	inData   bool
	riffSize uint32 // declared size of the RIFF chunk
	dataSize uint32 // declared size of the data chunk
	dataAt   int64  // offset of the audio in the file
	got      int64  // bytes seen since the audio started
	tail     []byte // bytes after a declared data chunk, kept up to maxWAVHeader
	rate     uint32
	byteRate uint32
	channels uint16
	align    uint16
	bits     uint16
	sawFmt   bool
	err      error
}

// maxWAVHeader bounds how much is buffered looking for the data chunk, and
// how much of what follows it is read.
const maxWAVHeader = 1 << 20

// WAVE format tags the probe accepts, from the RIFF specification and
// RFC 2361.
var wavFormats = map[uint16]string{1: "PCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0xFFFE: "extensible"}

// declared reports whether a size field holds a size: streaming writers
// that cannot seek back leave 0 or 0xFFFFFFFF.
func declared(size uint32) bool { return size != 0 && size != 0xFFFFFFFF }

func (p *wavProber) Write(b []byte) (int, error) {
	if p.err != nil {
		return len(b), nil
	}
	if p.inData {
		p.keepTail(b)
		p.got += int64(len(b))
		return len(b), nil
	}
	p.head = append(p.head, b...)
	p.parse()
	return len(b), nil
}

// keepTail keeps the bytes of b that lie after the declared data chunk.
func (p *wavProber) keepTail(b []byte) {
	if !declared(p.dataSize) || len(p.tail) >= maxWAVHeader {
		return
	}
	end := int64(p.dataSize) + int64(p.dataSize&1)
	if p.got+int64(len(b)) <= end {
		return
	}
	from := max(end-p.got, 0)
	rest := b[from:]
	if room := maxWAVHeader - len(p.tail); len(rest) > room {
		rest = rest[:room]
	}
	p.tail = append(p.tail, rest...)
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
	p.riffSize = binary.LittleEndian.Uint32(h[4:8])
	// Each call walks the buffer from its start again.
	p.sawFmt = false
	off := 12
	for off+8 <= len(h) {
		id := string(h[off : off+4])
		size := binary.LittleEndian.Uint32(h[off+4 : off+8])
		body := off + 8
		if id == "data" {
			if !p.sawFmt {
				p.err = errors.New("invalid WAV file: data chunk before the fmt chunk")
				return
			}
			p.inData = true
			p.dataSize = size
			p.dataAt = int64(body)
			rest := h[body:]
			p.head = nil
			p.keepTail(rest)
			p.got = int64(len(rest))
			return
		}
		end := body + int(size) + int(size&1) // chunks are padded to even sizes
		if end > len(h) {
			break
		}
		if id == "fmt " {
			if p.err = p.readFmt(h[body:body+int(size)], size); p.err != nil {
				return
			}
		}
		off = end
	}
	if len(h) > maxWAVHeader {
		p.err = fmt.Errorf("invalid WAV file: no data chunk in the first %d bytes", maxWAVHeader)
	}
}

// readFmt reads the fmt chunk and checks that its fields agree.
func (p *wavProber) readFmt(body []byte, size uint32) error {
	if p.sawFmt {
		return errors.New("invalid WAV file: two fmt chunks, so the format is ambiguous")
	}
	p.sawFmt = true
	if size < 16 {
		return fmt.Errorf("invalid WAV file: fmt chunk of %d bytes, want at least 16", size)
	}
	tag := binary.LittleEndian.Uint16(body)
	p.channels = binary.LittleEndian.Uint16(body[2:])
	p.rate = binary.LittleEndian.Uint32(body[4:])
	p.byteRate = binary.LittleEndian.Uint32(body[8:])
	p.align = binary.LittleEndian.Uint16(body[12:])
	p.bits = binary.LittleEndian.Uint16(body[14:])
	switch {
	case wavFormats[tag] == "":
		return fmt.Errorf("invalid WAV file: format tag %d is not PCM (1), IEEE float (3), A-law (6), mu-law (7) or extensible (65534)", tag)
	case p.channels == 0 || p.rate == 0 || p.align == 0:
		return errors.New("invalid WAV file: fmt chunk declares zero channels, rate or block size")
	case p.bits == 0 || p.bits%8 != 0:
		return fmt.Errorf("invalid WAV file: %d bits per sample; a sample container is a whole number of bytes", p.bits)
	case uint32(p.align) != uint32(p.channels)*uint32(p.bits/8):
		return fmt.Errorf("invalid WAV file: block size %d differs from %d channels of %d bits", p.align, p.channels, p.bits)
	case p.byteRate != p.rate*uint32(p.align):
		return fmt.Errorf("invalid WAV file: byte rate %d differs from %d Hz × %d-byte blocks", p.byteRate, p.rate, p.align)
	}
	return nil
}

func (p *wavProber) Finish() (Measured, error) {
	if p.err != nil {
		return Measured{}, p.err
	}
	if !p.inData {
		if !p.sawFmt {
			return Measured{}, errors.New("truncated WAV file: it ends before the fmt chunk")
		}
		return Measured{}, errors.New("truncated WAV file: it ends before the data chunk")
	}
	// Only a declared size larger than the file is an error.
	if declared(p.dataSize) && int64(p.dataSize) > p.got {
		return Measured{}, fmt.Errorf("truncated WAV file: the data chunk declares %d bytes but the file holds %d", p.dataSize, p.got)
	}
	audio := p.got
	if declared(p.dataSize) {
		audio = int64(p.dataSize)
		if err := p.checkTail(); err != nil {
			return Measured{}, err
		}
	}
	if declared(p.riffSize) && int64(p.riffSize)+8 < p.dataAt+audio {
		return Measured{}, fmt.Errorf("invalid WAV file: the RIFF chunk declares %d bytes but its chunks take %d", p.riffSize, p.dataAt+audio-8)
	}
	if audio%int64(p.align) != 0 {
		return Measured{}, fmt.Errorf("invalid WAV file: %d bytes of audio are not a whole number of %d-byte blocks, so the file ends mid-frame", audio, p.align)
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

// checkTail reads the chunks after the data chunk, such as LIST: a second
// data chunk would hold audio the header does not describe.
func (p *wavProber) checkTail() error {
	t := p.tail
	for off := 0; off+8 <= len(t); {
		if string(t[off:off+4]) == "data" {
			return errors.New("invalid WAV file: two data chunks, so the audio is ambiguous")
		}
		size := binary.LittleEndian.Uint32(t[off+4 : off+8])
		off += 8 + int(size) + int(size&1)
	}
	return nil
}
