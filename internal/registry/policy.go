package registry

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/storage"
)

// AddPolicy registers a version of a compensation policy and returns it as
// stored. A policy without a version gets one more than the newest of its
// id, unless it equals that version, which is then returned unchanged and
// nothing is logged. A given version that exists with other terms is
// rejected. The newest policy added is the one in force for samples
// registered from then on.
func (r *Registry) AddPolicy(ctx context.Context, p ledger.Policy) (storage.StoredPolicy, bool, error) {
	var out storage.StoredPolicy
	var added bool
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		added = false
		latest, err := w.tx.LatestPolicyVersion(ctx, p.ID)
		if err != nil {
			return err
		}
		if p.Version == 0 && latest > 0 {
			prev, err := w.tx.Policy(ctx, p.ID, latest)
			if err != nil {
				return err
			}
			candidate := p
			candidate.Version = latest
			if reflect.DeepEqual(prev.Policy, candidate) {
				out = prev
				return nil
			}
		}
		if p.Version == 0 {
			p.Version = latest + 1
		} else if prev, err := w.tx.Policy(ctx, p.ID, p.Version); err == nil {
			if reflect.DeepEqual(prev.Policy, p) {
				out = prev
				return nil
			}
			return fmt.Errorf("policy %s is registered with other terms: leave out version to register version %d, or set a new version", p.Ref(), latest+1)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		} else if p.Version < latest {
			// The newest registered policy is in force, so an older
			// version number would read as superseded when it is not.
			return fmt.Errorf("policy %s is older than the registered version %d: give a version above %d, or leave out version", p.Ref(), latest, latest)
		}

		digest, err := p.Digest()
		if err != nil {
			return err
		}
		out = storage.StoredPolicy{Policy: p, Digest: digest, AddedAt: r.now().UTC()}
		if out.EventIndex, err = w.append(event.TypePolicyAdded, event.PolicyAdded{Policy: p, Digest: digest}); err != nil {
			return err
		}
		added = true
		return w.tx.InsertPolicy(ctx, out)
	})
	if err == nil && added {
		r.log.Info("compensation policy added", "policy", out.Policy.Ref(), "event_index", out.EventIndex)
	}
	return out, added, err
}

// Policies returns every registered policy version, oldest first.
func (r *Registry) Policies(ctx context.Context) ([]storage.StoredPolicy, error) {
	var out []storage.StoredPolicy
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = tx.Policies(ctx)
		return err
	})
	return out, err
}

// PolicyByRef returns the policy id@version, or the newest version of id.
func (r *Registry) PolicyByRef(ctx context.Context, ref string) (storage.StoredPolicy, error) {
	var out storage.StoredPolicy
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = policyByRef(ctx, tx, ref)
		return err
	})
	return out, err
}

func policyByRef(ctx context.Context, tx storage.ReadTx, ref string) (storage.StoredPolicy, error) {
	id, version, err := ledger.ParseRef(ref)
	if err != nil {
		// A bare id names its newest version.
		id = ref
		if version, err = tx.LatestPolicyVersion(ctx, id); err != nil {
			return storage.StoredPolicy{}, err
		}
		if version == 0 {
			return storage.StoredPolicy{}, fmt.Errorf("no compensation policy %q: see steward policy list: %w", ref, storage.ErrNotFound)
		}
	}
	return tx.Policy(ctx, id, version)
}

// policyInForce returns the newest policy, or ok false when none was ever
// added and compensation is not in use.
func policyInForce(ctx context.Context, tx storage.ReadTx) (storage.StoredPolicy, bool, error) {
	p, err := tx.LatestPolicy(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return p, false, nil
	}
	return p, err == nil, err
}
