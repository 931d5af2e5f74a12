package registry

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/steward-rehab/steward/internal/storage"
)

// ErasureKeyFile holds the secret that turns an erased participant's source
// id into a tombstone.
const ErasureKeyFile = "erasure.key"

// tombstonePrefix marks the source id of an erased participant. What
// follows is an HMAC of their namespace and source id under the erasure
// key: it lets an import recognise the participant and leave them out,
// while nobody without the key can test a guessed id against it.
const tombstonePrefix = "erased:"

// erasureKey returns the registry's erasure key, creating it when create
// is set and the file does not exist yet; otherwise a missing file gives
// nil, as no participant was erased.
func (r *Registry) erasureKey(create bool) ([]byte, error) {
	path := filepath.Join(r.dir, ErasureKeyFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", ErasureKeyFile, err)
		}
		return key, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ErasureKeyFile, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s is damaged: it must hold 32 bytes in base64", path)
	}
	return key, nil
}

// tombstone returns the source id an erased participant keeps.
func tombstone(key []byte, namespace, sourceID string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(namespace))
	mac.Write([]byte{0})
	mac.Write([]byte(sourceID))
	return tombstonePrefix + hex.EncodeToString(mac.Sum(nil))
}

// erasedSource reports whether the participant with this source id in this
// namespace, or in any namespace when ns is empty, was erased.
func (r *Registry) erasedSource(ctx context.Context, tx storage.ReadTx, ns, sourceID string) (bool, error) {
	key, err := r.erasureKey(false)
	if err != nil || key == nil {
		return false, err
	}
	namespaces := []string{ns}
	if ns == "" {
		if namespaces, err = tx.Namespaces(ctx); err != nil {
			return false, err
		}
	}
	for _, n := range namespaces {
		found, err := tx.ParticipantsBySource(ctx, n, tombstone(key, n, sourceID))
		if err != nil {
			return false, err
		}
		if len(found) > 0 {
			return true, nil
		}
	}
	return false, nil
}
