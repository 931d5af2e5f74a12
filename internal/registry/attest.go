package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
)

// attester returns the function that signs the attestation of a bundle as
// it is written. The attestation is an in-toto statement of every file's
// digest, for the release and the checkpoint its proofs are against. It is
// a DSSE envelope signed with the log key, so verifiers need only log.pub.
func (r *Registry) attester(ctx context.Context, rel storage.Release, cp storage.Checkpoint) (func(map[string]string) ([]byte, error), error) {
	raw, err := os.ReadFile(filepath.Join(r.dir, LogKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read log signing key: %w", err)
	}
	key, private, err := release.ParseNoteSignerKey(string(raw))
	if err != nil {
		return nil, err
	}
	public, err := release.ParseNoteVerifierKey(r.verifierKey)
	if err != nil {
		return nil, err
	}
	if key.ID != public.ID || !key.Public.Equal(public.Public) {
		return nil, fmt.Errorf("%s (%s) and %s (%s) are not one key pair: restore the pair the registry was created with",
			LogKeyFile, key.ID, LogPubFile, public.ID)
	}
	predicate := release.ReleasePredicate{
		Release: rel.ID,
		Origin:  r.Origin(),
		Version: rel.Version,
		Checkpoint: release.PredicateCheckpoint{
			Size: cp.Size,
			Root: base64.StdEncoding.EncodeToString(cp.Root),
		},
	}
	return func(files map[string]string) ([]byte, error) {
		return release.NewAttestation(ctx, predicate, files, private, key.ID)
	}, nil
}
