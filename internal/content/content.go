// Package content moves recordings into and out of the blob store. A file
// is read once: the same stream is hashed, probed and encrypted to the
// participant's data key, and lands under a staging key until its digest is
// known. Then it is moved to its content address, sha256/<aa>/<hex>.
package content

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/keyring"
	"github.com/steward-rehab/steward/internal/probe"
)

// StagingPrefix is where uploads wait for their digest. Objects left there by
// a killed process are removed by the registry's garbage collection.
const StagingPrefix = "staging/"

// KeyFor returns the content address of a digest such as sha256:ab12...
func KeyFor(digest string) string {
	h := strings.TrimPrefix(digest, "sha256:")
	return "sha256/" + h[:2] + "/" + h
}

// Staged is a recording read and checked, ready to be stored under its
// content address. A large recording is already encrypted under a staging
// key; a small one (up to one chunk) is held in memory and written only when
// committed, so duplicates and rejected files never touch the store.
type Staged struct {
	// Key is the staging key of a large recording, empty for a small one.
	Key      string
	inline   []byte
	Digest   string
	Size     int64
	Measured probe.Measured
	// ProbeErr is what the prober found wrong, if anything. The caller
	// decides whether to keep the recording.
	ProbeErr error
}

// chunkSize is the unit of the pipeline: large enough that per-chunk costs
// vanish, small enough that the chunks in flight stay in cache.
const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// Stage reads src to the end, hashing and probing it (when prober is not
// nil). A recording larger than one chunk is encrypted to key under a new
// staging key as it streams past. On error nothing is left in the store.
func Stage(ctx context.Context, blobs *blobstore.Store, key *keyring.DataKey, src io.Reader, prober probe.Prober) (*Staged, error) {
	buf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(buf)
	n, err := io.ReadFull(src, *buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return stageSmall(bytes.Clone((*buf)[:n]), prober), nil
	case err != nil:
		return nil, fmt.Errorf("read recording: %w", err)
	}
	return stageLarge(ctx, blobs, key, io.MultiReader(bytes.NewReader((*buf)[:n]), src), prober)
}

func stageSmall(data []byte, prober probe.Prober) *Staged {
	sum := sha256.Sum256(data)
	st := &Staged{inline: data, Size: int64(len(data)), Digest: "sha256:" + hex.EncodeToString(sum[:])}
	if prober != nil {
		prober.Write(data)
		st.Measured, st.ProbeErr = prober.Finish()
	}
	return st
}

func stageLarge(ctx context.Context, blobs *blobstore.Store, key *keyring.DataKey, src io.Reader, prober probe.Prober) (*Staged, error) {
	st := &Staged{Key: StagingPrefix + ident.New("")}
	w, err := blobs.NewWriter(ctx, st.Key)
	if err != nil {
		return nil, err
	}
	enc, err := key.Encrypt(w)
	if err != nil {
		w.Abort()
		return nil, err
	}
	h := sha256.New()
	sinks := []io.Writer{h}
	if prober != nil {
		sinks = append(sinks, prober)
	}
	n, err := pump(src, io.MultiWriter(sinks...), enc)
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Close(); err != nil {
		_ = blobs.Delete(ctx, st.Key)
		return nil, err
	}
	st.Size = n
	st.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if prober != nil {
		st.Measured, st.ProbeErr = prober.Finish()
	}
	return st, nil
}

// Location is where an encrypted recording is stored: a whole object when
// Length is 0, else Length bytes of a pack from Offset.
type Location struct {
	Key    string
	Offset int64
	Length int64
}

// Small reports whether the recording is held in memory, to be packed.
func (s *Staged) Small() bool { return s.Key == "" && s.inline != nil }

// Commit moves a large recording from its staging key to dst.
func (s *Staged) Commit(ctx context.Context, blobs *blobstore.Store, dst string) (Location, error) {
	if s.Key == "" {
		return Location{}, errors.New("commit of a small recording: add it to a pack")
	}
	if err := blobs.Move(ctx, dst, s.Key); err != nil {
		return Location{}, err
	}
	s.Key = ""
	return Location{Key: dst}, nil
}

// Discard deletes the staging object of a recording that will not be kept.
func (s *Staged) Discard(ctx context.Context, blobs *blobstore.Store) error {
	if s.Key == "" {
		return nil
	}
	err := blobs.Delete(ctx, s.Key)
	if err == nil {
		s.Key = ""
	}
	return err
}

// pump copies src to both a and b. The two writers run in separate
// goroutines on the same chunks, so hashing and encryption overlap on two
// cores; a chunk returns to the pool once both are done with it.
func pump(src io.Reader, a, b io.Writer) (int64, error) {
	type chunk struct {
		buf  *[]byte
		n    int
		refs sync.WaitGroup
	}
	toA := make(chan *chunk, 4)
	toB := make(chan *chunk, 4)
	errA := make(chan error, 1)
	errB := make(chan error, 1)
	consume := func(w io.Writer, in chan *chunk, out chan error) {
		var err error
		for c := range in {
			if err == nil {
				_, err = w.Write((*c.buf)[:c.n])
			}
			c.refs.Done()
		}
		out <- err
	}
	go consume(a, toA, errA)
	go consume(b, toB, errB)

	var total int64
	var readErr error
	var pending []*chunk
	for {
		buf := chunkPool.Get().(*[]byte)
		n, err := io.ReadFull(src, *buf)
		if n > 0 {
			c := &chunk{buf: buf, n: n}
			c.refs.Add(2)
			toA <- c
			toB <- c
			pending = append(pending, c)
			total += int64(n)
		} else {
			chunkPool.Put(buf)
		}
		// Recycle chunks both consumers have finished, oldest first.
		for len(pending) > 8 {
			pending[0].refs.Wait()
			chunkPool.Put(pending[0].buf)
			pending = pending[1:]
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				readErr = err
			}
			break
		}
	}
	close(toA)
	close(toB)
	ea, eb := <-errA, <-errB
	for _, c := range pending {
		chunkPool.Put(c.buf)
	}
	switch {
	case readErr != nil:
		return total, fmt.Errorf("read recording: %w", readErr)
	case ea != nil:
		return total, ea
	case eb != nil:
		return total, eb
	}
	return total, nil
}

// Open returns the decrypted content stored at loc.
func Open(ctx context.Context, blobs *blobstore.Store, key *keyring.DataKey, loc Location) (io.ReadCloser, error) {
	var rc io.ReadCloser
	var err error
	if loc.Length > 0 {
		rc, err = blobs.OpenRange(ctx, loc.Key, loc.Offset, loc.Length)
	} else {
		rc, err = blobs.Open(ctx, loc.Key)
	}
	if err != nil {
		return nil, err
	}
	plain, err := key.Decrypt(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{plain, rc}, nil
}

// DigestWriter hashes what passes through it, for checking content read back.
type DigestWriter struct {
	h hash.Hash
	n int64
}

// NewDigestWriter returns an empty DigestWriter.
func NewDigestWriter() *DigestWriter { return &DigestWriter{h: sha256.New()} }

func (d *DigestWriter) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return d.h.Write(p)
}

// Digest returns sha256:<hex> of everything written.
func (d *DigestWriter) Digest() string { return "sha256:" + hex.EncodeToString(d.h.Sum(nil)) }

// Size returns the number of bytes written.
func (d *DigestWriter) Size() int64 { return d.n }
