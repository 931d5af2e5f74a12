package blobstore

import (
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Large recordings in a folder store are written with direct I/O
// (O_DIRECT): whole aligned buffers go from the process to the device
// without passing through the page cache. On the virtual disk Steward was
// measured on, buffered writes followed by a flush reached 0.4 to 0.6 GB/s,
// direct writes of 1 MiB about 1.0 to 1.9 GB/s and of 4 MiB about 2 GB/s
// (docs/benchmarks.md). Two 4 MiB buffers per recording take turns, so a
// recording streams in about as fast as it can be hashed. Files smaller
// than one buffer never use direct I/O.

const (
	// directAlign is the alignment of direct I/O buffers, offsets and
	// lengths on Linux block devices.
	directAlign = 4096
	// directBufferSize is how much is gathered before each direct write.
	directBufferSize = 4 << 20
)

// directFile writes one file through two aligned buffers: while one is
// written to the device, the caller fills the other, so encryption and the
// device's write time overlap.
type directFile struct {
	f       *os.File
	buf     []byte // aligned, capacity directBufferSize, being filled
	spare   []byte // the other buffer, in use by the write in flight, if any
	pending chan error
	enabled bool // O_DIRECT is set on f
	wrote   bool // a direct write happened, so finish must fsync
}

// newDirectFile prepares direct writes to f, or returns nil when f is nil.
// O_DIRECT is set at the first full buffer, so small files are never
// affected.
func newDirectFile(f *os.File) *directFile {
	if f == nil {
		return nil
	}
	return &directFile{f: f, buf: alignedBuffer(directBufferSize)[:0]}
}

// alignedBuffer returns n bytes starting at a directAlign boundary.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1))
	if off != 0 {
		off = directAlign - off
	}
	return b[off : off+n]
}

// write gathers p and hands every full buffer to w, which writes it to the
// file unchanged, in the background.
func (d *directFile) write(w io.Writer, p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := copy(d.buf[len(d.buf):cap(d.buf)], p)
		d.buf = d.buf[:len(d.buf)+n]
		p = p[n:]
		if len(d.buf) == cap(d.buf) {
			if err := d.flushAsync(w); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// flushAsync waits for the write in flight, starts writing the full buffer
// and continues in the other one.
func (d *directFile) flushAsync(w io.Writer) error {
	if err := d.wait(); err != nil {
		return err
	}
	d.startDirect()
	full := d.buf
	d.pending = make(chan error, 1)
	go func(done chan<- error) {
		_, err := w.Write(full)
		done <- err
	}(d.pending)
	d.wrote = true
	if d.spare == nil {
		d.spare = alignedBuffer(directBufferSize)
	}
	d.buf, d.spare = d.spare[:0], full
	return nil
}

// wait returns the result of the write in flight, if any. After it returns,
// no goroutine uses the file or the buffers.
func (d *directFile) wait() error {
	if d.pending == nil {
		return nil
	}
	err := <-d.pending
	d.pending = nil
	return err
}

// startDirect switches direct I/O on before the first write; a file system
// that refuses it gets ordinary writes.
func (d *directFile) startDirect() {
	if !d.enabled && !d.wrote {
		d.enabled = setDirect(d.f, true) == nil
	}
}

// finish writes what is left: whole blocks directly, the tail with direct
// I/O switched off, since it is not a multiple of the block size. A file
// written directly is then flushed with fdatasync, so it is durable before
// it is renamed into place.
func (d *directFile) finish(w io.Writer) error {
	if err := d.wait(); err != nil {
		return err
	}
	whole := len(d.buf) / directAlign * directAlign
	if d.wrote && whole > 0 {
		if _, err := w.Write(d.buf[:whole]); err != nil {
			return err
		}
		d.buf = d.buf[whole:]
	}
	if d.enabled {
		if err := setDirect(d.f, false); err != nil {
			return err
		}
		d.enabled = false
	}
	if len(d.buf) > 0 {
		if _, err := w.Write(d.buf); err != nil {
			return err
		}
	}
	if d.wrote {
		return unix.Fdatasync(int(d.f.Fd()))
	}
	return nil
}

func setDirect(f *os.File, on bool) error {
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
	return err
}
