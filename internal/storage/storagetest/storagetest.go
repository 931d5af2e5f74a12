// Package storagetest is the conformance suite that every storage engine
// runs unchanged: SQLite and PostgreSQL for storage.Store, a folder and S3
// for the blob store.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

// Opener returns a new, empty store for one test. The suite closes it.
type Opener func(t *testing.T) storage.Store

// Run runs every conformance test against the engine.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"AppendRequiresCurrentSize", testAppendRequiresCurrentSize},
		{"RollbackLeavesNothing", testRollbackLeavesNothing},
		{"ConcurrentAppendsAreGapless", testConcurrentAppends},
		{"Checkpoints", testCheckpoints},
		{"Participants", testParticipants},
		{"Samples", testSamples},
		{"SamplesInBulk", testSamplesInBulk},
		{"ConsentRecords", testConsentRecords},
		{"ConsentImports", testConsentImports},
		{"Releases", testReleases},
		{"IterationAcrossPages", testIterationAcrossPages},
		{"Tokens", testTokens},
	}
	tests = append(tests, ledgerTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// appendEntries appends entries in one transaction the way the registry
// does: lock, extend the tree, store entries and nodes together.
func appendEntries(ctx context.Context, s storage.Store, entries ...[]byte) (uint64, error) {
	var first uint64
	err := s.Update(ctx, func(tx storage.Tx) error {
		size, err := tx.LockLog(ctx)
		if err != nil {
			return err
		}
		app, err := tlog.NewAppender(ctx, tx, size)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if _, _, err := app.Append(e); err != nil {
				return err
			}
		}
		first = size
		return tx.AppendEntries(ctx, size, entries, app.TakeNodes())
	})
	return first, err
}

