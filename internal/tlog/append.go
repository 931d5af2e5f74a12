package tlog

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
)

// Appender extends a tree of known size by one leaf at a time and reports
// every perfect subtree node that each leaf completes. A storage engine
// writes those nodes in the same transaction as the entries, so a committed
// entry always has its nodes.
type Appender struct {
	cr    *compact.Range
	nodes []Node
}

// NewAppender starts an appender at the current size of the tree.
func NewAppender(ctx context.Context, r NodeReader, size uint64) (*Appender, error) {
	cr, err := RangeAt(ctx, r, size)
	if err != nil {
		return nil, err
	}
	return &Appender{cr: cr}, nil
}

// Size returns the size of the tree including the leaves appended so far.
func (a *Appender) Size() uint64 { return a.cr.End() }

// Append adds the leaf with the given entry bytes. It returns the leaf's
// index and its hash.
func (a *Appender) Append(entry []byte) (uint64, []byte, error) {
	index := a.cr.End()
	leaf := LeafHash(entry)
	err := a.cr.Append(leaf, func(id compact.NodeID, hash []byte) {
		a.nodes = append(a.nodes, Node{ID: id, Hash: hash})
	})
	if err != nil {
		return 0, nil, fmt.Errorf("append leaf %d: %w", index, err)
	}
	return index, leaf, nil
}

// TakeNodes returns the nodes completed since the last call and forgets them.
func (a *Appender) TakeNodes() []Node {
	nodes := a.nodes
	a.nodes = nil
	return nodes
}

// Root returns the root of the tree as appended so far.
func (a *Appender) Root() ([]byte, error) {
	if a.cr.End() == 0 {
		return EmptyRoot(), nil
	}
	return a.cr.GetRootHash(nil)
}
