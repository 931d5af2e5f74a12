// Package tlog implements Steward's transparency log: an append-only Merkle
// tree with RFC 6962 hashing, inclusion and consistency proofs, and
// checkpoints in the C2SP tlog-checkpoint signed-note format.
//
// The tree is stored as the hashes of its perfect subtrees (level, index).
// Those nodes never change once written, so the root, an inclusion proof or a
// consistency proof for any size up to the current one can be computed from
// them at any time, while other writers append.
package tlog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Hasher is the RFC 6962 hasher over SHA-256 that every Steward log uses.
var Hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: Hasher.HashChildren}

// HashSize is the size of a node hash in bytes.
const HashSize = sha256.Size

// LeafHash returns the RFC 6962 leaf hash, SHA-256(0x00 || entry), of the
// stored bytes of one entry.
func LeafHash(entry []byte) []byte { return Hasher.HashLeaf(entry) }

// EmptyRoot returns the root of the tree of size 0, SHA-256 of the empty string.
func EmptyRoot() []byte { return Hasher.EmptyRoot() }

// NodeReader returns the hashes of perfect subtree nodes. A node (level,
// index) covers leaves [index<<level, (index+1)<<level). Level 0 holds the
// leaf hashes.
type NodeReader interface {
	// ReadNodes returns one hash per id, in the order of ids. It returns an
	// error wrapping ErrNodeMissing if any node has not been written.
	ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
}

// ErrNodeMissing reports that a tree node needed for a computation has not
// been stored, which means the size asked for is larger than the log.
var ErrNodeMissing = errors.New("tree node missing")

// Node is one stored tree node.
type Node struct {
	ID   compact.NodeID
	Hash []byte
}

// RootAt computes the root hash of the tree of the given size.
func RootAt(ctx context.Context, r NodeReader, size uint64) ([]byte, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	cr, err := RangeAt(ctx, r, size)
	if err != nil {
		return nil, err
	}
	return cr.GetRootHash(nil)
}

// RangeAt loads the compact range [0, size): the roots of the perfect
// subtrees along the right border of the tree of that size.
func RangeAt(ctx context.Context, r NodeReader, size uint64) (*compact.Range, error) {
	if size == 0 {
		return rangeFactory.NewEmptyRange(0), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := r.ReadNodes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load compact range of size %d: %w", size, err)
	}
	return rangeFactory.NewRange(0, size, hashes)
}

// InclusionProof returns the RFC 6962 inclusion proof of the leaf at index in
// the tree of the given size.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return fetchProof(ctx, r, nodes)
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes size1 and size2. It rejects size1 == 0: every tree extends the
// empty tree, so such a proof would prove nothing.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([][]byte, error) {
	if size1 == 0 {
		return nil, errors.New("consistency proof from size 0 requested: every tree extends the empty tree, ask from a signed checkpoint of size 1 or more")
	}
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return fetchProof(ctx, r, nodes)
}

func fetchProof(ctx context.Context, r NodeReader, nodes proof.Nodes) ([][]byte, error) {
	if len(nodes.IDs) == 0 {
		return [][]byte{}, nil
	}
	hashes, err := r.ReadNodes(ctx, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, Hasher.HashChildren)
}

// VerifyInclusion checks that leafHash is at index in the tree of the given
// size and root.
func VerifyInclusion(index, size uint64, leafHash []byte, proofHashes [][]byte, root []byte) error {
	return proof.VerifyInclusion(Hasher, index, size, leafHash, proofHashes, root)
}

// VerifyConsistency checks that the tree (size2, root2) extends (size1,
// root1). Unlike plain RFC 6962 verification it rejects size1 == 0, because a
// proof from the empty tree proves nothing, and it reports two different
// roots for one size as a ForkError.
func VerifyConsistency(size1, size2 uint64, proofHashes [][]byte, root1, root2 []byte) error {
	switch {
	case size1 == 0:
		return errors.New("consistency proof from size 0 rejected: it proves nothing, verify from a checkpoint of size 1 or more")
	case size1 == size2:
		if len(proofHashes) != 0 {
			return fmt.Errorf("consistency proof between equal sizes %d must be empty, got %d hashes", size1, len(proofHashes))
		}
		if string(root1) != string(root2) {
			return &ForkError{Size: size1, Root1: root1, Root2: root2}
		}
		return nil
	case len(proofHashes) == 0:
		return fmt.Errorf("empty consistency proof between sizes %d and %d rejected", size1, size2)
	}
	return proof.VerifyConsistency(Hasher, size1, size2, proofHashes, root1, root2)
}

// ForkError reports two different roots for one tree size: evidence that the
// log presented two different histories.
type ForkError struct {
	Size         uint64
	Root1, Root2 []byte
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("log fork: two different roots %x and %x for size %d", e.Root1, e.Root2, e.Size)
}

// InclusionProofs returns the inclusion proofs of many leaves in the tree
// of the given size. It fetches every node the proofs need in as few reads
// as possible; proofs share their upper nodes.
func InclusionProofs(ctx context.Context, r NodeReader, indexes []uint64, size uint64) (map[uint64][][]byte, error) {
	plans := make(map[uint64]proof.Nodes, len(indexes))
	var ids []compact.NodeID
	seen := map[compact.NodeID]bool{}
	for _, idx := range indexes {
		if _, ok := plans[idx]; ok {
			continue
		}
		nodes, err := proof.Inclusion(idx, size)
		if err != nil {
			return nil, err
		}
		plans[idx] = nodes
		for _, id := range nodes.IDs {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	hashes, err := r.ReadNodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[compact.NodeID][]byte, len(ids))
	for i, id := range ids {
		byID[id] = hashes[i]
	}
	out := make(map[uint64][][]byte, len(plans))
	for idx, nodes := range plans {
		h := make([][]byte, len(nodes.IDs))
		for i, id := range nodes.IDs {
			h[i] = byID[id]
		}
		p, err := nodes.Rehash(h, Hasher.HashChildren)
		if err != nil {
			return nil, err
		}
		out[idx] = p
	}
	return out, nil
}

// RangeReader reads contiguous runs of stored nodes.
type RangeReader interface {
	// ReadNodeRange returns the hashes of the nodes at one level with index
	// in [from, to), concatenated in index order.
	ReadNodeRange(ctx context.Context, level uint, from, to uint64) ([]byte, error)
}

// MemoryTree holds every perfect subtree node of a tree of one size in
// memory, 32 bytes a node and about twice as many nodes as leaves. Loading
// it is one sequential read per level, which is far cheaper than many small
// reads when proofs are wanted for a large part of the tree.
type MemoryTree struct {
	size   uint64
	levels [][]byte
}

// LoadTree reads every node of the tree of the given size.
func LoadTree(ctx context.Context, r RangeReader, size uint64) (*MemoryTree, error) {
	t := &MemoryTree{size: size}
	for level := uint(0); size>>level > 0; level++ {
		hashes, err := r.ReadNodeRange(ctx, level, 0, size>>level)
		if err != nil {
			return nil, err
		}
		t.levels = append(t.levels, hashes)
	}
	return t, nil
}

// ReadNodes implements NodeReader.
func (t *MemoryTree) ReadNodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if int(id.Level) >= len(t.levels) || (id.Index+1)*HashSize > uint64(len(t.levels[id.Level])) {
			return nil, fmt.Errorf("node (level %d, index %d) of a tree of size %d: %w", id.Level, id.Index, t.size, ErrNodeMissing)
		}
		out[i] = t.levels[id.Level][id.Index*HashSize : (id.Index+1)*HashSize]
	}
	return out, nil
}
