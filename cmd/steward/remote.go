package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/client"
	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/fhirconsent"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/server"
	"github.com/steward-rehab/steward/internal/storage"
)

// This file holds what the commands do with --server: the same operation
// through the HTTP API, printed as the local command prints it.

func remoteRegister(cmd *cobra.Command, call func(context.Context) (*client.ImportResult, error)) error {
	res, err := call(cmd.Context())
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		verb := "note"
		if n.Skipped {
			verb = "skipped"
		}
		printf(cmd, "%s: %s: %s\n", verb, n.Where, n.Text)
	}
	printRegistered(cmd, res)
	return nil
}

func remoteGrant(cmd *cobra.Command, c *client.Client, ref string, in registry.GrantInput) error {
	req := server.GrantRequest{
		Document: in.Document, Tiers: in.Tiers, Modalities: in.Modalities, Deny: in.Deny, Until: in.Until, Method: in.Method,
		Witness: in.Witness, Guardian: in.Guardian, Assent: in.Assent, MajorityMonth: in.MajorityMonth,
	}
	if !in.From.IsZero() {
		req.From = &in.From
	}
	if !in.SignedAt.IsZero() {
		req.SignedAt = &in.SignedAt
	}
	res, err := c.Grant(cmd.Context(), ref, req)
	if err != nil {
		return err
	}
	rec := res.Record
	printf(cmd, "recorded %s %s of %s at log index %d\n", rec.ID, rec.Decision, rec.Participant, res.EventIndex)
	printNotices(cmd, res.Notices)
	printRevisedNote(cmd, in.Document, res.NotCovered, res.NewestForm)
	return nil
}

func remoteWithdraw(cmd *cobra.Command, c *client.Client, ref string, in registry.WithdrawInput) error {
	req := server.WithdrawRequest{Tiers: in.Tiers, Modalities: in.Modalities, Method: in.Method, Witness: in.Witness}
	res, err := c.Withdraw(cmd.Context(), ref, req)
	if err != nil {
		return err
	}
	rec := res.Record
	printf(cmd, "recorded withdrawal %s of %s (%s; %s) at log index %d\n",
		rec.ID, rec.Participant, strings.Join(rec.Tiers, ","), strings.Join(rec.Modalities, ","), res.EventIndex)
	printNotices(cmd, res.Notices)
	return nil
}

func remoteInvalidate(cmd *cobra.Command, c *client.Client, ref, record, authority, reason string) error {
	res, err := c.Invalidate(cmd.Context(), ref, record, authority, reason)
	if err != nil {
		return err
	}
	printf(cmd, "recorded invalidation %s of %s at log index %d\n", res.Record.ID, res.Record.Voids, res.EventIndex)
	printNotices(cmd, res.Notices)
	return nil
}

func printNotices(cmd *cobra.Command, notices []client.Notice) {
	for _, n := range notices {
		printf(cmd, "notice %s: release %s, %s, %s %d samples\n", n.ID, n.Release, n.Reason, n.Action, len(n.Samples))
	}
}

func remoteShowConsent(cmd *cobra.Command, c *client.Client, ref string, at time.Time) error {
	h, err := c.Consent(cmd.Context(), ref, at)
	if err != nil {
		return err
	}
	printRecords(cmd, h.Participant, client.Records(h.Records))
	printf(cmd, "decisions at %s:\n", h.At.Format(time.RFC3339))
	cells := map[string][]string{}
	var purposes []string
	for _, d := range h.Decisions {
		if _, seen := cells[d.Purpose]; !seen {
			purposes = append(purposes, d.Purpose)
		}
		cells[d.Purpose] = append(cells[d.Purpose], fmt.Sprintf("%s=%s", d.Modality, d.Decision))
	}
	for _, p := range purposes {
		printf(cmd, "  %-24s %s\n", p, strings.Join(cells[p], " "))
	}
	return nil
}

func remoteDocuments(cmd *cobra.Command, c *client.Client) ([]storage.ConsentDocument, error) {
	docs, err := c.Documents(cmd.Context())
	if err != nil {
		return nil, err
	}
	out := make([]storage.ConsentDocument, len(docs))
	for i, d := range docs {
		out[i] = storage.ConsentDocument{Document: d.Document, EventIndex: d.EventIndex}
	}
	return out, nil
}

