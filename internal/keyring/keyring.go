// Package keyring manages participants' data keys. Each participant's
// recordings are encrypted with age to their own 256-bit data key. The data
// key is stored only wrapped by the registry key through gocloud.dev/secrets
// (a local key file by default, a cloud KMS at scale), so destroying the
// wrapped key makes every copy of the participant's recordings unreadable
// (crypto-shredding).
//
// The data key reaches age through a custom recipient stanza: age's file
// key is sealed with XChaCha20-Poly1305 under the data key. A symmetric
// stanza costs a microsecond per file where an X25519 recipient costs two
// scalar multiplications, which dominate the registration of small files.
package keyring

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"
	"golang.org/x/crypto/chacha20poly1305"
)

// Keyring wraps and unwraps data keys with the registry key.
type Keyring struct {
	keeper *secrets.Keeper
}

// NewLocalKeeperURL returns a base64key:// URL holding a new random 256-bit
// registry key, for gocloud.dev/secrets/localsecrets.
func NewLocalKeeperURL() (string, error) {
	key, err := localsecrets.NewRandomKey()
	if err != nil {
		return "", fmt.Errorf("generate registry key: %w", err)
	}
	return "base64key://" + base64.URLEncoding.EncodeToString(key[:]), nil
}

// Open opens the keeper at a gocloud.dev/secrets URL, such as
// base64key://... or awskms://...
func Open(ctx context.Context, keeperURL string) (*Keyring, error) {
	k, err := secrets.OpenKeeper(ctx, strings.TrimSpace(keeperURL))
	if err != nil {
		scheme, _, _ := strings.Cut(keeperURL, "://")
		return nil, fmt.Errorf("open registry key keeper (%s://...): %w", scheme, err)
	}
	return &Keyring{keeper: k}, nil
}

// Close releases the keeper.
func (k *Keyring) Close() error { return k.keeper.Close() }

// NewDataKey makes a data key and returns it with its wrapped form, which
// is what gets stored.
func (k *Keyring) NewDataKey(ctx context.Context) (*DataKey, []byte, error) {
	d := &DataKey{}
	if _, err := rand.Read(d.key[:]); err != nil {
		return nil, nil, fmt.Errorf("generate data key: %w", err)
	}
	wrapped, err := k.keeper.Encrypt(ctx, d.key[:])
	if err != nil {
		return nil, nil, fmt.Errorf("wrap data key: %w", err)
	}
	return d, wrapped, nil
}

// Unwrap recovers a data key from its wrapped form.
func (k *Keyring) Unwrap(ctx context.Context, wrapped []byte) (*DataKey, error) {
	plain, err := k.keeper.Decrypt(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	if len(plain) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("unwrapped data key has %d bytes, want %d", len(plain), chacha20poly1305.KeySize)
	}
	d := &DataKey{}
	copy(d.key[:], plain)
	return d, nil
}

// DataKey is one participant's unwrapped key. It is both the age recipient
// and the age identity of the participant's recordings.
type DataKey struct {
	key [chacha20poly1305.KeySize]byte
}

// stanzaType names Steward's recipient stanza in age headers.
const stanzaType = "steward-dek-v1"

// Wrap implements age.Recipient: it seals the file key under the data key.
func (d *DataKey) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	aead, err := chacha20poly1305.NewX(d.key[:])
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return []*age.Stanza{{
		Type: stanzaType,
		Args: []string{base64.RawStdEncoding.EncodeToString(nonce)},
		Body: aead.Seal(nil, nonce, fileKey, []byte(stanzaType)),
	}}, nil
}

// Unwrap implements age.Identity.
func (d *DataKey) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(d.key[:])
	if err != nil {
		return nil, err
	}
	for _, s := range stanzas {
		if s.Type != stanzaType || len(s.Args) != 1 {
			continue
		}
		nonce, err := base64.RawStdEncoding.DecodeString(s.Args[0])
		if err != nil || len(nonce) != chacha20poly1305.NonceSizeX {
			return nil, errors.New("malformed steward-dek-v1 stanza")
		}
		fileKey, err := aead.Open(nil, nonce, s.Body, []byte(stanzaType))
		if err != nil {
			continue // sealed under another participant's key
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}

// Encrypt returns a writer that encrypts to this key into dst. Close it to
// write the final chunk; the returned writer does not close dst.
func (d *DataKey) Encrypt(dst io.Writer) (io.WriteCloser, error) {
	w, err := age.Encrypt(dst, d)
	if err != nil {
		return nil, fmt.Errorf("start encryption: %w", err)
	}
	return w, nil
}

// Decrypt returns a reader of the plaintext of src. A wrong key or any
// tampering with the ciphertext is an error.
func (d *DataKey) Decrypt(src io.Reader) (io.Reader, error) {
	r, err := age.Decrypt(src, d)
	if err != nil {
		return nil, fmt.Errorf("decrypt recording: %w", err)
	}
	return r, nil
}
