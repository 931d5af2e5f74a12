package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// The registry's log key is a signed-note key (golang.org/x/mod/sumdb/note):
//
//	log.key  PRIVATE+KEY+<name>+<hash>+base64(0x01 || Ed25519 seed)
//	log.pub  <name>+<hash>+base64(0x01 || Ed25519 public key)
//
// where 0x01 is the Ed25519 algorithm byte and <hash> is eight hex digits:
// the first four bytes of SHA-256(name || "\n" || 0x01 || public key). The
// attestation is signed with the same Ed25519 key, so log.pub verifies both
// checkpoints and attestations.
const noteAlgEd25519 = 1

// NoteKey is the Ed25519 key of a signed-note key pair.
type NoteKey struct {
	// Name is the key name, which for the log key is the log origin.
	Name string
	// ID is "<name>+<hash>", how the note format names a key; it is the
	// DSSE keyid of the registry's attestations.
	ID     string
	Public ed25519.PublicKey
}

// ParseNoteVerifierKey returns the Ed25519 public key of a signed-note
// verifier key, the content of log.pub.
func ParseNoteVerifierKey(vkey string) (NoteKey, error) {
	name, hash, key, err := splitNoteKey(strings.TrimSpace(vkey), 3)
	if err != nil {
		return NoteKey{}, fmt.Errorf("invalid log public key: %w", err)
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != noteAlgEd25519 {
		return NoteKey{}, fmt.Errorf("invalid log public key: not an Ed25519 key")
	}
	nk := NoteKey{Name: name, ID: name + "+" + hash, Public: ed25519.PublicKey(key[1:])}
	if want := noteKeyHash(name, nk.Public); want != hash {
		return NoteKey{}, fmt.Errorf("invalid log public key: its hash %s does not match its key (%s)", hash, want)
	}
	return nk, nil
}

// ParseNoteSignerKey returns the Ed25519 private key of a signed-note
// signer key, the content of log.key, with its public half.
func ParseNoteSignerKey(skey string) (NoteKey, ed25519.PrivateKey, error) {
	skey = strings.TrimSpace(skey)
	if !strings.HasPrefix(skey, "PRIVATE+KEY+") {
		return NoteKey{}, nil, fmt.Errorf("invalid log signing key: it must start with PRIVATE+KEY+")
	}
	name, hash, key, err := splitNoteKey(strings.TrimPrefix(skey, "PRIVATE+KEY+"), 3)
	if err != nil {
		return NoteKey{}, nil, fmt.Errorf("invalid log signing key: %w", err)
	}
	if len(key) != 1+ed25519.SeedSize || key[0] != noteAlgEd25519 {
		return NoteKey{}, nil, fmt.Errorf("invalid log signing key: not an Ed25519 key")
	}
	private := ed25519.NewKeyFromSeed(key[1:])
	nk := NoteKey{Name: name, ID: name + "+" + hash, Public: private.Public().(ed25519.PublicKey)}
	if want := noteKeyHash(name, nk.Public); want != hash {
		return NoteKey{}, nil, fmt.Errorf("invalid log signing key: its hash %s does not match its key (%s)", hash, want)
	}
	return nk, private, nil
}

func splitNoteKey(s string, parts int) (name, hash string, key []byte, err error) {
	fields := strings.SplitN(s, "+", parts)
	if len(fields) != parts || fields[0] == "" {
		return "", "", nil, fmt.Errorf("expected <name>+<hash>+<key>")
	}
	name, hash = fields[0], fields[1]
	if len(hash) != 8 {
		return "", "", nil, fmt.Errorf("key hash %q is not eight hex digits", hash)
	}
	if _, err := strconv.ParseUint(hash, 16, 32); err != nil {
		return "", "", nil, fmt.Errorf("key hash %q is not eight hex digits", hash)
	}
	key, err = base64.StdEncoding.DecodeString(fields[2])
	if err != nil {
		return "", "", nil, fmt.Errorf("key is not base64: %w", err)
	}
	return name, hash, key, nil
}

func noteKeyHash(name string, public ed25519.PublicKey) string {
	var b bytes.Buffer
	b.WriteString(name)
	b.WriteByte('\n')
	b.WriteByte(noteAlgEd25519)
	b.Write(public)
	sum := sha256.Sum256(b.Bytes())
	return fmt.Sprintf("%08x", binary.BigEndian.Uint32(sum[:4]))
}
