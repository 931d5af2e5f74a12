package probe

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/steward-rehab/steward/internal/wfdb"
)

// wfdbProber reads a WFDB record archive (see package wfdb) through a pipe:
// the archive is parsed in a goroutine as the bytes arrive.
type wfdbProber struct {
	pw   *io.PipeWriter
	done chan struct{}
	m    Measured
	err  error
}

func newWFDBProber() *wfdbProber {
	pr, pw := io.Pipe()
	p := &wfdbProber{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.m, p.err = readRecordArchive(pr)
		// Drain whatever follows so the writer never blocks.
		_, _ = io.Copy(io.Discard, pr)
	}()
	return p
}

func (p *wfdbProber) Write(b []byte) (int, error) {
	_, _ = p.pw.Write(b)
	return len(b), nil
}

func (p *wfdbProber) Finish() (Measured, error) {
	p.pw.Close()
	<-p.done
	return p.m, p.err
}

func readRecordArchive(r io.Reader) (Measured, error) {
	tr := tar.NewReader(r)
	first, err := tr.Next()
	if err != nil {
		return Measured{}, fmt.Errorf("not a WFDB record archive: %w", err)
	}
	if path.Ext(first.Name) != ".hea" {
		return Measured{}, fmt.Errorf("WFDB record archive must start with the .hea header, found %s", first.Name)
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, tr, 1<<20); err != nil && !errors.Is(err, io.EOF) {
		return Measured{}, err
	}
	h, err := wfdb.ParseHeader(&buf, first.Name)
	if err != nil {
		return Measured{}, err
	}
	byFile := map[string][]wfdb.Signal{}
	for _, s := range h.Signals {
		byFile[s.File] = append(byFile[s.File], s)
	}
	seen := map[string]bool{}
	for {
		member, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Measured{}, fmt.Errorf("WFDB record archive: %w", err)
		}
		sigs, ok := byFile[member.Name]
		if !ok {
			continue // extra files of the record, such as .ts intervals
		}
		seen[member.Name] = true
		if err := checkSignalFile(tr, member, h, sigs); err != nil {
			return Measured{}, err
		}
	}
	for file := range byFile {
		if !seen[file] {
			return Measured{}, fmt.Errorf("%s: signal file %s named by the header is missing", first.Name, file)
		}
	}
	m := Measured{SamplingRate: h.Frequency, RateFromHeader: true, Channels: len(h.Signals), Frames: h.Samples}
	m.Duration = float64(h.Samples) / h.Frequency
	return m, nil
}

// checkSignalFile decodes one signal file and compares it with the header.
// Files holding several interleaved signals are only checked for size.
func checkSignalFile(r io.Reader, member *tar.Header, h wfdb.Header, sigs []wfdb.Signal) error {
	if member.Size == 0 {
		return fmt.Errorf("signal file %s is empty", member.Name)
	}
	if len(sigs) != 1 {
		return nil
	}
	s := sigs[0]
	dec, err := wfdb.NewDecoder(s.Format)
	if err != nil {
		return fmt.Errorf("%s: %w", member.Name, err)
	}
	if _, err := io.Copy(dec, r); err != nil {
		return err
	}
	st, err := dec.Finish()
	if err != nil {
		return fmt.Errorf("%s: %w", member.Name, err)
	}
	if h.Samples > 0 && st.Samples != h.Samples {
		return Mismatch{Field: member.Name + " samples", Declared: fmt.Sprint(h.Samples), Measured: fmt.Sprint(st.Samples)}
	}
	if s.Checksum != nil && st.Checksum != *s.Checksum {
		return Mismatch{Field: member.Name + " checksum", Declared: fmt.Sprint(*s.Checksum), Measured: fmt.Sprint(st.Checksum)}
	}
	if s.InitialValue != nil && !st.InitialMatches(s.Format, *s.InitialValue) {
		return Mismatch{Field: member.Name + " initial value", Declared: fmt.Sprint(*s.InitialValue), Measured: fmt.Sprint(st.First)}
	}
	return nil
}
