package wfdb

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A record archive is how Steward stores a WFDB record as one sample: an
// uncompressed POSIX ustar archive whose first member is the .hea header,
// followed by the signal files in header order and then any extra files of
// the record (such as the gaitndd .ts interval files). Every member has mode
// 0644, owner 0 and modification time 0, so one record always gives the same
// bytes and the same digest.

// RecordFiles returns the files of the record whose header is at headerPath:
// the header, then each distinct signal file.
func RecordFiles(headerPath string) (Header, []string, error) {
	raw, err := os.ReadFile(headerPath)
	if err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(bytes.NewReader(raw), filepath.Base(headerPath))
	if err != nil {
		return h, nil, err
	}
	files := []string{filepath.Base(headerPath)}
	seen := map[string]bool{}
	for _, s := range h.Signals {
		if s.File == "" || s.File == "-" || seen[s.File] {
			continue
		}
		if filepath.Base(s.File) != s.File {
			return h, nil, fmt.Errorf("%s line %d: signal file %q must be in the header's folder", filepath.Base(headerPath), s.Line, s.File)
		}
		seen[s.File] = true
		files = append(files, s.File)
	}
	return h, files, nil
}

// WriteArchive writes the record archive of the given files, all in dir, in
// the order given, to w.
func WriteArchive(w io.Writer, dir string, files []string) error {
	tw := tar.NewWriter(w)
	for _, name := range files {
		if err := addMember(tw, dir, name); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addMember(tw *tar.Writer, dir, name string) error {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     st.Size(),
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if n != st.Size() {
		return fmt.Errorf("archive %s: file changed size while being read", name)
	}
	return nil
}
