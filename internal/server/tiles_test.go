package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	sumdb "golang.org/x/mod/sumdb/tlog"

	"github.com/steward-rehab/steward/internal/registry"
)

// tileReader fetches tiles from the server for golang.org/x/mod/sumdb/tlog,
// an implementation of tiled logs independent of Steward's, translating
// its tile/8/L/N paths into the C2SP tile/L/N layout.
type tileReader struct {
	h       *harness
	fetched int
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []sumdb.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		status, body := r.h.do(registry.RoleAuditor, "GET", "/api/v1/log/"+path, "", nil)
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, status, body)
		}
		r.fetched++
		out[i] = body
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]sumdb.Tile, [][]byte) {}

// readCheckpoint fetches and verifies the checkpoint, and returns its size
// and root.
func (h *harness) readCheckpoint() (int64, sumdb.Hash) {
	h.t.Helper()
	status, raw := h.do(registry.RoleAuditor, "GET", "/api/v1/log/checkpoint", "", nil)
	if status != http.StatusOK {
		h.t.Fatalf("GET checkpoint: %d %s", status, raw)
	}
	verifier, err := note.NewVerifier(h.reg.VerifierKey())
	if err != nil {
		h.t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(verifier))
	if err != nil {
		h.t.Fatalf("checkpoint does not verify with the log key: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 || lines[0] != h.reg.Origin() {
		h.t.Fatalf("checkpoint text %q does not start with origin %s", n.Text, h.reg.Origin())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		h.t.Fatal(err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != sumdb.HashSize {
		h.t.Fatalf("checkpoint root %q: %v", lines[2], err)
	}
	var root sumdb.Hash
	copy(root[:], rootBytes)
	return size, root
}

// readEntries fetches the entry bundles of the first size entries.
func (h *harness) readEntries(size int64) [][]byte {
	h.t.Helper()
	var entries [][]byte
	for n := int64(0); n*tileWidth < size; n++ {
		width := min(size-n*tileWidth, tileWidth)
		path := "tile/entries/" + encodeTileIndex(uint64(n))
		if width < tileWidth {
			path += ".p/" + strconv.FormatInt(width, 10)
		}
		status, body := h.do(registry.RoleAuditor, "GET", "/api/v1/log/"+path, "", nil)
		if status != http.StatusOK {
			h.t.Fatalf("GET %s: %d %s", path, status, body)
		}
		for len(body) > 0 {
			if len(body) < 2 {
				h.t.Fatalf("%s: truncated length prefix", path)
			}
			l := int(binary.BigEndian.Uint16(body))
			if len(body) < 2+l {
				h.t.Fatalf("%s: entry of %d bytes is truncated", path, l)
			}
			entries = append(entries, body[2:2+l])
			body = body[2+l:]
		}
	}
	if int64(len(entries)) != size {
		h.t.Fatalf("entry bundles hold %d entries, the checkpoint says %d", len(entries), size)
	}
	return entries
}

// growLog appends n access events, so the tree has more than one level of
// tiles.
func (h *harness) growLog(n int) {
	h.t.Helper()
	for i := 0; i < n; i++ {
		if _, err := h.reg.IssueToken(context.Background(), registry.TokenSpec{Role: registry.RoleAuditor}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func TestTilesVerifyWithSumdbTlog(t *testing.T) {
	h := newHarness(t)
	oldSize, oldRoot := h.readCheckpoint()
	h.growLog(300)
	size, root := h.readCheckpoint()
	if size <= tileWidth {
		t.Fatalf("log has %d entries, want more than %d for level-1 tiles", size, tileWidth)
	}

	// The tree hash from the tiles must be the signed root.
	reader := &tileReader{h: h}
	hashes := sumdb.TileHashReader(sumdb.Tree{N: size, Hash: root}, reader)
	got, err := sumdb.TreeHash(size, hashes)
	if err != nil {
		t.Fatalf("tree hash from tiles: %v", err)
	}
	if got != root {
		t.Fatalf("tree hash from tiles %v, checkpoint root %v", got, root)
	}

	// Every entry of the bundles is in the tree, by a proof built from tiles.
	entries := h.readEntries(size)
	for i, entry := range entries {
		if i%37 != 0 && i != len(entries)-1 {
			continue
		}
		proof, err := sumdb.ProveRecord(size, int64(i), hashes)
		if err != nil {
			t.Fatalf("prove entry %d from tiles: %v", i, err)
		}
		if err := sumdb.CheckRecord(proof, size, root, int64(i), sumdb.RecordHash(entry)); err != nil {
			t.Errorf("entry %d from the bundle is not in the tree: %v", i, err)
		}
	}

	// The earlier checkpoint is a prefix of the new one, by tiles and by
	// the consistency endpoint.
	treeProof, err := sumdb.ProveTree(size, oldSize, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if err := sumdb.CheckTree(treeProof, size, root, oldSize, oldRoot); err != nil {
		t.Errorf("consistency from tiles: %v", err)
	}
	status, raw := h.do(registry.RoleAuditor, "GET", fmt.Sprintf("/api/v1/log/consistency?from=%d", oldSize), "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET consistency: %d %s", status, raw)
	}
	var consistency struct{ Proof [][]byte }
	if err := json.Unmarshal(raw, &consistency); err != nil {
		t.Fatal(err)
	}
	if err := sumdb.CheckTree(toHashes(t, consistency.Proof), size, root, oldSize, oldRoot); err != nil {
		t.Errorf("consistency proof of the endpoint: %v", err)
	}

	// A receipt's inclusion proof checks against the same root.
	index := int64(5)
	status, raw = h.do(registry.RoleAuditor, "GET", fmt.Sprintf("/api/v1/log/entries/%d/receipt", index), "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET receipt: %d %s", status, raw)
	}
	var receipt struct {
		Entry          []byte
		TreeSize       int64
		InclusionProof [][]byte
	}
	if err := json.Unmarshal(raw, &receipt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(receipt.Entry, entries[index]) {
		t.Errorf("receipt entry differs from the bundle's entry %d", index)
	}

	// Indexes are decimal: a zero-padded one means the same entry, and
	// base prefixes or digit separators are rejected.
	status, padded := h.do(registry.RoleAuditor, "GET", "/api/v1/log/entries/005/receipt", "", nil)
	if status != http.StatusOK || !bytes.Equal(padded, raw) {
		t.Errorf("GET receipt of 005: %d, same as 5: %v", status, bytes.Equal(padded, raw))
	}
	for _, bad := range []string{"0x5", "0b101", "5_0", "+5", "5abc"} {
		if status, body := h.do(registry.RoleAuditor, "GET", "/api/v1/log/entries/"+bad+"/receipt", "", nil); status != http.StatusBadRequest {
			t.Errorf("GET receipt of %s: %d %s, want 400", bad, status, body)
		}
	}
	if receipt.TreeSize != size {
		t.Fatalf("receipt for tree size %d, checkpoint size %d", receipt.TreeSize, size)
	}
	if err := sumdb.CheckRecord(toHashes(t, receipt.InclusionProof), size, root, index, sumdb.RecordHash(receipt.Entry)); err != nil {
		t.Errorf("receipt proof: %v", err)
	}
}

func toHashes(t *testing.T, raw [][]byte) []sumdb.Hash {
	t.Helper()
	out := make([]sumdb.Hash, len(raw))
	for i, h := range raw {
		if len(h) != sumdb.HashSize {
			t.Fatalf("proof hash %d has %d bytes", i, len(h))
		}
		copy(out[i][:], h)
	}
	return out
}

func TestTilePaths(t *testing.T) {
	good := map[string]tilePath{
		"0/000":                {level: 0, index: 0, width: 256},
		"0/x001/x234/067":      {level: 0, index: 1234067, width: 256},
		"2/001.p/17":           {level: 2, index: 1, width: 17},
		"entries/x001/000.p/5": {entries: true, index: 1000, width: 5},
	}
	for path, want := range good {
		got, err := parseTilePath(path)
		if err != nil || got != want {
			t.Errorf("parse %q = %+v, %v; want %+v", path, got, err, want)
		}
	}
	for _, path := range []string{"", "0", "00/000", "0/1", "0/x000/001", "0/001.p/0", "0/001.p/256", "0/001.p/05", "64/000", "entries/000.p", "0/../000", "0/x1234/000"} {
		if _, err := parseTilePath(path); err == nil {
			t.Errorf("parse %q succeeded, want an error", path)
		}
	}
}

func TestTileBeyondCheckpoint(t *testing.T) {
	h := newHarness(t)
	size, _ := h.readCheckpoint()
	for _, path := range []string{
		"tile/0/000",
		fmt.Sprintf("tile/0/000.p/%d", size+1),
		"tile/1/000.p/1",
		"tile/entries/001",
	} {
		status, raw := h.do(registry.RoleAuditor, "GET", "/api/v1/log/"+path, "", nil)
		if status != http.StatusNotFound {
			t.Errorf("GET %s with a log of %d entries: %d %s, want 404", path, size, status, raw)
		}
	}
}

// treeHashFromTiles computes the tree hash of the given size from the
// server's tiles with golang.org/x/mod/sumdb/tlog.
func treeHashFromTiles(h *harness, size int64, root sumdb.Hash) (sumdb.Hash, error) {
	return sumdb.TreeHash(size, sumdb.TileHashReader(sumdb.Tree{N: size, Hash: root}, &tileReader{h: h}))
}