func remoteBuildRelease(cmd *cobra.Command, c *client.Client, spec registry.ReleaseSpec) error {
	req := client.ReleaseRequest{Purpose: spec.Purpose, Modalities: spec.Modalities, Licensee: spec.Licensee, WithData: spec.WithData}
	if !spec.Terms.Until.IsZero() {
		req.Until = &spec.Terms.Until
	}
	res, err := c.BuildRelease(cmd.Context(), req, spec.Out)
	if err != nil {
		return err
	}
	rel := res.Release
	printBuilt(cmd, storage.Release{ID: rel.ID, Version: rel.Version, SampleCount: rel.SampleCount, Purpose: rel.Purpose,
		Modalities: rel.Modalities, Replaces: rel.Replaces, EventIndex: rel.EventIndex}, res.Considered, res.Excluded, res.ExcludedPurposes, res.Checkpoint, spec.Out)
	return nil
}

func remoteListReleases(cmd *cobra.Command, c *client.Client) error {
	releases, err := c.Releases(cmd.Context())
	if err != nil {
		return err
	}
	for _, rel := range releases {
		printf(cmd, "%s  v%-7s %s  %-22s %-22s %d samples  log index %d\n", rel.ID, rel.Version, rel.BuiltAt.Format(time.RFC3339),
			rel.Purpose, strings.Join(rel.Modalities, ","), rel.SampleCount, rel.EventIndex)
	}
	return nil
}

// remoteReleaseStatus returns a release and its notices in the types the
// local command prints.
func remoteReleaseStatus(cmd *cobra.Command, c *client.Client, id string) (storage.Release, []storage.Notice, error) {
	rel, notices, err := c.ReleaseNotices(cmd.Context(), id)
	if err != nil {
		return storage.Release{}, nil, err
	}
	out := make([]storage.Notice, len(notices))
	for i, n := range notices {
		out[i] = toStorageNotice(n)
	}
	return storage.Release{ID: rel.ID, Version: rel.Version, Licensee: rel.Licensee, ManifestDigest: rel.ManifestDigest}, out, nil
}

func toStorageNotice(n client.Notice) storage.Notice {
	out := storage.Notice{ID: n.ID, Release: n.Release, Participant: n.Participant, Reason: n.Reason, Action: n.Action,
		Samples: n.Samples, IssuedAt: n.IssuedAt, EventIndex: n.EventIndex}
	for _, a := range n.Acknowledgements {
		out.Acks = append(out.Acks, storage.Acknowledgement{Notice: n.ID, Licensee: a.Licensee, At: a.At, EventIndex: a.EventIndex})
	}
	return out
}

func remoteVerifyLog(cmd *cobra.Command, c *client.Client, withContent bool) error {
	rep, err := c.VerifyLog(cmd.Context(), withContent)
	if err != nil {
		return err
	}
	if !rep.Verified {
		return fmt.Errorf("log verification failed with %d problem(s):\n  %s", len(rep.Problems), strings.Join(rep.Problems, "\n  "))
	}
	printf(cmd, "log verified: %d entries, %d checkpoints, %d projected rows\n", rep.Size, rep.Checkpoints, rep.Projections)
	if withContent {
		printf(cmd, "every recording reads back with its registered digest\n")
	}
	return nil
}

// consentDocument finds a document by version in a list.
func consentDocument(docs []storage.ConsentDocument, version string) (consent.Document, bool) {
	for _, sd := range docs {
		if sd.Document.Version == version {
			return sd.Document, true
		}
	}
	return consent.Document{}, false
}

func remoteImportConsent(cmd *cobra.Command, c *client.Client, file string, raw []byte, opts registry.ImportOptions) error {
	ref := opts.Participant
	if ref == "" {
		ref = subjectPseudonym(raw)
	}
	if ref == "" {
		return withHint(errors.New("with --server, consent import needs a file whose Consents name one Steward pseudonym, or the participant"),
			"pass --participant with their source id or pseudonym")
	}
	res, err := c.ImportConsentFHIR(cmd.Context(), ref, raw, opts.Document, string(opts.Version))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	printImport(cmd, file, &registry.ImportResult{Participant: res.Participant, Consents: res.Consents, Skipped: res.Skipped,
		Unchanged: res.Unchanged, Records: client.Records(res.Records), Notes: res.Notes})
	return nil
}

// subjectPseudonym returns the one Steward pseudonym the Consents of a
// FHIR file name in their subject, or "" when they name none or several.
// The server checks the subject again; this only picks the path.
func subjectPseudonym(raw []byte) string {
	parsed, err := fhirconsent.Parse(raw, "")
	if err != nil {
		return ""
	}
	found := ""
	for _, c := range parsed.Consents {
		switch {
		case c.Participant == "":
		case found == "":
			found = c.Participant
		case c.Participant != found:
			return ""
		}
	}
	return found
}
