package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// publisherSumsFile is the name of PhysioNet's list of the SHA-256 of every
// file of a dataset.
const publisherSumsFile = "SHA256SUMS.txt"

// Outcomes of checking a file against the publisher's checksum list, as
// stored in a sample's Source under "publisherChecksum".
const (
	checksumMatch          = "match"
	checksumMatchAfterCRLF = "match-after-crlf" // the copy had its CRLF line endings turned into LF
	checksumMismatch       = "mismatch"
	checksumNotListed      = "not-listed"
)

// publisherSums is a publisher's SHA256SUMS.txt: file name to hex digest.
type publisherSums struct {
	file    string
	digests map[string]string
}

// readPublisherSums reads dir/name in the format of sha256sum: a hex digest,
// white space, an optional * (binary mode), and the file name. A missing list
// is noted and leaves every file not-listed.
func readPublisherSums(dir, name string, rep *Report) (publisherSums, error) {
	sums := publisherSums{file: name, digests: map[string]string{}}
	lines, err := readTextLines(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		rep.note(name, "not found; the publisher's checksums cannot be checked, so every file is recorded as %s", checksumNotListed)
		return sums, nil
	}
	if err != nil {
		return sums, err
	}
	var malformed []int
	for i, line := range lines {
		digest, file, ok := strings.Cut(strings.TrimSpace(line), " ")
		file = strings.TrimPrefix(strings.TrimSpace(file), "*")
		if !ok || len(digest) != sha256.Size*2 || file == "" {
			if strings.TrimSpace(line) != "" {
				malformed = append(malformed, i+1)
			}
			continue
		}
		sums.digests[file] = strings.ToLower(digest)
	}
	if len(malformed) > 0 {
		rep.note(linesWhere(name, malformed), "not a digest and a file name; ignored")
	}
	return sums, nil
}

// check compares the file dir/name with the publisher's digest of name.
func (s publisherSums) check(dir, name string) (string, error) {
	return s.checkFile(filepath.Join(dir, name), name)
}

// checkFile compares the file at path with the publisher's digest listed
// under name, first as it is and then with every bare LF turned into CRLF.
func (s publisherSums) checkFile(path, name string) (string, error) {
	want, listed := s.digests[name]
	if !listed {
		return checksumNotListed, nil
	}
	raw, crlf, err := fileDigests(path)
	if err != nil {
		return "", err
	}
	switch want {
	case raw:
		return checksumMatch, nil
	case crlf:
		return checksumMatchAfterCRLF, nil
	}
	return checksumMismatch, nil
}

// fileDigests returns the SHA-256 of a file and of the file with its bare LF
// line endings turned into CRLF, reading it once.
func fileDigests(path string) (raw, crlf string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	rawHash := sha256.New()
	crlfHash := &crlfWriter{h: sha256.New()}
	if _, err := io.Copy(io.MultiWriter(rawHash, crlfHash), f); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(rawHash.Sum(nil)), hex.EncodeToString(crlfHash.h.Sum(nil)), nil
}

// crlfWriter hashes its input with each bare LF, one that does not follow a
// CR, written as CRLF.
type crlfWriter struct {
	h      hash.Hash
	lastCR bool
}

func (w *crlfWriter) Write(b []byte) (int, error) {
	start := 0
	for i, c := range b {
		if c == '\n' && !(i == 0 && w.lastCR) && !(i > 0 && b[i-1] == '\r') {
			w.h.Write(b[start:i])
			w.h.Write([]byte("\r\n"))
			start = i + 1
		}
	}
	w.h.Write(b[start:])
	if len(b) > 0 {
		w.lastCR = b[len(b)-1] == '\r'
	}
	return len(b), nil
}

// unverified reports whether an outcome deserves a note: a mismatch, or a
// file missing from a list that exists. A missing list is noted once.
func (s publisherSums) unverified(status string) bool {
	return status == checksumMismatch || (status == checksumNotListed && len(s.digests) > 0)
}

// weakerChecksum returns the less assuring of two outcomes, so that a record
// of several files is only as verified as its least verified file.
func weakerChecksum(a, b string) string {
	rank := map[string]int{checksumMismatch: 0, checksumNotListed: 1, checksumMatchAfterCRLF: 2, checksumMatch: 3}
	if rank[b] < rank[a] {
		return b
	}
	return a
}