// checkLog re-derives the whole tree from the stored entries and compares
// every stored node and the root, the check that runs after every step.
func checkLog(t *testing.T, s storage.Store, want [][]byte) {
	t.Helper()
	ctx := context.Background()
	err := s.View(ctx, func(tx storage.ReadTx) error {
		size, err := tx.LogSize(ctx)
		if err != nil {
			return err
		}
		if size != uint64(len(want)) {
			return fmt.Errorf("log size %d, want %d", size, len(want))
		}
		cr := (&compact.RangeFactory{Hash: tlog.Hasher.HashChildren}).NewEmptyRange(0)
		var ids []compact.NodeID
		var hashes [][]byte
		err = tx.Entries(ctx, 0, size, func(idx uint64, entry []byte) error {
			if !bytes.Equal(entry, want[idx]) {
				return fmt.Errorf("entry %d is %q, want %q", idx, entry, want[idx])
			}
			return cr.Append(tlog.LeafHash(entry), func(id compact.NodeID, h []byte) {
				ids = append(ids, id)
				hashes = append(hashes, h)
			})
		})
		if err != nil {
			return err
		}
		stored, err := tx.ReadNodes(ctx, ids)
		if err != nil {
			return err
		}
		for i := range ids {
			if !bytes.Equal(stored[i], hashes[i]) {
				return fmt.Errorf("node %v differs", ids[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAppendAndRead(t *testing.T, s storage.Store) {
	ctx := context.Background()
	var want [][]byte
	for i := 0; i < 40; i++ {
		batch := [][]byte{[]byte(fmt.Sprintf(`{"i":%d}`, i))}
		if i%5 == 0 {
			batch = append(batch, []byte(fmt.Sprintf(`{"i":%d,"b":1}`, i)))
		}
		first, err := appendEntries(ctx, s, batch...)
		if err != nil {
			t.Fatal(err)
		}
		if first != uint64(len(want)) {
			t.Fatalf("batch appended at %d, want %d", first, len(want))
		}
		want = append(want, batch...)
		checkLog(t, s, want)
	}

	err := s.View(ctx, func(tx storage.ReadTx) error {
		var got []uint64
		if err := tx.EntriesAt(ctx, []uint64{7, 3, 7, 0}, func(idx uint64, e []byte) error {
			got = append(got, idx)
			if !bytes.Equal(e, want[idx]) {
				return fmt.Errorf("entry %d differs", idx)
			}
			return nil
		}); err != nil {
			return err
		}
		if fmt.Sprint(got) != "[0 3 7]" {
			return fmt.Errorf("EntriesAt returned %v", got)
		}
		if err := tx.EntriesAt(ctx, []uint64{1, 9999}, func(uint64, []byte) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("EntriesAt of a missing index: %v", err)
		}
		if err := tx.Entries(ctx, 0, 9999, func(uint64, []byte) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("Entries past the end: %v", err)
		}
		_, err := tx.ReadNodes(ctx, []compact.NodeID{compact.NewNodeID(0, 9999)})
		if !errors.Is(err, tlog.ErrNodeMissing) {
			return fmt.Errorf("ReadNodes of a missing node: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAppendRequiresCurrentSize(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if _, err := appendEntries(ctx, s, []byte("a")); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(tx storage.Tx) error {
		return tx.AppendEntries(ctx, 5, [][]byte{[]byte("b")}, nil)
	})
	if err == nil {
		t.Fatal("append at a wrong index was accepted")
	}
	checkLog(t, s, [][]byte{[]byte("a")})
}

func testRollbackLeavesNothing(t *testing.T, s storage.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx storage.Tx) error {
		size, err := tx.LockLog(ctx)
		if err != nil {
			return err
		}
		app, _ := tlog.NewAppender(ctx, tx, size)
		app.Append([]byte("x"))
		if err := tx.AppendEntries(ctx, size, [][]byte{[]byte("x")}, app.TakeNodes()); err != nil {
			return err
		}
		if err := tx.InsertParticipant(ctx, newParticipant("p-rollback", "ns", "S1"), []byte("key")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	checkLog(t, s, nil)
	err = s.View(ctx, func(tx storage.ReadTx) error {
		_, err := tx.Participant(ctx, "p-rollback")
		return err
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("participant after rollback: %v", err)
	}
}

// testConcurrentAppends appends from many goroutines at once: every entry
// must land exactly once, with gapless indexes.
func testConcurrentAppends(t *testing.T, s storage.Store) {
	ctx := context.Background()
	const writers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := appendEntries(ctx, s, []byte(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var all [][]byte
	err := s.View(ctx, func(tx storage.ReadTx) error {
		size, _ := tx.LogSize(ctx)
		return tx.Entries(ctx, 0, size, func(_ uint64, e []byte) error {
			seen[string(e)] = true
			all = append(all, bytes.Clone(e))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d entries, %d distinct, want %d", len(all), len(seen), writers*each)
	}
	checkLog(t, s, all)
}

func testCheckpoints(t *testing.T, s storage.Store) {
	ctx := context.Background()
	err := s.View(ctx, func(tx storage.ReadTx) error {
		_, err := tx.LatestCheckpoint(ctx)
		return err
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("LatestCheckpoint of a new store: %v", err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	cps := []storage.Checkpoint{
		{Size: 1, Root: bytes.Repeat([]byte{1}, 32), Note: []byte("note1"), SignedAt: at},
		{Size: 4, Root: bytes.Repeat([]byte{4}, 32), Note: []byte("note4"), SignedAt: at.Add(time.Second)},
	}
	for _, cp := range append(cps, cps[0]) { // storing one twice is a no-op
		if err := s.Update(ctx, func(tx storage.Tx) error { return tx.PutCheckpoint(ctx, cp) }); err != nil {
			t.Fatal(err)
		}
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		latest, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		if latest.Size != 4 || string(latest.Note) != "note4" || !latest.SignedAt.Equal(at.Add(time.Second)) {
			return fmt.Errorf("latest %+v", latest)
		}
		var sizes []uint64
		if err := tx.Checkpoints(ctx, func(cp storage.Checkpoint) error { sizes = append(sizes, cp.Size); return nil }); err != nil {
			return err
		}
		if fmt.Sprint(sizes) != "[1 4]" {
			return fmt.Errorf("checkpoints %v", sizes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newParticipant(pseudonym, ns, source string) storage.Participant {
	age := 71.0
	return storage.Participant{
		Pseudonym: pseudonym, Namespace: ns, SourceID: source,
		Attributes:   participant.Attributes{AgeYears: &age, Sex: "female", Scores: []participant.Score{{Scale: participant.ScaleHoehnYahr, Value: 2.5}}},
		Salt:         []byte("salt"),
		RegisteredAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		EventIndex:   3,
	}
}

func testParticipants(t *testing.T, s storage.Store) {
	ctx := context.Background()
	insert := func(p storage.Participant) error {
		return s.Update(ctx, func(tx storage.Tx) error { return tx.InsertParticipant(ctx, p, []byte("wrapped-"+p.Pseudonym)) })
	}
	for _, p := range []storage.Participant{newParticipant("p-a", "gaitpdb", "GaPt03"), newParticipant("p-b", "manifest", "GaPt03"), newParticipant("p-c", "manifest", "P017")} {
		if err := insert(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := insert(newParticipant("p-d", "gaitpdb", "GaPt03")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate source id: %v, want ErrConflict", err)
	}
	if err := insert(newParticipant("p-a", "other", "X")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate pseudonym: %v, want ErrConflict", err)
	}
	err := s.Update(ctx, func(tx storage.Tx) error {
		return tx.UpdateAttributes(ctx, "p-c", participant.Attributes{Condition: "stroke"}, []byte("salt2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		p, err := tx.Participant(ctx, "p-a")
		if err != nil {
			return err
		}
		if *p.Attributes.AgeYears != 71 || p.Attributes.Scores[0].Value != 2.5 || p.EventIndex != 3 || !p.RegisteredAt.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
			return fmt.Errorf("participant read back as %+v", p)
		}
		both, err := tx.ParticipantsBySource(ctx, "", "GaPt03")
		if err != nil || len(both) != 2 {
			return fmt.Errorf("by source in any namespace: %v %v", both, err)
		}
		one, err := tx.ParticipantsBySource(ctx, "gaitpdb", "GaPt03")
		if err != nil || len(one) != 1 || one[0].Pseudonym != "p-a" {
			return fmt.Errorf("by source in a namespace: %v %v", one, err)
		}
		c, err := tx.Participant(ctx, "p-c")
		if err != nil || c.Attributes.Condition != "stroke" || string(c.Salt) != "salt2" {
			return fmt.Errorf("updated participant: %+v %v", c, err)
		}
		key, err := tx.DataKey(ctx, "p-b")
		if err != nil || string(key) != "wrapped-p-b" {
			return fmt.Errorf("data key: %q %v", key, err)
		}
		if _, err := tx.Participant(ctx, "p-zzz"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing participant: %v", err)
		}
		n := 0
		return tx.Participants(ctx, func(storage.Participant) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newSample(id, participant, digest, modality, external string) storage.Sample {
	at := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	return storage.Sample{
		ID: id, Participant: participant, Digest: digest, Size: 1234, DurationSeconds: 2.5,
		Provenance: provenance.Record{Modality: modality, Format: "wav", SamplingRate: 16000, CollectorID: "c",
			Device: provenance.Device{Model: "H5", Firmware: "2.1"}, CapturedAt: &at, Protocol: "p", LabelSchemaVersion: "1", ConsentVersion: "v1"},
		ExternalID: external, Source: map[string]string{"file": "a.wav"}, BlobKey: "participants/" + participant + "/" + digest,
		RegisteredAt: at, EventIndex: 9,
	}
}

func testSamples(t *testing.T, s storage.Store) {
	ctx := context.Background()
	if err := s.Update(ctx, func(tx storage.Tx) error {
		return tx.InsertParticipant(ctx, newParticipant("p-a", "ns", "A"), []byte("k"))
	}); err != nil {
		t.Fatal(err)
	}
	insert := func(smp storage.Sample) error {
		return s.Update(ctx, func(tx storage.Tx) error { return tx.InsertSample(ctx, smp) })
	}
	for _, smp := range []storage.Sample{
		newSample("s-2", "p-a", "sha256:02", "voice", "ext-2"),
		newSample("s-1", "p-a", "sha256:01", "pressure", ""),
		newSample("s-3", "p-a", "sha256:03", "voice", ""),
	} {
		if err := insert(smp); err != nil {
			t.Fatal(err)
		}
	}
	if err := insert(newSample("s-4", "p-a", "sha256:01", "voice", "")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate digest: %v, want ErrConflict", err)
	}
	if err := insert(newSample("s-5", "p-a", "sha256:05", "voice", "ext-2")); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate external id: %v, want ErrConflict", err)
	}
	err := s.View(ctx, func(tx storage.ReadTx) error {
		got, err := tx.SampleByDigest(ctx, "sha256:02")
		if err != nil {
			return err
		}
		want := newSample("s-2", "p-a", "sha256:02", "voice", "ext-2")
		if got.ID != want.ID || got.ExternalID != "ext-2" || got.Provenance.Device.Model != "H5" || !got.Provenance.CapturedAt.Equal(*want.Provenance.CapturedAt) ||
			got.Source["file"] != "a.wav" || got.DurationSeconds != 2.5 || got.EventIndex != 9 {
			return fmt.Errorf("sample read back as %+v", got)
		}
		if _, err := tx.SampleByExternalID(ctx, "ext-2"); err != nil {
			return err
		}
		if _, err := tx.Sample(ctx, "s-404"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing sample: %v", err)
		}
		var ids []string
		if err := tx.Samples(ctx, storage.SampleFilter{Modalities: []string{"voice"}}, func(s storage.Sample) error {
			ids = append(ids, s.ID)
			return nil
		}); err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[s-2 s-3]" {
			return fmt.Errorf("voice samples %v", ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testSamplesInBulk inserts and looks up more samples than one statement
// carries, and checks that a conflict anywhere in the call is reported.
func testSamplesInBulk(t *testing.T, s storage.Store) {
	ctx := context.Background()
	const n = 450
	var samples []storage.Sample
	var digests []string
	for i := range n {
		external := ""
		if i%3 == 0 {
			external = fmt.Sprintf("ext-%d", i)
		}
		smp := newSample(fmt.Sprintf("s-%04d", i), "p-a", fmt.Sprintf("sha256:%04d", i), "sensor", external)
		smp.EventIndex = uint64(100 + i)
		samples = append(samples, smp)
		digests = append(digests, smp.Digest)
	}
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.InsertParticipant(ctx, newParticipant("p-a", "ns", "A"), []byte("k")); err != nil {
			return err
		}
		return tx.InsertSamples(ctx, samples)
	})
	if err != nil {
		t.Fatal(err)
	}

	err = s.View(ctx, func(tx storage.ReadTx) error {
		found, err := tx.SamplesByDigest(ctx, append(digests, "sha256:absent"))
		if err != nil {
			return err
		}
		if len(found) != n {
			return fmt.Errorf("SamplesByDigest found %d samples, want %d", len(found), n)
		}
		got := found["sha256:0301"]
		if got.ID != "s-0301" || got.EventIndex != 401 || got.Provenance.Modality != "sensor" || got.Source["file"] != "a.wav" {
			return fmt.Errorf("sample read back as %+v", got)
		}
		if _, ok := found["sha256:absent"]; ok {
			return errors.New("SamplesByDigest returned an unknown digest")
		}
		if byExternal, err := tx.SampleByExternalID(ctx, "ext-300"); err != nil || byExternal.ID != "s-0300" {
			return fmt.Errorf("external id of a bulk-inserted sample: %+v %v", byExternal, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A digest that exists, at the end of a call of more than one statement.
	clash := make([]storage.Sample, 0, 301)
	for i := range 300 {
		clash = append(clash, newSample(fmt.Sprintf("s-new-%04d", i), "p-a", fmt.Sprintf("sha256:new-%04d", i), "sensor", ""))
	}
	clash = append(clash, newSample("s-new-last", "p-a", "sha256:0007", "sensor", ""))
	err = s.Update(ctx, func(tx storage.Tx) error { return tx.InsertSamples(ctx, clash) })
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("InsertSamples with an existing digest: %v, want ErrConflict", err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		found, err := tx.SamplesByDigest(ctx, []string{"sha256:new-0000", "sha256:new-0299"})
		if err != nil {
			return err
		}
		if len(found) != 0 {
			return fmt.Errorf("a rolled-back InsertSamples left %d samples", len(found))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testConsentRecords(t *testing.T, s storage.Store) {
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, p := range []string{"p-a", "p-b"} {
			if err := tx.InsertParticipant(ctx, newParticipant(p, "ns", p), []byte("k")); err != nil {
				return err
			}
		}
		recs := []struct {
			r   consent.Record
			idx uint64
		}{
			{consent.Record{ID: "c-2", Participant: "p-a", Action: consent.ActionWithdraw, Tiers: []string{"research"}, Modalities: []string{"voice"}, From: at, SignedAt: at}, 20},
			{consent.Record{ID: "c-1", Participant: "p-a", Action: consent.ActionGrant, Decision: consent.Permit, Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}, From: at, SignedAt: at}, 10},
			{consent.Record{ID: "c-3", Participant: "p-b", Action: consent.ActionGrant, Decision: consent.Permit, Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}, From: at, SignedAt: at}, 30},
		}
		for _, rc := range recs {
			if err := tx.InsertConsentRecord(ctx, rc.r, rc.idx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		recs, err := tx.ConsentRecords(ctx, "p-a")
		if err != nil {
			return err
		}
		if len(recs) != 2 || recs[0].ID != "c-1" || recs[0].Seq != 10 || recs[1].Seq != 20 || !recs[0].From.Equal(at) {
			return fmt.Errorf("history of p-a: %+v", recs)
		}
		var people []string
		if err := tx.AllConsentRecords(ctx, func(p string, recs []consent.Record) error {
			people = append(people, fmt.Sprintf("%s:%d", p, len(recs)))
			return nil
		}); err != nil {
			return err
		}
		if fmt.Sprint(people) != "[p-a:2 p-b:1]" {
			return fmt.Errorf("all histories %v", people)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testConsentImports records imported resources for two participants,
// rejects a key recorded before, and checks that erasing a participant
// deletes their keys.
func testConsentImports(t *testing.T, s storage.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx storage.Tx) error {
		for _, p := range []string{"p-a", "p-b"} {
			if err := tx.InsertParticipant(ctx, newParticipant(p, "ns", p), []byte("k")); err != nil {
				return err
			}
		}
		if err := tx.InsertConsentImports(ctx, "p-a", map[string]string{"Consent/1": "sha256:aa", "Consent/2": "sha256:bb"}, 7); err != nil {
			return err
		}
		return tx.InsertConsentImports(ctx, "p-b", map[string]string{"Consent/1": "sha256:cc"}, 9)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx storage.Tx) error {
		return tx.InsertConsentImports(ctx, "p-a", map[string]string{"Consent/2": "sha256:dd"}, 11)
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("recording a key again: %v, want ErrConflict", err)
	}
	read := func(p string) map[string]string {
		t.Helper()
		var out map[string]string
		if err := s.View(ctx, func(tx storage.ReadTx) error {
			var err error
			out, err = tx.ConsentImports(ctx, p)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := read("p-a"); fmt.Sprint(got) != "map[Consent/1:sha256:aa Consent/2:sha256:bb]" {
		t.Errorf("imports of p-a: %v", got)
	}
	if got := read("p-c"); got == nil || len(got) != 0 {
		t.Errorf("imports of a participant without any: %#v, want an empty map", got)
	}
	if err := s.Update(ctx, func(tx storage.Tx) error {
		return tx.EraseParticipant(ctx, "p-a", "erased:x", time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if got := read("p-a"); len(got) != 0 {
		t.Errorf("imports of p-a after erasure: %v", got)
	}
	if got := read("p-b"); len(got) != 1 {
		t.Errorf("imports of p-b after p-a's erasure: %v", got)
	}
}

func testReleases(t *testing.T, s storage.Store) {
	ctx := context.Background()
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx storage.Tx) error {
		if err := tx.InsertParticipant(ctx, newParticipant("p-a", "ns", "A"), []byte("k")); err != nil {
			return err
		}
		for _, smp := range []storage.Sample{newSample("s-1", "p-a", "sha256:01", "voice", ""), newSample("s-2", "p-a", "sha256:02", "voice", "")} {
			if err := tx.InsertSample(ctx, smp); err != nil {
				return err
			}
		}
		err := tx.InsertRelease(ctx, storage.Release{
			ID: "r-1", Purpose: "research", Modalities: []string{"voice"}, BuiltAt: at, ManifestDigest: "sha256:m",
			SampleCount: 2, EventIndex: 44,
		})
		if err != nil {
			return err
		}
		if err := tx.AddReleaseSamples(ctx, "r-1", []string{"s-2"}); err != nil {
			return err
		}
		return tx.AddReleaseSamples(ctx, "r-1", []string{"s-1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		r, err := tx.Release(ctx, "r-1")
		if err != nil {
			return err
		}
		if r.SampleCount != 2 || !r.BuiltAt.Equal(at) || r.Modalities[0] != "voice" || r.EventIndex != 44 {
			return fmt.Errorf("release read back as %+v", r)
		}
		var ids []string
		if err := tx.ReleaseSamples(ctx, "r-1", func(id string) error { ids = append(ids, id); return nil }); err != nil {
			return err
		}
		if fmt.Sprint(ids) != "[s-1 s-2]" {
			return fmt.Errorf("release samples %v", ids)
		}
		if _, err := tx.Release(ctx, "r-404"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("missing release: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testIterationAcrossPages iterates more rows than one page holds, in both
// sample orders, running other queries from inside the callback.
func testIterationAcrossPages(t *testing.T, s storage.Store) {
	ctx := context.Background()
	const people, each = 70, 37 // 2590 samples, several pages
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx storage.Tx) error {
		for p := 0; p < people; p++ {
			pseudonym := fmt.Sprintf("p-%03d", p)
			if err := tx.InsertParticipant(ctx, newParticipant(pseudonym, "ns", pseudonym), []byte("k")); err != nil {
				return err
			}
			rec := consent.Record{ID: "c-" + pseudonym, Participant: pseudonym, Action: consent.ActionGrant, Decision: consent.Permit,
				Document: "v1", Tiers: []string{"research"}, Modalities: []string{"voice"}, From: at, SignedAt: at}
			if err := tx.InsertConsentRecord(ctx, rec, uint64(p)); err != nil {
				return err
			}
			for i := 0; i < each; i++ {
				// Ids interleave participants, so the two orders differ.
				id := fmt.Sprintf("s-%03d-%03d", i, p)
				if err := tx.InsertSample(ctx, newSample(id, pseudonym, "sha256:"+id, "voice", "")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, byParticipant := range []bool{false, true} {
		err := s.View(ctx, func(tx storage.ReadTx) error {
			var prev storage.Sample
			n := 0
			return tx.Samples(ctx, storage.SampleFilter{Modalities: []string{"voice"}, ByParticipant: byParticipant}, func(smp storage.Sample) error {
				if n > 0 {
					inOrder := smp.ID > prev.ID
					if byParticipant {
						inOrder = smp.Participant > prev.Participant || (smp.Participant == prev.Participant && smp.ID > prev.ID)
					}
					if !inOrder {
						return fmt.Errorf("sample %s after %s is out of order", smp.ID, prev.ID)
					}
				}
				// A query from inside the iteration.
				if _, err := tx.Participant(ctx, smp.Participant); err != nil {
					return err
				}
				prev = smp
				n++
				return nil
			})
		})
		if err != nil {
			t.Fatalf("by participant %v: %v", byParticipant, err)
		}
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		var all []string
		for p := 0; p < people; p++ {
			all = append(all, fmt.Sprintf("p-%03d", p))
		}
		all = append(all, "p-absent")
		ps, err := tx.ParticipantsOf(ctx, all)
		if err != nil {
			return err
		}
		recs, err := tx.ConsentRecordsOf(ctx, all)
		if err != nil {
			return err
		}
		if len(ps) != people || len(recs) != people || recs["p-042"][0].ID != "c-p-042" {
			return fmt.Errorf("ParticipantsOf found %d, ConsentRecordsOf %d, want %d", len(ps), len(recs), people)
		}
		count := 0
		if err := tx.Samples(ctx, storage.SampleFilter{}, func(storage.Sample) error { count++; return nil }); err != nil {
			return err
		}
		if count != people*each {
			return fmt.Errorf("iterated %d samples, want %d", count, people*each)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
