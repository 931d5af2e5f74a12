package release

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/tlog"
)

// Report is the outcome of an offline verification.
type Report struct {
	Release        string
	Origin         string
	CheckpointSize uint64
	Samples        int
	ProofsChecked  int
	FilesChecked   int
	// DataPresent is false for a bundle built without data: only metadata
	// and evidence were verified.
	DataPresent bool
	// Attested counts the files whose digest the signed attestation states
	// and that matched it.
	Attested int
	// CompensationPolicy is the policy the release states, empty for a
	// release without compensation terms. Compensated counts the samples
	// whose payment events were all found and proven.
	CompensationPolicy string
	Compensated        int
	Problems           []string
}

// OK reports whether nothing failed.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) fail(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerificationError is returned when a bundle fails verification.
type VerificationError struct{ Report *Report }

func (e *VerificationError) Error() string {
	return fmt.Sprintf("bundle verification failed with %d problem(s):\n  %s", len(e.Report.Problems), strings.Join(e.Report.Problems, "\n  "))
}

// Verify checks the bundle in dir against the registry's public log key
// (the content of log.pub). It needs no database and no network.
func Verify(dir, verifierKey string) (*Report, error) {
	rep := &Report{}
	v, err := tlog.NewVerifier(verifierKey)
	if err != nil {
		return rep, err
	}
	rep.Origin = v.Origin()
	key, err := ParseNoteVerifierKey(verifierKey)
	if err != nil {
		return rep, err
	}

	// 1. The checkpoint: signed by the registry's key, for its origin.
	cp, err := readCheckpoint(dir, v)
	if err != nil {
		rep.fail("%s: %v", CheckpointFile, err)
		return rep, &VerificationError{rep}
	}
	rep.CheckpointSize = cp.Size

	// 2. Every bundled event must be in the log the checkpoint commits to.
	entries, err := readEntries(dir, cp, rep)
	if err != nil {
		rep.fail("%s: %v", EntriesFile, err)
		return rep, &VerificationError{rep}
	}

	// 3. Each sample against its evidence, while the manifest streams past
	// and is hashed.
	f, err := os.Open(filepath.Join(dir, ManifestFile))
	if err != nil {
		rep.fail("%s: %v", ManifestFile, err)
		return rep, &VerificationError{rep}
	}
	defer f.Close()
	d := newDigester()
	files := map[string]*Sample{}
	var lib consent.Library
	var coverage *Coverage
	// The header's checks run at the first sample, or after the manifest
	// when the release has none.
	checkHeader := func(h Header) {
		if lib != nil {
			return
		}
		lib = documentLibrary(entries, h, rep)
		if p, err := consent.LookupPurpose(h.Purpose); err == nil {
			coverage = NewCoverage(p, lib, h.BuiltAt)
		} else {
			rep.fail("%s: %v", ManifestFile, err)
		}
		if h.Compensation != nil {
			rep.CompensationPolicy = h.Compensation.Policy
			checkPolicyEvent(entries, h, rep)
		}
	}
	h, t, err := DecodeManifest(io.TeeReader(f, d), func(h Header, s Sample) error {
		checkHeader(h)
		rep.Samples++
		if records, ok := checkSample(entries, lib, &h, &s, rep); ok && coverage != nil {
			coverage.Add(s.Participant, s.Modality, records)
		}
		if h.Compensation != nil && checkCompensation(entries, &h, &s, rep) {
			rep.Compensated++
		}
		if s.File != "" {
			files[path.Clean(s.File)] = &Sample{ID: s.ID, Digest: s.Digest, Size: s.Size, File: s.File}
		}
		return nil
	})
	if err != nil {
		rep.fail("%s: invalid manifest: %v", ManifestFile, err)
		return rep, &VerificationError{rep}
	}
	checkHeader(h)
	rep.Release = h.Release
	if coverage != nil {
		checkExcludedPurposes(coverage.Excluded(), t.ExcludedPurposes, rep)
	}

	// 4. The manifest must be the one the release event commits to, and so
	// must the documents it names and the data files.
	checkReleaseEvent(entries, h, t, rep.Samples, d.digest(), rep)
	if h.Origin != cp.Origin {
		rep.fail("%s: origin %q differs from the checkpoint's %q", ManifestFile, h.Origin, cp.Origin)
	}
	digests := map[string]string{ManifestFile: d.digest()}
	checkDocuments(dir, t, digests, rep)
	checkData(dir, files, digests, rep)

	// 5. The registry's signed statement of every file in the bundle.
	checkAttestation(attestationCheck{
		dir: dir, key: key, release: h.Release, version: t.Version, origin: cp.Origin, digests: digests,
		cp: PredicateCheckpoint{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root)},
	}, rep)

	if !rep.OK() {
		return rep, &VerificationError{rep}
	}
	return rep, nil
}

