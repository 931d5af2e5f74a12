package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/storage"
)

// Reasons of a revocation notice.
const (
	NoticeWithdrawn = "withdrawn"
	NoticeNarrowed  = "narrowed"
	// NoticeRevised: a major revision of the consent form changed the
	// release's purpose, and the participant has not signed it.
	NoticeRevised     = "revised"
	NoticeExpired     = "expired"
	NoticeInvalidated = "invalidated"
	NoticeErased      = "erased"
)

// What a licensee must do about the samples of a notice.
const (
	// ActionDelete: stop using and delete the samples.
	ActionDelete = "delete"
	// ActionRetrain: delete the samples and retrain every model trained on
	// them, because their consent never counted.
	ActionRetrain = "delete-and-retrain"
)

// noticePrefix starts notice ids.
const noticePrefix = "n-"

// issueNotices checks every published release that contains the
// participant's samples against their consent now, and logs a notice for the
// samples that lost their basis. It runs in the transaction that changed the
// consent, so no change can miss its notice.
func (r *Registry) issueNotices(ctx context.Context, w *writer, pseudonym string) ([]storage.Notice, error) {
	released, err := w.tx.ReleasedSamplesOf(ctx, pseudonym)
	if err != nil || len(released) == 0 {
		return nil, err
	}
	records, err := w.tx.ConsentRecords(ctx, pseudonym)
	if err != nil {
		return nil, err
	}
	docs, err := w.tx.ConsentDocuments(ctx)
	if err != nil {
		return nil, err
	}
	lib := libraryBefore(docs, math.MaxUint64)
	now := r.now().UTC()
	releases := make([]string, 0, len(released))
	for id := range released {
		releases = append(releases, id)
	}
	sort.Strings(releases)

	var issued []storage.Notice
	for _, id := range releases {
		notices, err := r.noticesForRelease(ctx, w, id, pseudonym, released[id], records, docs, lib, now)
		if err != nil {
			return nil, err
		}
		issued = append(issued, notices...)
	}
	return issued, nil
}

