package content

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/keyring"
)

// PackPrefix is where packs of small recordings are stored.
const PackPrefix = "packs/"

// MaxPackSize bounds the bytes one pack holds before a new one starts.
const MaxPackSize = 64 << 20

// Pack gathers small recordings into one object, so that a batch of
// thousands of small files costs a few object writes instead of thousands:
// creating a file or uploading an object costs far more than writing a few
// kilobytes. Each recording in a pack is encrypted on its own, to its own
// participant's key, so erasing a participant by destroying their key leaves
// the other recordings of the pack readable. A pack is named by 128 random
// bits: its bytes differ on every write anyway, since each encryption uses a
// new file key, so naming it by their digest would only cost a second hash.
type Pack struct {
	buf     bytes.Buffer
	pending []*Location
}

// Encrypt encrypts a small recording to key, for Add. Recordings can be
// encrypted in parallel and added in order.
func (s *Staged) Encrypt(key *keyring.DataKey) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(s.inline) + 512)
	enc, err := key.Encrypt(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := enc.Write(s.inline); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Add appends an encrypted recording. The returned location gets its key
// when the pack is sealed.
func (p *Pack) Add(ciphertext []byte) *Location {
	loc := &Location{Offset: int64(p.buf.Len()), Length: int64(len(ciphertext))}
	p.buf.Write(ciphertext)
	p.pending = append(p.pending, loc)
	return loc
}

// Grow makes room for n more bytes, so that adding recordings whose total
// size is known copies each once.
func (p *Pack) Grow(n int) { p.buf.Grow(n) }

// Len returns the bytes gathered so far.
func (p *Pack) Len() int { return p.buf.Len() }

// Sealed is a finished pack, named and ready to be written.
type Sealed struct {
	Key  string
	data []byte
}

// Seal names the pack and fills in the key of every location added. The
// pack starts over empty.
func (p *Pack) Seal() *Sealed {
	if len(p.pending) == 0 {
		return nil
	}
	// The sealed pack takes the buffer over, and the pack starts a new one.
	data := p.buf.Bytes()
	var name [16]byte
	rand.Read(name[:])
	key := PackPrefix + hex.EncodeToString(name[:])
	for _, loc := range p.pending {
		loc.Key = key
	}
	p.buf = bytes.Buffer{}
	p.pending = nil
	return &Sealed{Key: key, data: data}
}

// Write stores the pack. The caller syncs the store afterwards.
func (s *Sealed) Write(ctx context.Context, blobs *blobstore.Store) error {
	w, err := blobs.NewWriter(ctx, s.Key)
	if err != nil {
		return err
	}
	if _, err := w.Write(s.data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