func readCheckpoint(dir string, v *tlog.Verifier) (tlog.Checkpoint, error) {
	raw, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return tlog.Checkpoint{}, err
	}
	return v.Open(raw)
}

// verifiedEntry is a bundled event whose inclusion proof checked out.
type verifiedEntry struct {
	raw []byte
	ev  event.Event
}

func readEntries(dir string, cp tlog.Checkpoint, rep *Report) (map[uint64]verifiedEntry, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(EntriesFile)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[uint64]verifiedEntry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ep EntryProof
		if err := json.Unmarshal(sc.Bytes(), &ep); err != nil {
			rep.fail("%s line %d: invalid JSON: %v", EntriesFile, line, err)
			continue
		}
		if ep.Index >= cp.Size {
			rep.fail("%s line %d: event %d is beyond the checkpoint's size %d", EntriesFile, line, ep.Index, cp.Size)
			continue
		}
		if err := tlog.VerifyInclusion(ep.Index, cp.Size, tlog.LeafHash(ep.Entry), ep.Proof, cp.Root); err != nil {
			rep.fail("%s line %d: event %d is not in the log at the checkpoint: inclusion proof failed: %v", EntriesFile, line, ep.Index, err)
			continue
		}
		rep.ProofsChecked++
		ev, err := event.Decode(ep.Entry)
		if err != nil {
			rep.fail("%s line %d: event %d: %v", EntriesFile, line, ep.Index, err)
			continue
		}
		out[ep.Index] = verifiedEntry{raw: ep.Entry, ev: ev}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func checkReleaseEvent(entries map[uint64]verifiedEntry, h Header, t Trailer, samples int, manifestDigest string, rep *Report) {
	for _, e := range entries {
		if e.ev.Type != event.TypeReleasePublished {
			continue
		}
		var rel event.ReleasePublished
		if err := e.ev.DecodeData(&rel); err != nil || rel.Release != h.Release {
			continue
		}
		if rel.ManifestDigest != manifestDigest {
			rep.fail("%s was modified: its digest is %s but the release event commits to %s", ManifestFile, manifestDigest, rel.ManifestDigest)
		}
		if rel.Purpose != h.Purpose || !rel.BuiltAt.Equal(h.BuiltAt) || rel.SampleCount != samples ||
			rel.Version != t.Version || rel.Replaces != h.Replaces || rel.Licensee != h.Licensee {
			rep.fail("%s: purpose, build time, sample count, version or licensee differ from the release event", ManifestFile)
		}
		return
	}
	rep.fail("no verified release event for release %q in %s: the event or its proof is missing", h.Release, EntriesFile)
}

// Documents lists the files whose digests the manifest trailer holds.
// Releases built before the ODRL, HTML and Croissant documents existed list
// only licence.json and datasheet.md. The release event commits to the
// trailer, so a list cannot be shortened after the build.
var Documents = []string{LicenceFile, LicenceJSONLDFile, DatasheetFile, DatasheetHTMLFile, MetadataFile}

// requiredDocuments must be listed by every manifest.
var requiredDocuments = []string{LicenceFile, DatasheetFile}

// checkDocuments hashes every document the trailer lists and records its
// digest in digests.
func checkDocuments(dir string, t Trailer, digests map[string]string, rep *Report) {
	for _, name := range requiredDocuments {
		if _, ok := t.Documents[name]; !ok {
			rep.fail("%s does not list a digest for %s", ManifestFile, name)
		}
	}
	for _, name := range sortedNames(t.Documents) {
		want := t.Documents[name]
		if !slices.Contains(Documents, name) {
			rep.fail("%s lists an unknown document %q", ManifestFile, name)
			continue
		}
		got, _, err := digestFile(filepath.Join(dir, name))
		if err != nil {
			rep.fail("%s: %v", name, err)
			continue
		}
		digests[name] = got
		if got != want {
			rep.fail("%s was modified: digest %s, manifest says %s", name, got, want)
		}
	}
}

// documentLibrary rebuilds the consent documents' terms from their bundled
// registration events.
func documentLibrary(entries map[uint64]verifiedEntry, h Header, rep *Report) consent.Library {
	lib := consent.Library{}
	if tier, err := consent.TierFor(h.Purpose); err != nil || tier != h.Tier {
		rep.fail("%s: purpose %q does not belong to tier %q", ManifestFile, h.Purpose, h.Tier)
	}
	for _, idx := range h.ConsentDocuments {
		e, ok := entries[idx]
		var added event.ConsentDocumentAdded
		if !ok || e.ev.Type != event.TypeConsentDocumentAdded || e.ev.DecodeData(&added) != nil {
			rep.fail("%s: consent document event %d or its proof is missing", ManifestFile, idx)
			continue
		}
		lib[added.Terms.Version] = added.Terms
	}
	return lib
}

// checkSample checks one sample against its evidence and returns the
// consent history replayed from the bundle, with false when the history is
// incomplete.
func checkSample(entries map[uint64]verifiedEntry, lib consent.Library, m *Header, s *Sample, rep *Report) ([]consent.Record, bool) {
	reg, ok := entries[s.Evidence.Registration]
	if !ok {
		rep.fail("sample %s: registration event %d or its proof is missing", s.ID, s.Evidence.Registration)
		return nil, false
	}
	var sr event.SampleRegistered
	if reg.ev.Type != event.TypeSampleRegistered || reg.ev.DecodeData(&sr) != nil || sr.Sample != s.ID {
		rep.fail("sample %s: event %d is not its registration", s.ID, s.Evidence.Registration)
		return nil, false
	}
	for _, d := range []struct {
		field      string
		got, other any
	}{
		{"digest", s.Digest, sr.Digest}, {"size", s.Size, sr.Size}, {"modality", s.Modality, sr.Modality},
		{"format", s.Format, sr.Format}, {"samplingRate", s.SamplingRate, sr.SamplingRate},
		{"participant", s.Participant, sr.Participant}, {"channels", s.Channels, sr.Channels},
		{"protocol", s.Protocol, sr.Protocol}, {"collectorId", s.CollectorID, sr.CollectorID},
		{"deviceModel", s.DeviceModel, sr.Device.Model}, {"capturedAt", timeString(s.CapturedAt), timeString(sr.CapturedAt)},
	} {
		if d.got != d.other {
			rep.fail("sample %s: manifest %s %v differs from the registered %v", s.ID, d.field, d.got, d.other)
		}
	}
	if !slices.Contains(m.Modalities, s.Modality) {
		rep.fail("sample %s: modality %s is not one the release selects (%s)", s.ID, s.Modality, strings.Join(m.Modalities, ", "))
	}

	// Replay the consent history the release event committed to.
	var records []consent.Record
	for _, idx := range s.Evidence.Consent {
		e, ok := entries[idx]
		if !ok {
			rep.fail("sample %s: consent event %d or its proof is missing", s.ID, idx)
			return nil, false
		}
		var cr event.ConsentRecorded
		if !event.IsConsentRecord(e.ev.Type) || e.ev.DecodeData(&cr) != nil {
			rep.fail("sample %s: event %d is not a consent record", s.ID, idx)
			return nil, false
		}
		if cr.Record.Participant != s.Participant {
			rep.fail("sample %s: consent event %d belongs to another participant", s.ID, idx)
			return nil, false
		}
		cr.Record.Seq = idx
		records = append(records, cr.Record)
	}
	if out := consent.Decide(records, lib, m.Purpose, s.Modality, m.BuiltAt); !out.Permitted() {
		rep.fail("sample %s: the bundled consent history does not permit %s use of %s data at %s", s.ID, m.Purpose, s.Modality, m.BuiltAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	return records, true
}

// checkExcludedPurposes compares the narrower purposes the manifest
// excludes with those the bundled consent histories exclude. Any
// difference is an error, in either direction.
func checkExcludedPurposes(replayed, stated []string, rep *Report) {
	if slices.Equal(replayed, stated) {
		return
	}
	show := func(codes []string) string {
		if len(codes) == 0 {
			return "none"
		}
		return strings.Join(codes, ", ")
	}
	rep.fail("%s: excludedPurposes lists %s, but the bundled consent histories exclude %s", ManifestFile, show(stated), show(replayed))
}

// checkData hashes every data file. A bundle without a data folder carries
// metadata only; with one, every sample needs its file and nothing else may
// be there.
func checkData(dir string, expected map[string]*Sample, digests map[string]string, rep *Report) {
	root := filepath.Join(dir, DataDir)
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return
	}
	rep.DataPresent = true
	for file, s := range expected {
		if !strings.HasPrefix(file, DataDir+"/") || strings.Contains(file, "..") {
			rep.fail("sample %s: invalid file path %q in the manifest", s.ID, s.File)
			delete(expected, file)
		}
	}
	found := map[string]bool{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		s, ok := expected[rel]
		if !ok {
			rep.fail("%s: file is not in the manifest", rel)
			return nil
		}
		found[rel] = true
		got, size, err := digestFile(p)
		if err != nil {
			rep.fail("%s: %v", rel, err)
			return nil
		}
		rep.FilesChecked++
		digests[rel] = got
		if got != s.Digest || size != s.Size {
			rep.fail("%s: content does not match sample %s: digest %s (%d bytes), manifest says %s (%d bytes)", rel, s.ID, got, size, s.Digest, s.Size)
		}
		return nil
	})
	var missing []string
	for f := range expected {
		if !found[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	for _, f := range missing {
		rep.fail("%s: file of sample %s is missing", f, expected[f].ID)
	}
}

func digestFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	d := newDigester()
	n, err := io.Copy(d, f)
	return d.digest(), n, err
}

func timeString(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
