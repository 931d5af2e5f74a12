package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/content"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/tlog"
)

// ReleaseSpec says what to release.
type ReleaseSpec struct {
	Purpose    string
	Modalities []string // empty: all
	Out        string
	WithData   bool
}

// ReleaseResult describes a built release.
type ReleaseResult struct {
	Release    storage.Release
	Manifest   *release.Manifest
	Checkpoint storage.Checkpoint
}

// BuildRelease selects every sample whose participant's consent in force
// now permits the purpose for the sample's modality, logs the release, and
// writes the bundle to spec.Out.
//
// The selection runs inside the transaction that logs the release, with the
// log locked: a withdrawal committed before the build began is always seen,
// and one committed after it is ordered after the release in the log.
func (r *Registry) BuildRelease(ctx context.Context, spec ReleaseSpec) (*ReleaseResult, error) {
	tier, err := consent.TierFor(spec.Purpose)
	if err != nil {
		return nil, err
	}
	modalities := spec.Modalities
	if len(modalities) == 0 {
		modalities = provenance.Modalities
	}
	for _, m := range modalities {
		if !slices.Contains(provenance.Modalities, m) {
			return nil, fmt.Errorf("unknown modality %q: use one or more of video, voice, sensor, pressure", m)
		}
	}
	if spec.Out == "" {
		return nil, fmt.Errorf("no output folder: pass --out DIR")
	}

	var res ReleaseResult
	res.Checkpoint, err = r.updateSigned(ctx, func(ctx context.Context, w *writer) error {
		m, sampleIDs, err := r.selectSamples(ctx, w.tx, spec.Purpose, tier, modalities)
		if err != nil {
			return err
		}
		rel, err := r.logRelease(ctx, w, m, sampleIDs)
		if err != nil {
			return err
		}
		res.Release, res.Manifest = rel, m
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("release logged", "release", res.Release.ID, "samples", res.Release.SampleCount)
	if err := r.ExportRelease(ctx, res.Release.ID, spec.Out, spec.WithData); err != nil {
		return &res, fmt.Errorf("release %s is logged, but writing its bundle failed (run `steward release export %s --out DIR` to write it again): %w",
			res.Release.ID, res.Release.ID, err)
	}
	return &res, nil
}

// selectSamples decides every sample of the modalities and builds the
// manifest, without its document digests.
func (r *Registry) selectSamples(ctx context.Context, tx storage.Tx, purpose, tier string, modalities []string) (*release.Manifest, []string, error) {
	builtAt := r.now().UTC()
	histories := map[string][]consent.Record{}
	if err := tx.AllConsentRecords(ctx, func(p string, recs []consent.Record) error {
		histories[p] = recs
		return nil
	}); err != nil {
		return nil, nil, err
	}
	people := map[string]participant.Attributes{}

	m := &release.Manifest{
		Release:    ident.New(ident.Release),
		Origin:     r.Origin(),
		Purpose:    purpose,
		Tier:       tier,
		Modalities: modalities,
		BuiltAt:    builtAt,
		Selection:  release.Selection{Excluded: map[string]int{}},
	}
	credits := map[string]*release.Attribution{}
	var ids []string
	err := tx.Samples(ctx, storage.SampleFilter{Modalities: modalities}, func(s storage.Sample) error {
		m.Selection.Considered++
		records := histories[s.Participant]
		if reason := consent.Explain(records, tier, s.Provenance.Modality, builtAt); reason != "" {
			m.Selection.Excluded[reason]++
			return nil
		}
		attrs, ok := people[s.Participant]
		if !ok {
			p, err := tx.Participant(ctx, s.Participant)
			if err != nil {
				return err
			}
			attrs, people[s.Participant] = p.Attributes, p.Attributes
		}
		m.Samples = append(m.Samples, manifestSample(s, attrs, records))
		ids = append(ids, s.ID)
		credit(credits, s.Source)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, a := range credits {
		m.Attribution = append(m.Attribution, *a)
	}
	sort.Slice(m.Attribution, func(i, j int) bool { return m.Attribution[i].Dataset < m.Attribution[j].Dataset })
	return m, ids, nil
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

// logRelease renders the bundle documents, logs the release event that
// commits to the manifest, and stores the projection.
func (r *Registry) logRelease(ctx context.Context, w *writer, m *release.Manifest, sampleIDs []string) (storage.Release, error) {
	licence, err := release.NewLicence(m).Encode()
	if err != nil {
		return storage.Release{}, err
	}
	datasheet := release.Datasheet(m)
	m.Documents = map[string]string{
		release.LicenceFile:   release.Digest(licence),
		release.DatasheetFile: release.Digest(datasheet),
	}
	manifest, err := m.Encode()
	if err != nil {
		return storage.Release{}, err
	}
	rel := storage.Release{
		ID:             m.Release,
		Purpose:        m.Purpose,
		Modalities:     m.Modalities,
		BuiltAt:        m.BuiltAt,
		ManifestDigest: release.Digest(manifest),
		SampleCount:    len(m.Samples),
		Documents: map[string][]byte{
			release.ManifestFile:  manifest,
			release.LicenceFile:   licence,
			release.DatasheetFile: datasheet,
		},
	}
	rel.EventIndex, err = w.append(event.TypeReleasePublished, event.ReleasePublished{
		Release:        rel.ID,
		Purpose:        rel.Purpose,
		Modalities:     rel.Modalities,
		BuiltAt:        rel.BuiltAt,
		ManifestDigest: rel.ManifestDigest,
		SampleCount:    rel.SampleCount,
	})
	if err != nil {
		return rel, err
	}
	return rel, w.tx.InsertRelease(ctx, rel, sampleIDs)
}

// ExportRelease writes the bundle of a logged release to out, with proofs
// against the newest checkpoint.
func (r *Registry) ExportRelease(ctx context.Context, releaseID, out string, withData bool) error {
	var contents release.Contents
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
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
		m, err := decodeManifest(rel.Documents[release.ManifestFile])
		if err != nil {
			return err
		}
		entries, err := evidence(ctx, tx, m, rel.EventIndex, cp.Size)
		if err != nil {
			return err
		}
		contents = release.Contents{
			Manifest:   rel.Documents[release.ManifestFile],
			Licence:    rel.Documents[release.LicenceFile],
			Datasheet:  rel.Documents[release.DatasheetFile],
			Checkpoint: cp.Note,
			Entries:    entries,
			Samples:    m.Samples,
		}
		if withData {
			contents.Data = r.sampleOpener(ctx, tx)
		}
		return release.Write(out, contents)
	})
	return err
}

func decodeManifest(raw []byte) (*release.Manifest, error) {
	var m release.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("stored manifest: %w", err)
	}
	return &m, nil
}

// evidence reads every event a manifest cites, plus the release event, with
// inclusion proofs for the tree of the given size.
func evidence(ctx context.Context, tx storage.ReadTx, m *release.Manifest, releaseIndex, size uint64) ([]release.EntryProof, error) {
	indexes := []uint64{releaseIndex}
	for _, s := range m.Samples {
		indexes = append(indexes, s.Evidence.Registration)
		indexes = append(indexes, s.Evidence.Consent...)
	}
	slices.Sort(indexes)
	indexes = slices.Compact(indexes)
	proofs, err := tlog.InclusionProofs(ctx, tx, indexes, size)
	if err != nil {
		return nil, err
	}
	out := make([]release.EntryProof, 0, len(indexes))
	err = tx.EntriesAt(ctx, indexes, func(idx uint64, entry []byte) error {
		out = append(out, release.EntryProof{Index: idx, Entry: slices.Clone(entry), Proof: proofs[idx]})
		return nil
	})
	return out, err
}

// sampleOpener returns a function that decrypts a sample's recording.
func (r *Registry) sampleOpener(ctx context.Context, tx storage.ReadTx) func(release.Sample) (io.ReadCloser, error) {
	return func(s release.Sample) (io.ReadCloser, error) {
		stored, err := tx.Sample(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		key, err := r.dataKey(ctx, tx, stored.Participant)
		if err != nil {
			return nil, err
		}
		return content.Open(ctx, r.blobs, key, location(stored))
	}
}
