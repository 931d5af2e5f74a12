// Package keyring manages participants' data keys. Each participant's
// recordings are encrypted to their own age X25519 key. That key is stored
// only wrapped by the registry key through gocloud.dev/secrets (a local key
// file by default, a cloud KMS at scale), so destroying the wrapped key makes
// every copy of the participant's recordings unreadable (crypto-shredding).
package keyring

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"
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
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, fmt.Errorf("generate data key: %w", err)
	}
	wrapped, err := k.keeper.Encrypt(ctx, []byte(id.String()))
	if err != nil {
		return nil, nil, fmt.Errorf("wrap data key: %w", err)
	}
	return &DataKey{id: id}, wrapped, nil
}

// Unwrap recovers a data key from its wrapped form.
func (k *Keyring) Unwrap(ctx context.Context, wrapped []byte) (*DataKey, error) {
	plain, err := k.keeper.Decrypt(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	id, err := age.ParseX25519Identity(string(plain))
	if err != nil {
		return nil, fmt.Errorf("parse unwrapped data key: %w", err)
	}
	return &DataKey{id: id}, nil
}

// DataKey is one participant's unwrapped key.
type DataKey struct {
	id *age.X25519Identity
}

// Encrypt returns a writer that encrypts to this key into dst. Close it to
// write the final chunk; the returned writer does not close dst.
func (d *DataKey) Encrypt(dst io.Writer) (io.WriteCloser, error) {
	w, err := age.Encrypt(dst, d.id.Recipient())
	if err != nil {
		return nil, fmt.Errorf("start encryption: %w", err)
	}
	return w, nil
}

// Decrypt returns a reader of the plaintext of src. A wrong key or any
// tampering with the ciphertext is an error.
func (d *DataKey) Decrypt(src io.Reader) (io.Reader, error) {
	r, err := age.Decrypt(src, d.id)
	if err != nil {
		return nil, fmt.Errorf("decrypt recording: %w", err)
	}
	return r, nil
}
