package tlog

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is the signed statement of a log's size and root, in the C2SP
// tlog-checkpoint format: the origin line, the size in decimal and the
// base64 root, each ended by a newline.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Body returns the checkpoint text that gets signed.
func (c Checkpoint) Body() []byte {
	return log.Checkpoint{Origin: c.Origin, Size: c.Size, Hash: c.Root}.Marshal()
}

// GenerateKey returns a new Ed25519 signed-note key pair whose key name is
// the log origin, as C2SP tlog-checkpoint recommends.
func GenerateKey(origin string) (signerKey, verifierKey string, err error) {
	if origin == "" || strings.ContainsAny(origin, "\n+ ") {
		return "", "", fmt.Errorf("invalid log origin %q: it must be non-empty and contain no spaces, plus signs or newlines", origin)
	}
	return note.GenerateKey(rand.Reader, origin)
}

// Signer signs checkpoints with the registry's log key.
type Signer struct {
	signer note.Signer
}

// NewSigner parses a signed-note signer key ("PRIVATE+KEY+name+hash+key").
func NewSigner(signerKey string) (*Signer, error) {
	s, err := note.NewSigner(strings.TrimSpace(signerKey))
	if err != nil {
		return nil, fmt.Errorf("parse log signing key: %w", err)
	}
	return &Signer{signer: s}, nil
}

// Origin returns the log origin, which is the signing key's name.
func (s *Signer) Origin() string { return s.signer.Name() }

// Sign returns the signed note of a checkpoint of this log.
func (s *Signer) Sign(size uint64, root []byte) ([]byte, error) {
	cp := Checkpoint{Origin: s.Origin(), Size: size, Root: root}
	signed, err := note.Sign(&note.Note{Text: string(cp.Body())}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint of size %d: %w", size, err)
	}
	return signed, nil
}

// Verifier checks checkpoints against the registry's public log key.
type Verifier struct {
	verifier note.Verifier
}

// NewVerifier parses a signed-note verifier key ("name+hash+key"), the
// content of log.pub.
func NewVerifier(verifierKey string) (*Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, fmt.Errorf("parse log public key: %w", err)
	}
	return &Verifier{verifier: v}, nil
}

// Origin returns the log origin the key belongs to.
func (v *Verifier) Origin() string { return v.verifier.Name() }

// Open verifies a signed checkpoint and returns its content. Signatures by
// other keys, such as witnesses, are ignored; the note must carry a valid
// signature by this log's key and name this log's origin.
func (v *Verifier) Open(signed []byte) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v.verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, fmt.Errorf("checkpoint carries no signature by the log key %q: it was signed by another key or forged", v.verifier.Name())
		}
		return Checkpoint{}, fmt.Errorf("checkpoint signature invalid: %w", err)
	}
	var cp log.Checkpoint
	rest, err := cp.Unmarshal([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint body malformed: %w", err)
	}
	if len(rest) != 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint has %d bytes of unexpected extension lines", len(rest))
	}
	if cp.Origin != v.verifier.Name() {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q differs from the log key's origin %q", cp.Origin, v.verifier.Name())
	}
	if len(cp.Hash) != HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint root is %d bytes, want %d", len(cp.Hash), HashSize)
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash}, nil
}
