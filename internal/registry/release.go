package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/ledger"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/plaintext"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

// ReleaseSpec says what to release.
type ReleaseSpec struct {
	Purpose    string
	Modalities []string // empty: all
	// Licensee is who the release is for; empty means an open offer.
	Licensee string
	Out      string
	WithData bool
	// Terms are licence terms the manifest does not hold, such as the end
	// date of the permission.
	Terms release.Terms
}

// ReleaseResult describes a built release.
type ReleaseResult struct {
	Release    storage.Release
	Header     release.Header
	Trailer    release.Trailer
	Stats      *release.Stats
	Checkpoint storage.Checkpoint
}

// ReleasePrefix is the blob store prefix of each release's manifest and
// documents, which let a bundle be exported again.
const ReleasePrefix = "releases/"

func releaseDocumentKey(id, name string) string { return ReleasePrefix + id + "/" + name }

// BuildRelease selects every sample whose participant's consent in force
// now permits the purpose for the sample's modality, logs the release, and
// writes the bundle to spec.Out.
//
// The selection runs inside the transaction that logs the release, with the
// log locked: a withdrawal committed before the build began is always seen,
// and one committed after it is ordered after the release in the log.
func (r *Registry) BuildRelease(ctx context.Context, spec ReleaseSpec) (*ReleaseResult, error) {
	purpose, err := consent.LookupPurpose(spec.Purpose)
	if err != nil {
		return nil, err
	}
	if err := checkLicensee(spec.Licensee); err != nil {
		return nil, err
	}
	modalities := spec.Modalities
	if len(modalities) == 0 {
		modalities = provenance.Modalities
	}
	for i, m := range modalities {
		if !slices.Contains(provenance.Modalities, m) {
			return nil, fmt.Errorf("unknown modality %q: use one or more of video, voice, sensor, pressure", m)
		}
		if slices.Contains(modalities[:i], m) {
			return nil, fmt.Errorf("modality %s is given twice: name each modality once", m)
		}
	}
	if spec.Out == "" {
		return nil, fmt.Errorf("no output folder: pass --out DIR")
	}
	if now := r.now(); !spec.Terms.Until.IsZero() && !spec.Terms.Until.After(now) {
		return nil, fmt.Errorf("--until %s is not in the future (now %s): give the date the licence's permission ends",
			spec.Terms.Until.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if err := release.CheckOutput(spec.Out); err != nil {
		return nil, err
	}
	if err := r.checkPending(ctx, spec.Out); err != nil {
		return nil, err
	}

	var res *ReleaseResult
	cp, err := r.updateSigned(ctx, func(ctx context.Context, w *writer) error {
		var err error
		if res, err = r.logRelease(ctx, w, purpose, modalities, spec.Licensee, spec.Terms); err != nil {
			return err
		}
		// The marker is durable before the release commits.
		return release.MarkPending(spec.Out, res.Release.ID)
	})
	if err != nil {
		if res != nil {
			_ = release.ClearPending(spec.Out, res.Release.ID)
		}
		return nil, err
	}
	res.Checkpoint = cp
	r.log.Info("release logged", "release", res.Release.ID, "samples", res.Release.SampleCount)

	if err := r.ExportRelease(ctx, res.Release.ID, spec.Out, spec.WithData); err != nil {
		return res, fmt.Errorf("release %s is logged, but writing its bundle failed (run `steward release export %s --out DIR` to write it again): %w",
			res.Release.ID, res.Release.ID, err)
	}
	return res, nil
}

// checkPending rejects a build into a folder whose previous build logged a
// release but stopped before writing its bundle: building again would log
// the same selection, and charge its licensee, a second time. A marker
// whose release was never committed is stale and is removed.
func (r *Registry) checkPending(ctx context.Context, out string) error {
	id, err := release.Pending(out)
	if err != nil || id == "" {
		return err
	}
	err = r.store.View(ctx, func(tx storage.ReadTx) error {
		_, err := tx.Release(ctx, id)
		return err
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return release.ClearPending(out, id)
	case err != nil:
		return err
	}
	return fmt.Errorf("release %s was logged for %s, but its build stopped before the bundle was written: run `steward release export %s --out %s` to write it; to build a new version anyway, delete %s",
		id, out, id, out, release.PendingPath(out))
}

// logRelease selects the samples, writes and stores the release documents,
// and logs the release event that commits to the manifest.
func (r *Registry) logRelease(ctx context.Context, w *writer, purpose consent.Purpose, modalities []string, licensee string, terms release.Terms) (*ReleaseResult, error) {
	lib, docEvents, err := library(ctx, w.tx)
	if err != nil {
		return nil, err
	}
	series := seriesOf(purpose.Code, modalities, licensee)
	previous, err := w.tx.LatestInSeries(ctx, series)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	comp, err := releaseCompensation(ctx, w.tx, purpose.Tier)
	if err != nil {
		return nil, err
	}
	h := release.Header{
		Release:          ident.New(ident.Release),
		Origin:           r.Origin(),
		Purpose:          purpose.Code,
		Tier:             purpose.Tier,
		Modalities:       modalities,
		BuiltAt:          r.now().UTC(),
		ConsentDocuments: docEvents,
		Licensee:         licensee,
		Replaces:         previous.ID,
		Compensation:     comp,
	}
	tmp, err := os.CreateTemp("", "steward-manifest-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	// metadata.json lists every sample's data file, so it streams to a
	// temporary file beside the manifest.
	metaTmp, err := os.CreateTemp("", "steward-metadata-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(metaTmp.Name())
	defer metaTmp.Close()
	meta := release.NewMetadataWriter(metaTmp, h)

	sel := &selector{r: r, w: w, tx: w.tx, h: h, lib: lib, mw: release.NewManifestWriter(tmp, h), stats: release.NewStats(meta.Add),
		credits: map[string]*release.Attribution{}, coverage: release.NewCoverage(purpose, lib, h.BuiltAt), trailer: release.Trailer{Selection: release.Selection{Excluded: map[string]int{}}}}
	if err := sel.run(ctx, modalities); err != nil {
		return nil, err
	}

	// The documents are rendered from the manifest's content, then their
	// digests close the manifest.
	t := sel.trailer
	t.Attribution = sel.attribution()
	t.ExcludedPurposes = sel.coverage.Excluded()
	if t.Version, err = nextVersion(ctx, w.tx, previous, sel.ids); err != nil {
		return nil, err
	}
	docs, err := renderDocuments(h, sel.stats, t, terms)
	if err != nil {
		return nil, err
	}
	t.Documents = map[string]string{}
	for name, raw := range docs {
		t.Documents[name] = release.Digest(raw)
	}
	if t.Documents[release.MetadataFile], err = meta.Finish(sel.stats, t, t.Documents); err != nil {
		return nil, err
	}
	digest, err := sel.mw.Finish(t)
	if err != nil {
		return nil, err
	}
	if err := r.storeDocuments(ctx, h.Release, tmp, metaTmp, docs); err != nil {
		return nil, err
	}

	rel := storage.Release{ID: h.Release, Purpose: purpose.Code, Modalities: modalities, BuiltAt: h.BuiltAt, ManifestDigest: digest,
		SampleCount: sel.stats.Samples, Licensee: licensee, Series: series, Version: t.Version, Replaces: h.Replaces}
	rel.EventIndex, err = w.append(event.TypeReleasePublished, event.ReleasePublished{
		Release: rel.ID, Purpose: rel.Purpose, Modalities: rel.Modalities, BuiltAt: rel.BuiltAt,
		ManifestDigest: rel.ManifestDigest, SampleCount: rel.SampleCount,
		Licensee: rel.Licensee, Version: rel.Version, Replaces: rel.Replaces,
	})
	if err != nil {
		return nil, err
	}
	if err := w.tx.InsertRelease(ctx, rel); err != nil {
		return nil, err
	}
	if err := w.tx.AddReleaseSamples(ctx, rel.ID, sel.ids); err != nil {
		return nil, err
	}
	if comp != nil {
		if err := w.tx.InsertReleasePolicy(ctx, rel.ID, comp.Policy); err != nil {
			return nil, err
		}
	}
	return &ReleaseResult{Release: rel, Header: h, Trailer: t, Stats: sel.stats}, nil
}

// storeDocuments puts the release documents in the blob store and makes
// them durable before the release event commits.
func (r *Registry) storeDocuments(ctx context.Context, id string, manifest, metadata *os.File, rendered map[string][]byte) error {
	type document struct {
		name string
		r    io.Reader
	}
	var docs []document
	for name, f := range map[string]*os.File{release.ManifestFile: manifest, release.MetadataFile: metadata} {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		docs = append(docs, document{name, f})
	}
	for name, raw := range rendered {
		docs = append(docs, document{name, bytes.NewReader(raw)})
	}
	for _, d := range docs {
		bw, err := r.blobs.NewWriter(ctx, releaseDocumentKey(id, d.name))
		if err != nil {
			return err
		}
		if _, err := io.Copy(bw, d.r); err != nil {
			bw.Abort()
			return fmt.Errorf("store %s of release %s: %w", d.name, id, err)
		}
		if err := bw.Close(); err != nil {
			return err
		}
	}
	return r.blobs.Sync(ctx)
}

// selectorChunk is how many participants' samples are decided together:
// their consent histories and attributes are read in one query each.
const selectorChunk = 500

// selector decides every sample of a release, writing included ones to the
// manifest, a chunk of participants at a time so memory stays bounded.
type selector struct {
	r        *Registry
	w        *writer
	tx       storage.Tx
	h        release.Header
	lib      consent.Library
	mw       *release.ManifestWriter
	stats    *release.Stats
	credits  map[string]*release.Attribution
	coverage *release.Coverage
	trailer  release.Trailer
	ids      []string

	pending []storage.Sample
	people  int

	// The data checks and per-sample payments of the pending samples, and
	// the per-use transfers of the decided ones not yet stored.
	checks   map[string]storage.SampleCheck
	payments map[string]storage.SampleCompensation
	uses     []ledger.Transfer
}

func (s *selector) run(ctx context.Context, modalities []string) error {
	filter := storage.SampleFilter{Modalities: modalities, ByParticipant: true}
	err := s.tx.Samples(ctx, filter, func(smp storage.Sample) error {
		if n := len(s.pending); n == 0 || s.pending[n-1].Participant != smp.Participant {
			if s.people == selectorChunk {
				if err := s.flush(ctx); err != nil {
					return err
				}
			}
			s.people++
		}
		s.pending = append(s.pending, smp)
		return nil
	})
	if err != nil {
		return err
	}
	return s.flush(ctx)
}

func (s *selector) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	var who []string
	for _, smp := range s.pending {
		if len(who) == 0 || who[len(who)-1] != smp.Participant {
			who = append(who, smp.Participant)
		}
	}
	histories, err := s.tx.ConsentRecordsOf(ctx, who)
	if err != nil {
		return err
	}
	people, err := s.tx.ParticipantsOf(ctx, who)
	if err != nil {
		return err
	}
	if err := s.lookupCompensation(ctx); err != nil {
		return err
	}

	for _, smp := range s.pending {
		if err := s.decide(smp, histories[smp.Participant], people[smp.Participant]); err != nil {
			return err
		}
	}
	if err := s.storeUses(ctx); err != nil {
		return err
	}
	s.pending, s.people = s.pending[:0], 0
	return nil
}

// checkLicensee rejects a licensee name that prints badly or starts a
// release series of its own by accident: hidden characters, surrounding
// spaces, or more than 200 characters.
func checkLicensee(name string) error {
	if err := plaintext.Line("licensee", name); err != nil {
		return err
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("invalid licensee %q: remove the spaces around the name", name)
	}
	if n := utf8.RuneCountInString(name); n > 200 {
		return fmt.Errorf("invalid licensee: %d characters, at most 200", n)
	}
	return nil
}

// ErrErased marks a request for a recording whose participant was erased:
// the recording is gone for good.
var ErrErased = errors.New("was erased at its participant's request")

// ExcludedErased is the reason a release leaves out the samples of an
// erased participant: their recordings are gone, and their consent
// history stays only as evidence for releases built before.
const ExcludedErased = "participant erased"

func (s *selector) decide(smp storage.Sample, records []consent.Record, person storage.Participant) error {
	s.trailer.Selection.Considered++
	if !person.ErasedAt.IsZero() {
		s.trailer.Selection.Excluded[ExcludedErased]++
		return nil
	}
	if reason := consent.Explain(records, s.lib, s.h.Purpose, smp.Provenance.Modality, s.h.BuiltAt); reason != "" {
		s.trailer.Selection.Excluded[reason]++
		return nil
	}
	if reason := s.compensationReason(smp); reason != "" {
		s.trailer.Selection.Excluded[reason]++
		return nil
	}
	ms := manifestSample(smp, person.Attributes, records)
	if err := s.addCompensation(&ms, smp); err != nil {
		return err
	}
	if err := s.mw.Add(ms); err != nil {
		return err
	}
	s.stats.Add(ms)
	s.coverage.Add(smp.Participant, smp.Provenance.Modality, records)
	s.ids = append(s.ids, smp.ID)
	credit(s.credits, smp.Source)
	return nil
}

func (s *selector) attribution() []release.Attribution {
	out := make([]release.Attribution, 0, len(s.credits))
	for _, a := range s.credits {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dataset < out[j].Dataset })
	return out
}

func manifestSample(s storage.Sample, attrs participant.Attributes, records []consent.Record) release.Sample {
	p := s.Provenance
	ms := release.Sample{
		ID:              s.ID,
		Digest:          s.Digest,
		Size:            s.Size,
		Modality:        p.Modality,
		Format:          p.Format,
		SamplingRate:    p.SamplingRate,
		Channels:        p.Channels,
		DurationSeconds: s.DurationSeconds,
		Protocol:        p.Protocol,
		CollectorID:     p.CollectorID,
		DeviceModel:     p.Device.Model,
		CapturedAt:      p.CapturedAt,
		Participant:     s.Participant,
		Demographics: release.Demographics{
			AgeBand:         attrs.AgeBand(),
			Sex:             attrs.SexOrUnknown(),
			Condition:       attrs.ConditionOrUnknown(),
			AssistiveDevice: orUnknown(attrs.AssistiveDevice),
		},
		File:     release.DataFile(s.ID, p.Format),
		Evidence: release.Evidence{Registration: s.EventIndex, Consent: []uint64{}},
	}
	for _, rec := range records {
		ms.Evidence.Consent = append(ms.Evidence.Consent, rec.Seq)
	}
	return ms
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func credit(credits map[string]*release.Attribution, source map[string]string) {
	name := source["dataset"]
	if name == "" {
		name = "registered by the data steward"
	}
	a, ok := credits[name]
	if !ok {
		a = &release.Attribution{Dataset: name, Citation: source["citation"], Licence: source["licence"]}
		credits[name] = a
	}
	a.Samples++
}

// ExportRelease writes the bundle of a logged release to out, with proofs
// against the newest checkpoint.
func (r *Registry) ExportRelease(ctx context.Context, releaseID, out string, withData bool) error {
	return r.store.View(ctx, func(tx storage.ReadTx) error {
		rel, err := tx.Release(ctx, releaseID)
		if err != nil {
			return err
		}
		cp, err := tx.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		if cp.Size <= rel.EventIndex {
			return fmt.Errorf("the newest checkpoint (size %d) predates release %s: run `steward log checkpoint` first", cp.Size, releaseID)
		}
		licence, err := r.readDocument(ctx, releaseID, release.LicenceFile)
		if err != nil {
			return err
		}
		datasheet, err := r.readDocument(ctx, releaseID, release.DatasheetFile)
		if err != nil {
			return err
		}
		openManifest := func() (io.ReadCloser, error) {
			return r.blobs.Open(ctx, releaseDocumentKey(releaseID, release.ManifestFile))
		}
		indexes, err := evidenceIndexes(openManifest, rel.EventIndex)
		if err != nil {
			return err
		}
		documents, err := r.exportDocuments(ctx, releaseID)
		if err != nil {
			return err
		}
		attest, err := r.attester(ctx, rel, cp)
		if err != nil {
			return err
		}
		contents := release.Contents{
			Manifest:   openManifest,
			Licence:    licence,
			Datasheet:  datasheet,
			Checkpoint: cp.Note,
			Entries: func(ew *release.EntryWriter) error {
				return writeEvidence(ctx, tx, ew, indexes, cp.Size)
			},
			Documents: documents,
			Attest:    attest,
		}
		if withData {
			contents.Data = r.sampleOpener(ctx, tx)
		}
		if err := release.Write(out, contents); err != nil {
			return err
		}
		// The bundle is in place, so an interrupted build's marker is done.
		return release.ClearPending(out, releaseID)
	})
}

func (r *Registry) readDocument(ctx context.Context, id, name string) ([]byte, error) {
	rc, err := r.blobs.Open(ctx, releaseDocumentKey(id, name))
	if err != nil {
		return nil, fmt.Errorf("read %s of release %s: %w", name, id, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// evidenceIndexes reads the manifest and returns, sorted and without
// repeats, the index of every event it cites plus the release event.
func evidenceIndexes(open func() (io.ReadCloser, error), releaseIndex uint64) ([]uint64, error) {
	rc, err := open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	indexes := []uint64{releaseIndex}
	h, _, err := release.DecodeManifest(rc, func(_ release.Header, s release.Sample) error {
		indexes = append(indexes, s.Evidence.Registration)
		indexes = append(indexes, s.Evidence.Consent...)
		indexes = append(indexes, s.Evidence.Compensation...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stored manifest: %w", err)
	}
	indexes = append(indexes, h.ConsentDocuments...)
	if h.Compensation != nil {
		indexes = append(indexes, h.Compensation.Event)
	}
	slices.Sort(indexes)
	return slices.Compact(indexes), nil
}

// evidenceChunk is how many entries get their proofs computed together.
const evidenceChunk = 20000

// writeEvidence writes each entry with its inclusion proof in the tree of
// the given size, a chunk at a time.
func writeEvidence(ctx context.Context, tx storage.ReadTx, ew *release.EntryWriter, indexes []uint64, size uint64) error {
	if dense(indexes, size) {
		return writeDenseEvidence(ctx, tx, ew, indexes, size)
	}
	for i := 0; i < len(indexes); i += evidenceChunk {
		chunk := indexes[i:min(i+evidenceChunk, len(indexes))]
		proofs, err := tlog.InclusionProofs(ctx, tx, chunk, size)
		if err != nil {
			return err
		}
		err = tx.EntriesAt(ctx, chunk, func(idx uint64, entry []byte) error {
			return ew.Write(release.EntryProof{Index: idx, Entry: entry, Proof: proofs[idx]})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// dense reports whether a release cites so large a part of a big log that
// reading the whole tree and the entries in order beats looking them up.
func dense(indexes []uint64, size uint64) bool {
	return size >= 1<<16 && uint64(len(indexes)) >= size/16
}

// writeDenseEvidence loads the whole tree into memory (about 64 bytes per
// leaf) and streams the cited entries in log order.
func writeDenseEvidence(ctx context.Context, tx storage.ReadTx, ew *release.EntryWriter, indexes []uint64, size uint64) error {
	tree, err := tlog.LoadTree(ctx, tx, size)
	if err != nil {
		return err
	}
	next := 0
	return tx.Entries(ctx, indexes[0], indexes[len(indexes)-1]+1, func(idx uint64, entry []byte) error {
		if idx != indexes[next] {
			return nil
		}
		next++
		p, err := tlog.InclusionProof(ctx, tree, idx, size)
		if err != nil {
			return err
		}
		return ew.Write(release.EntryProof{Index: idx, Entry: entry, Proof: p})
	})
}

// sampleOpener returns a function that decrypts a sample's recording.
func (r *Registry) sampleOpener(ctx context.Context, tx storage.ReadTx) func(release.Sample) (io.ReadCloser, error) {
	return func(s release.Sample) (io.ReadCloser, error) {
		stored, err := tx.Sample(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		if stored.BlobKey == "" {
			return nil, fmt.Errorf("sample %s %w: export the release without its recordings (without --with-data)", s.ID, ErrErased)
		}
		key, err := r.dataKey(ctx, tx, stored.Participant)
		if err != nil {
			return nil, err
		}
		return content.Open(ctx, r.blobs, key, location(stored))
	}
}

// seriesOf names the selection a release belongs to.
func seriesOf(purpose string, modalities []string, licensee string) string {
	sorted := slices.Clone(modalities)
	slices.Sort(sorted)
	return purpose + "|" + strings.Join(sorted, ",") + "|" + licensee
}

// nextVersion returns the semantic version of a new release of a series: a
// major step when samples of the previous release are left out, a minor one
// when samples are only added, and a patch when the selection is unchanged.
func nextVersion(ctx context.Context, tx storage.Tx, previous storage.Release, ids []string) (string, error) {
	if previous.ID == "" {
		return "1.0.0", nil
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(previous.Version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return "", fmt.Errorf("release %s has an invalid version %q", previous.ID, previous.Version)
	}
	chosen := make(map[string]bool, len(ids))
	for _, id := range ids {
		chosen[id] = true
	}
	removed, kept := false, 0
	err := tx.ReleaseSamples(ctx, previous.ID, func(id string) error {
		if chosen[id] {
			kept++
		} else {
			removed = true
		}
		return nil
	})
	switch {
	case err != nil:
		return "", err
	case removed:
		return fmt.Sprintf("%d.0.0", major+1), nil
	case kept < len(ids):
		return fmt.Sprintf("%d.%d.0", major, minor+1), nil
	}
	return fmt.Sprintf("%d.%d.%d", major, minor, patch+1), nil
}
