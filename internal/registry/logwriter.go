package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

// writer appends events within one transaction. It holds the log lock from
// the start of the transaction, so what the transaction reads cannot change
// before its events are sequenced.
type writer struct {
	tx      storage.Tx
	app     *tlog.Appender
	start   uint64
	entries [][]byte
	r       *Registry
}

// update runs fn in a write transaction with the log locked, and stores the
// events fn appended in the same transaction together with a checkpoint of
// the new size, so every change is covered by a signed checkpoint the moment
// it commits.
func (r *Registry) update(ctx context.Context, fn func(ctx context.Context, w *writer) error) error {
	_, err := r.updateSigned(ctx, fn)
	return err
}

// updateSigned is update returning the checkpoint it stored, or the zero
// checkpoint when fn appended nothing.
func (r *Registry) updateSigned(ctx context.Context, fn func(ctx context.Context, w *writer) error) (storage.Checkpoint, error) {
	var cp storage.Checkpoint
	err := r.store.Update(ctx, func(tx storage.Tx) error {
		cp = storage.Checkpoint{}
		size, err := tx.LockLog(ctx)
		if err != nil {
			return err
		}
		app, err := tlog.NewAppender(ctx, tx, size)
		if err != nil {
			return err
		}
		w := &writer{tx: tx, app: app, start: size, r: r}
		if err := fn(ctx, w); err != nil {
			return err
		}
		if len(w.entries) == 0 {
			return nil
		}
		if err := tx.AppendEntries(ctx, w.start, w.entries, w.app.TakeNodes()); err != nil {
			return err
		}
		root, err := w.app.Root()
		if err != nil {
			return err
		}
		note, err := r.signer.Sign(w.app.Size(), root)
		if err != nil {
			return err
		}
		cp = storage.Checkpoint{Size: w.app.Size(), Root: root, Note: note, SignedAt: r.now().UTC()}
		return tx.PutCheckpoint(ctx, cp)
	})
	return cp, err
}

// append encodes an event stamped with the registry clock and returns the
// index it will have once the transaction commits.
func (w *writer) append(typ string, data any) (uint64, error) {
	entry, err := event.Encode(typ, w.r.now(), data)
	if err != nil {
		return 0, err
	}
	return w.appendEncoded(entry)
}

// appendEncoded appends an event encoded by event.Encode and returns the
// index it will have once the transaction commits.
func (w *writer) appendEncoded(entry []byte) (uint64, error) {
	idx, _, err := w.app.Append(entry)
	if err != nil {
		return 0, err
	}
	w.entries = append(w.entries, entry)
	return idx, nil
}

// Checkpoint signs and stores a checkpoint of the log's current size. The
// root is computed from the stored tree for exactly that size, so the pair
// is consistent even while other writers append.
func (r *Registry) Checkpoint(ctx context.Context) (storage.Checkpoint, error) {
	var cp storage.Checkpoint
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		size, err := tx.LogSize(ctx)
		if err != nil {
			return err
		}
		latest, err := tx.LatestCheckpoint(ctx)
		if err == nil && latest.Size == size {
			cp = latest
			return nil
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		root, err := tlog.RootAt(ctx, tx, size)
		if err != nil {
			return err
		}
		note, err := r.signer.Sign(size, root)
		if err != nil {
			return err
		}
		cp = storage.Checkpoint{Size: size, Root: root, Note: note, SignedAt: r.now().UTC()}
		return nil
	})
	if err != nil {
		return cp, fmt.Errorf("sign checkpoint: %w", err)
	}
	err = r.store.Update(ctx, func(tx storage.Tx) error { return tx.PutCheckpoint(ctx, cp) })
	if err != nil {
		return cp, fmt.Errorf("store checkpoint: %w", err)
	}
	return cp, nil
}
