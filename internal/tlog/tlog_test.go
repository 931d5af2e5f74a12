package tlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// memTree is an in-memory node store fed by an Appender, the same way a
// storage engine is fed.
type memTree struct {
	nodes  map[compact.NodeID][]byte
	leaves [][]byte // entries, for the independent implementation
	app    *Appender
}

func newMemTree(t testing.TB) *memTree {
	m := &memTree{nodes: map[compact.NodeID][]byte{}}
	app, err := NewAppender(context.Background(), m, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.app = app
	return m
}

func (m *memTree) ReadNodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := m.nodes[id]
		if !ok {
			return nil, fmt.Errorf("node %v: %w", id, ErrNodeMissing)
		}
		out[i] = h
	}
	return out, nil
}

func (m *memTree) append(t testing.TB, entry []byte) uint64 {
	idx, _, err := m.app.Append(entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.app.TakeNodes() {
		m.nodes[n.ID] = n.Hash
	}
	m.leaves = append(m.leaves, entry)
	return idx
}

// referenceRoot is the Merkle Tree Hash written straight from RFC 6962
// section 2.1, independent of the library: MTH of n > 1 leaves is
// SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest power of two
// below n.
func referenceRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		sum := sha256.Sum256(nil)
		return sum[:]
	case 1:
		sum := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return sum[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(referenceRoot(leaves[:k]))
	h.Write(referenceRoot(leaves[k:]))
	return h.Sum(nil)
}

// checkTree re-verifies the whole tree: the root against the reference
// implementation, and every leaf's inclusion proof against that root.
func checkTree(t *testing.T, m *memTree) {
	t.Helper()
	ctx := context.Background()
	size := uint64(len(m.leaves))
	root, err := RootAt(ctx, m, size)
	if err != nil {
		t.Fatal(err)
	}
	if want := referenceRoot(m.leaves); !bytes.Equal(root, want) {
		t.Fatalf("size %d: root %x, reference %x", size, root, want)
	}
	for i, leaf := range m.leaves {
		p, err := InclusionProof(ctx, m, uint64(i), size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(uint64(i), size, LeafHash(leaf), p, root); err != nil {
			t.Fatalf("size %d, leaf %d: %v", size, i, err)
		}
	}
	for old := uint64(1); old < size; old++ {
		p, err := ConsistencyProof(ctx, m, old, size)
		if err != nil {
			t.Fatal(err)
		}
		oldRoot := referenceRoot(m.leaves[:old])
		if err := VerifyConsistency(old, size, p, oldRoot, root); err != nil {
			t.Fatalf("consistency %d -> %d: %v", old, size, err)
		}
	}
}

func TestTreeAfterEveryAppend(t *testing.T) {
	m := newMemTree(t)
	checkTree(t, m)
	for i := 0; i < 70; i++ {
		m.append(t, []byte(fmt.Sprintf(`{"n":%d}`, i)))
		checkTree(t, m)
	}
}

// L1: one event, its proof is empty and verifies.
func TestSingleLeafProofIsEmpty(t *testing.T) {
	m := newMemTree(t)
	m.append(t, []byte("only"))
	p, err := InclusionProof(context.Background(), m, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 0 {
		t.Fatalf("proof has %d hashes, want 0", len(p))
	}
	root, _ := RootAt(context.Background(), m, 1)
	if err := VerifyInclusion(0, 1, LeafHash([]byte("only")), p, root); err != nil {
		t.Fatal(err)
	}
}

// L2: proofs from size 0 and empty proofs between different sizes are
// rejected; the empty tree's root is SHA-256 of nothing; two roots for one
// size are a fork.
func TestConsistencyEdgeCases(t *testing.T) {
	m := newMemTree(t)
	for i := 0; i < 5; i++ {
		m.append(t, []byte{byte(i)})
	}
	ctx := context.Background()
	if _, err := ConsistencyProof(ctx, m, 0, 5); err == nil {
		t.Error("consistency proof from size 0 was produced")
	}
	root5, _ := RootAt(ctx, m, 5)
	root3, _ := RootAt(ctx, m, 3)
	if err := VerifyConsistency(0, 5, nil, EmptyRoot(), root5); err == nil {
		t.Error("consistency proof from size 0 verified")
	}
	if err := VerifyConsistency(3, 5, [][]byte{}, root3, root5); err == nil {
		t.Error("empty consistency proof between 3 and 5 verified")
	}
	empty := sha256.Sum256(nil)
	if !bytes.Equal(EmptyRoot(), empty[:]) {
		t.Errorf("empty root %x, want %x", EmptyRoot(), empty)
	}
	if r, _ := RootAt(ctx, m, 0); !bytes.Equal(r, empty[:]) {
		t.Errorf("root at size 0 is %x", r)
	}
	var fork *ForkError
	if err := VerifyConsistency(5, 5, nil, root5, root3); !errors.As(err, &fork) {
		t.Errorf("two roots for size 5: %v, want a ForkError", err)
	}
}

// L3: the last leaf's proof verifies for sizes 1 to 70 and for every power
// of two up to 2^20 and one past it.
func TestLastLeafProofs(t *testing.T) {
	maxExp := 20
	if testing.Short() {
		maxExp = 14
	}
	m := newMemTree(t)
	sizes := map[uint64]bool{}
	for s := uint64(1); s <= 70; s++ {
		sizes[s] = true
	}
	for e := 0; e <= maxExp; e++ {
		sizes[1<<e] = true
		sizes[1<<e+1] = true
	}
	limit := uint64(1)<<maxExp + 1
	ctx := context.Background()
	var leaf [8]byte
	for i := uint64(0); i < limit; i++ {
		leaf[0], leaf[1], leaf[2], leaf[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		idx, _, err := m.app.Append(leaf[:])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.app.TakeNodes() {
			m.nodes[n.ID] = n.Hash
		}
		size := idx + 1
		if !sizes[size] {
			continue
		}
		root, err := m.app.Root()
		if err != nil {
			t.Fatal(err)
		}
		p, err := InclusionProof(ctx, m, idx, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(idx, size, LeafHash(leaf[:]), p, root); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
	}
}

func TestInclusionProofsBatchMatchesSingle(t *testing.T) {
	m := newMemTree(t)
	for i := 0; i < 300; i++ {
		m.append(t, []byte{byte(i), byte(i >> 8)})
	}
	ctx := context.Background()
	indexes := []uint64{0, 1, 2, 77, 128, 255, 256, 299, 77}
	batch, err := InclusionProofs(ctx, m, indexes, 300)
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range indexes {
		single, err := InclusionProof(ctx, m, idx, 300)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(single) != fmt.Sprint(batch[idx]) {
			t.Fatalf("index %d: batch proof differs", idx)
		}
	}
}

func TestProofBeyondTreeFails(t *testing.T) {
	m := newMemTree(t)
	m.append(t, []byte("a"))
	if _, err := InclusionProof(context.Background(), m, 0, 5); !errors.Is(err, ErrNodeMissing) {
		t.Fatalf("proof for a size larger than the tree: %v", err)
	}
}

func newTestKeys(t *testing.T, origin string) (*Signer, *Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestCheckpointRoundTrip(t *testing.T) {
	s, v := newTestKeys(t, "example.org/log")
	root := LeafHash([]byte("x"))
	signed, err := s.Sign(7, root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(signed), "example.org/log\n7\n") {
		t.Fatalf("checkpoint body:\n%s", signed)
	}
	cp, err := v.Open(signed)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 7 || !bytes.Equal(cp.Root, root) {
		t.Fatalf("opened %+v", cp)
	}
}

// L6: extra signatures by unknown keys do not matter; only unknown
// signatures fail.
func TestCheckpointCosignatures(t *testing.T) {
	s, v := newTestKeys(t, "example.org/log")
	root := LeafHash([]byte("x"))
	body := Checkpoint{Origin: "example.org/log", Size: 3, Root: root}.Body()
	witnessKey, _, err := note.GenerateKey(rand.Reader, "witness.example")
	if err != nil {
		t.Fatal(err)
	}
	witness, err := note.NewSigner(witnessKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, signers := range map[string][]note.Signer{
		"witness first": {witness, s.signer},
		"witness last":  {s.signer, witness},
	} {
		signed, err := note.Sign(&note.Note{Text: string(body)}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Open(signed); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	onlyWitness, err := note.Sign(&note.Note{Text: string(body)}, witness)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(onlyWitness); err == nil {
		t.Error("a checkpoint signed only by an unknown key verified")
	}
}

func TestCheckpointForeignLogRejected(t *testing.T) {
	other, _ := newTestKeys(t, "other.example/log")
	_, v := newTestKeys(t, "example.org/log")
	signed, err := other.Sign(1, LeafHash([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(signed); err == nil {
		t.Fatal("a checkpoint of another log verified")
	}
	// Same name, different key: a forgery.
	forger, _ := newTestKeys(t, "example.org/log")
	forged, _ := forger.Sign(1, LeafHash([]byte("x")))
	if _, err := v.Open(forged); err == nil {
		t.Fatal("a forged checkpoint verified")
	}
}
