package server

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"

	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

// The C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles): a tile holds
// up to 256 hashes of one tree level that is a multiple of 8, and an entry
// bundle up to 256 entries, each prefixed with its length as a big-endian
// uint16.
const (
	tileHeight = 8
	tileWidth  = 1 << tileHeight
)

// latestCheckpoint returns the newest signed checkpoint. Tiles and proofs
// are served only up to its size, so a client can verify everything it
// reads against a signed root.
func (s *Server) latestCheckpoint(r *http.Request) (storage.Checkpoint, error) {
	var cp storage.Checkpoint
	err := s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		var err error
		cp, err = tx.LatestCheckpoint(r.Context())
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return cp, newError(http.StatusNotFound, "no checkpoint has been signed yet")
	}
	return cp, err
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request, _ principal) error {
	cp, err := s.latestCheckpoint(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, max-age=0")
	_, err = w.Write(cp.Note)
	return err
}

// tilePath is a parsed tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>].
type tilePath struct {
	entries bool
	level   uint
	index   uint64
	width   uint64 // 256 for a full tile
}

var errBadTilePath = newError(http.StatusBadRequest, "invalid tile path: use tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>] with <N> in zero-padded groups of three digits, such as x001/x234/067")

// parseTilePath parses the part after tile/. It accepts only the canonical
// form, so each tile has exactly one path.
func parseTilePath(p string) (tilePath, error) {
	var t tilePath
	parts := strings.Split(p, "/")
	if len(parts) < 2 {
		return t, errBadTilePath
	}
	if parts[0] == "entries" {
		t.entries = true
	} else {
		level, err := strconv.ParseUint(parts[0], 10, 8)
		if err != nil || level > 63 || strconv.FormatUint(level, 10) != parts[0] {
			return t, errBadTilePath
		}
		t.level = uint(level)
	}
	parts = parts[1:]

	t.width = tileWidth
	if n := len(parts); n >= 2 && strings.HasSuffix(parts[n-2], ".p") {
		w, err := strconv.ParseUint(parts[n-1], 10, 16)
		if err != nil || w < 1 || w >= tileWidth || strconv.FormatUint(w, 10) != parts[n-1] {
			return t, errBadTilePath
		}
		t.width = w
		parts[n-2] = strings.TrimSuffix(parts[n-2], ".p")
		parts = parts[:n-1]
	}

	for i, part := range parts {
		digits := part
		if i < len(parts)-1 {
			if !strings.HasPrefix(part, "x") {
				return t, errBadTilePath
			}
			digits = part[1:]
		}
		v, err := strconv.ParseUint(digits, 10, 16)
		if err != nil || len(digits) != 3 || v > 999 {
			return t, errBadTilePath
		}
		if t.index > (1<<63)/1000 {
			return t, errBadTilePath
		}
		t.index = t.index*1000 + v
	}
	if encodeTileIndex(t.index) != strings.Join(parts, "/") {
		return t, errBadTilePath
	}
	return t, nil
}

// encodeTileIndex writes n as zero-padded groups of three digits, all but
// the last prefixed with x.
func encodeTileIndex(n uint64) string {
	groups := []string{fmt.Sprintf("%03d", n%1000)}
	for n /= 1000; n > 0; n /= 1000 {
		groups = append([]string{fmt.Sprintf("x%03d", n%1000)}, groups...)
	}
	return strings.Join(groups, "/")
}

func (s *Server) tile(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := parseTilePath(r.PathValue("path"))
	if err != nil {
		return err
	}
	cp, err := s.latestCheckpoint(r)
	if err != nil {
		return err
	}

	// The tile needs hashes (or entries) [index*256, index*256+width) of
	// its level, and the signed tree has size >> (8*level) of them.
	var available uint64
	if shift := tileHeight * t.level; shift < 64 {
		available = cp.Size >> shift
	}
	if t.index >= available/tileWidth+1 || t.index*tileWidth+t.width > available {
		return newError(http.StatusNotFound, "tile not found: the log's newest checkpoint has size %d", cp.Size)
	}

	first := t.index * tileWidth
	var body []byte
	err = s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		if t.entries {
			body, err = entryBundle(r, tx, first, first+t.width)
			return err
		}
		ids := make([]compact.NodeID, t.width)
		for i := range ids {
			ids[i] = compact.NewNodeID(tileHeight*t.level, first+uint64(i))
		}
		hashes, err := tx.ReadNodes(r.Context(), ids)
		if err != nil {
			return err
		}
		body = make([]byte, 0, len(hashes)*tlog.HashSize)
		for _, h := range hashes {
			body = append(body, h...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A tile's content never changes: a partial tile of width W stays the
	// same when the full tile appears beside it.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, err = w.Write(body)
	return err
}

func entryBundle(r *http.Request, tx storage.ReadTx, from, to uint64) ([]byte, error) {
	var body []byte
	err := tx.Entries(r.Context(), from, to, func(idx uint64, entry []byte) error {
		if len(entry) > 0xffff {
			return fmt.Errorf("entry %d is %d bytes, more than an entry bundle's 16-bit length prefix can hold", idx, len(entry))
		}
		body = binary.BigEndian.AppendUint16(body, uint16(len(entry)))
		body = append(body, entry...)
		return nil
	})
	return body, err
}

// receiptJSON proves that one event is in the log: the entry, its RFC 6962
// inclusion proof, and the signed checkpoint the proof leads to.
type receiptJSON struct {
	Index      uint64   `json:"index"`
	Entry      string   `json:"entry"`
	LeafHash   string   `json:"leafHash"`
	TreeSize   uint64   `json:"treeSize"`
	Proof      []string `json:"inclusionProof"`
	Checkpoint string   `json:"checkpoint"`
}

func (s *Server) receipt(w http.ResponseWriter, r *http.Request, _ principal) error {
	index, err := pathIndex(r, "index")
	if err != nil {
		return err
	}
	cp, err := s.latestCheckpoint(r)
	if err != nil {
		return err
	}
	if index >= cp.Size {
		return newError(http.StatusNotFound, "entry %d not found: the log's newest checkpoint has size %d", index, cp.Size)
	}
	out := receiptJSON{Index: index, TreeSize: cp.Size, Checkpoint: string(cp.Note)}
	err = s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		err := tx.EntriesAt(r.Context(), []uint64{index}, func(_ uint64, entry []byte) error {
			out.Entry = base64.StdEncoding.EncodeToString(entry)
			out.LeafHash = base64.StdEncoding.EncodeToString(tlog.LeafHash(entry))
			return nil
		})
		if err != nil {
			return err
		}
		proof, err := tlog.InclusionProof(r.Context(), tx, index, cp.Size)
		if err != nil {
			return err
		}
		out.Proof = encodeHashes(proof)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func encodeHashes(hashes [][]byte) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}

func (s *Server) consistency(w http.ResponseWriter, r *http.Request, _ principal) error {
	cp, err := s.latestCheckpoint(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := strconv.ParseUint(q.Get("from"), 10, 64)
	if err != nil || from == 0 {
		return newError(http.StatusBadRequest, "invalid from %q: give the size (1 or more) of a checkpoint you hold", q.Get("from"))
	}
	to := cp.Size
	if v := q.Get("to"); v != "" {
		if to, err = strconv.ParseUint(v, 10, 64); err != nil {
			return newError(http.StatusBadRequest, "invalid to %q: give a tree size", v)
		}
	}
	if from > to || to > cp.Size {
		return newError(http.StatusBadRequest, "invalid sizes from %d to %d: need 1 <= from <= to <= %d, the newest checkpoint's size", from, to, cp.Size)
	}
	var proof [][]byte
	err = s.reg.Store().View(r.Context(), func(tx storage.ReadTx) error {
		proof, err = tlog.ConsistencyProof(r.Context(), tx, from, to)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "proof": encodeHashes(proof), "checkpoint": string(cp.Note)})
	return nil
}