func (r *Registry) noticesForRelease(ctx context.Context, w *writer, releaseID, pseudonym string, sampleIDs []string,
	records []consent.Record, docs []storage.ConsentDocument, lib consent.Library, now time.Time) ([]storage.Notice, error) {
	rel, err := w.tx.Release(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	previous, err := w.tx.Notices(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	strongest := map[string]string{} // sample -> strongest action noticed so far
	for _, n := range previous {
		for _, s := range n.Samples {
			if strongest[s] != ActionRetrain {
				strongest[s] = n.Action
			}
		}
	}

	lost, err := narrowerLost(rel, docs, records, lib, now)
	if err != nil {
		return nil, err
	}

	// Group the samples that lost their basis by reason.
	byReason := map[string][]string{}
	for _, sid := range sampleIDs {
		smp, err := w.tx.Sample(ctx, sid)
		if err != nil {
			return nil, err
		}
		explained := consent.Explain(records, lib, rel.Purpose, smp.Provenance.Modality, now)
		if explained == "" {
			explained = lost(smp.Provenance.Modality)
		}
		if explained == "" {
			continue
		}
		reason := noticeReason(explained, records)
		if done := strongest[sid]; done == ActionRetrain || (done == ActionDelete && actionFor(reason) == ActionDelete) {
			continue
		}
		byReason[reason] = append(byReason[reason], sid)
	}

	var out []storage.Notice
	for _, reason := range sortedReasons(byReason) {
		n := storage.Notice{
			ID: ident.New(noticePrefix), Release: releaseID, Participant: pseudonym, Reason: reason,
			Action: actionFor(reason), Samples: byReason[reason], IssuedAt: now,
		}
		n.EventIndex, err = w.append(event.TypeRevocationNotice, event.RevocationNotice{
			Notice: n.ID, Release: n.Release, Participant: n.Participant, Samples: n.Samples,
			Reason: n.Reason, Action: n.Action, IssuedAt: n.IssuedAt,
		})
		if err != nil {
			return nil, err
		}
		if err := w.tx.InsertNotice(ctx, n); err != nil {
			return nil, err
		}
		r.log.Info("revocation notice issued", "notice", n.ID, "release", n.Release, "reason", n.Reason, "samples", len(n.Samples))
		out = append(out, n)
	}
	return out, nil
}

// narrowerLost returns a function that gives, for a modality, the reason
// a purpose narrower than the release's lost its basis since the build,
// or "". The licence allows the narrower purposes its samples permitted
// at the build. A major revision of one of them, such as
// commercial.product under a commercial release, ends that use although
// the release's own purpose is still permitted.
func narrowerLost(rel storage.Release, docs []storage.ConsentDocument, records []consent.Record, lib consent.Library, now time.Time) (func(modality string) string, error) {
	purpose, err := consent.LookupPurpose(rel.Purpose)
	if err != nil {
		return nil, err
	}
	narrower := purpose.Narrower()

	// The documents and consent records as they stood at the build.
	then := libraryBefore(docs, rel.EventIndex)
	var before []consent.Record
	for _, rec := range records {
		if rec.Seq < rel.EventIndex {
			before = append(before, rec)
		}
	}

	// A participant's samples share a few modalities, so each is decided
	// once.
	reasons := map[string]string{}
	return func(modality string) string {
		if reason, ok := reasons[modality]; ok {
			return reason
		}
		reason := ""
		for _, p := range narrower {
			if !consent.Decide(before, then, p.Code, modality, rel.BuiltAt).Permitted() {
				continue // the licence already prohibited it
			}
			if reason = consent.Explain(records, lib, p.Code, modality, now); reason != "" {
				break
			}
		}
		reasons[modality] = reason
		return reason
	}, nil
}

func sortedReasons(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// noticeReason maps why a decision now denies to the reason a licensee
// reads: a withdrawal of everything is withdrawn, of part narrowed.
func noticeReason(explained string, records []consent.Record) string {
	switch explained {
	case consent.ReasonInvalidated:
		return NoticeInvalidated
	case consent.ReasonWithdrawn:
		for _, rec := range records {
			if rec.Action == consent.ActionWithdraw && len(rec.Tiers) == len(consent.Tiers) && len(rec.Modalities) == len(provenance.Modalities) {
				return NoticeWithdrawn
			}
		}
		return NoticeNarrowed
	case consent.ReasonExpired, consent.ReasonMajority:
		return NoticeExpired
	case consent.ReasonNewDocument:
		return NoticeRevised
	}
	return NoticeNarrowed
}

func actionFor(reason string) string {
	if reason == NoticeInvalidated {
		return ActionRetrain
	}
	return ActionDelete
}

// ScanNotices checks every published release against consent now and logs
// the notices that time alone made due, such as for consent that expired or
// a minor who came of age. Consent changes and major revisions of a
// consent document issue their notices themselves.
func (r *Registry) ScanNotices(ctx context.Context) ([]storage.Notice, error) {
	var issued []storage.Notice
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		var err error
		issued, err = r.scanNotices(ctx, w)
		return err
	})
	return issued, err
}

// scanNotices issues the notices due for every participant with released
// samples, in the caller's transaction.
func (r *Registry) scanNotices(ctx context.Context, w *writer) ([]storage.Notice, error) {
	people := map[string]bool{}
	var releases []storage.Release
	if err := w.tx.Releases(ctx, func(rel storage.Release) error { releases = append(releases, rel); return nil }); err != nil {
		return nil, err
	}
	for _, rel := range releases {
		err := w.tx.ReleaseSamples(ctx, rel.ID, func(sid string) error {
			smp, err := w.tx.Sample(ctx, sid)
			if err != nil {
				return err
			}
			people[smp.Participant] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(people))
	for p := range people {
		ids = append(ids, p)
	}
	sort.Strings(ids)
	var issued []storage.Notice
	for _, p := range ids {
		notices, err := r.issueNotices(ctx, w, p)
		if err != nil {
			return nil, err
		}
		issued = append(issued, notices...)
	}
	return issued, nil
}

// Acknowledge records that a licensee acted on a notice.
func (r *Registry) Acknowledge(ctx context.Context, noticeID, licensee string) (storage.Acknowledgement, error) {
	if licensee == "" {
		return storage.Acknowledgement{}, fmt.Errorf("no licensee given: pass --licensee with the name the release was built for")
	}
	if err := checkLicensee(licensee); err != nil {
		return storage.Acknowledgement{}, err
	}
	var ack storage.Acknowledgement
	err := r.update(ctx, func(ctx context.Context, w *writer) error {
		n, err := w.tx.Notice(ctx, noticeID)
		if err != nil {
			return err
		}
		rel, err := w.tx.Release(ctx, n.Release)
		if err != nil {
			return err
		}
		if rel.Licensee != "" && rel.Licensee != licensee {
			return fmt.Errorf("release %s was built for licensee %q, not %q", rel.ID, rel.Licensee, licensee)
		}
		if slices.ContainsFunc(n.Acks, func(a storage.Acknowledgement) bool { return a.Licensee == licensee }) {
			return fmt.Errorf("licensee %q already acknowledged notice %s", licensee, noticeID)
		}
		ack = storage.Acknowledgement{Notice: n.ID, Licensee: licensee, At: r.now().UTC()}
		ack.EventIndex, err = w.append(event.TypeNoticeAcknowledged, event.NoticeAcknowledged{Notice: n.ID, Release: n.Release, Licensee: licensee})
		if err != nil {
			return err
		}
		return w.tx.InsertAcknowledgement(ctx, ack)
	})
	return ack, err
}

// ReleaseStatus returns a release and all its notices, for a licensee
// checking the bundle they hold.
func (r *Registry) ReleaseStatus(ctx context.Context, releaseID string) (storage.Release, []storage.Notice, error) {
	var rel storage.Release
	var notices []storage.Notice
	err := r.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		if rel, err = tx.Release(ctx, releaseID); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("release %s is not in this registry: check --dir, or the bundle belongs to another registry: %w", releaseID, err)
			}
			return err
		}
		notices, err = tx.Notices(ctx, releaseID)
		return err
	})
	return rel, notices, err
}
