package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/importer"
	"github.com/steward-rehab/steward/internal/registry"
	"github.com/steward-rehab/steward/internal/release"
	"github.com/steward-rehab/steward/internal/synth"
)

func newDemoCommand(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on generated recordings, printing each step",
		Long: `Generate voice, IMU and pressure-insole recordings for six participants, then
run what a clinic, a participant and a licensee do: register them, record
consent, build a release, withdraw consent, build again, verify both bundles
offline, show that a tampered bundle fails, and verify the whole log.

Everything goes into --dir (default: a new temporary folder), which is kept so
you can look at it or run other steward commands with --dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.rejectServer(cmd); err != nil {
				return err
			}
			if dir == "" {
				var err error
				if dir, err = os.MkdirTemp("", "steward-demo-"); err != nil {
					return err
				}
			} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return fmt.Errorf("demo folder %s is not empty: choose a new --dir", dir)
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder for the demo's registry, recordings and bundles (default: a new temporary folder)")
	return cmd
}

// demo carries the state of one demo run.
type demo struct {
	out   io.Writer
	dir   string
	reg   *registry.Registry
	step  int
	first *registry.ReleaseResult
}

func (d *demo) section(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n== %d. %s\n", d.step, fmt.Sprintf(format, args...))
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, "   "+format+"\n", args...) }

func runDemo(ctx context.Context, out io.Writer, dir string) error {
	d := &demo{out: out, dir: dir}
	fmt.Fprintf(out, "Steward demo in %s\n", dir)
	steps := []func(context.Context) error{
		d.initRegistry, d.generate, d.ingest, d.ingestAgain, d.rejectBadManifest,
		d.recordConsent, d.majorRevision, d.firstRelease, d.withdraw, d.status, d.secondRelease,
		d.verifyBundles, d.tamper, d.erase, d.verifyLog,
	}
	defer func() {
		if d.reg != nil {
			d.reg.Close()
		}
	}()
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return fmt.Errorf("demo step %d: %w", d.step, err)
		}
	}
	fmt.Fprintf(out, "\nDone. The registry is in %s; try: steward --dir %s consent show P001\n",
		filepath.Join(dir, "registry"), filepath.Join(dir, "registry"))
	return nil
}

func (d *demo) initRegistry(ctx context.Context) error {
	d.section("steward init: create a registry with its log key and registry key")
	var err error
	d.reg, err = registry.Init(ctx, filepath.Join(d.dir, "registry"), registry.InitOptions{Origin: "demo.steward.local/clinic"})
	if err != nil {
		return err
	}
	d.say("log %s, public key in %s", d.reg.Origin(), filepath.Join(d.dir, "registry", registry.LogPubFile))
	return nil
}

// demoPeople are the generated participants.
var demoPeople = []string{"P001", "P002", "P003", "P004", "P005", "P006"}

func (d *demo) generate(ctx context.Context) error {
	d.section("generate recordings: a sustained vowel, an IMU walk and an insole walk per participant")
	data := filepath.Join(d.dir, "capture")
	var rows []map[string]any
	for i, p := range demoPeople {
		files := []struct {
			name, modality, format string
			rate                   int
			channels               int
			timeUnit               string
			protocol, device       string
			write                  func(io.Writer) error
		}{
			{"voice.wav", "voice", "wav", 16000, 1, "", "sustained-vowel", "Zoom H5",
				func(w io.Writer) error { return synth.Vowel(w, 16000, 2, i) }},
			{"imu.tsv", "sensor", "tsv", 100, 6, "s", "10-metre-walk", "Shimmer3 IMU",
				func(w io.Writer) error { return synth.IMU(w, 100, 30, i) }},
			{"insole.tsv", "pressure", "tsv", 100, 18, "s", "usual-walk", "Moticon OpenGo",
				func(w io.Writer) error { return synth.Insole(w, 100, 30, i) }},
		}
		for _, f := range files {
			rel := filepath.Join(p, f.name)
			if err := writeGenerated(filepath.Join(data, rel), f.write); err != nil {
				return err
			}
			row := map[string]any{
				"path": rel, "participant": p, "modality": f.modality, "format": f.format,
				"samplingRate": f.rate, "channels": f.channels, "collectorId": "site-a/physio-1",
				"device":     map[string]string{"model": f.device, "firmware": "1.0"},
				"capturedAt": time.Date(2026, 3, 2+i, 10, 0, 0, 0, time.UTC).Format(time.RFC3339),
				"protocol":   f.protocol, "labelSchemaVersion": "1", "consentVersion": "v1",
			}
			if f.timeUnit != "" {
				row["timeUnit"] = f.timeUnit
			}
			rows = append(rows, row)
		}
	}
	if err := writeManifest(filepath.Join(data, "manifest.jsonl"), rows); err != nil {
		return err
	}
	d.say("%d recordings and manifest.jsonl in %s", len(rows), data)
	return nil
}

func writeGenerated(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeManifest(path string, rows []map[string]any) error {
	var b bytes.Buffer
	for _, row := range rows {
		line, err := json.Marshal(row)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func (d *demo) ingestManifest(ctx context.Context, path string) (*registry.RegisterReport, error) {
	batch, _, err := importer.Manifest(path, "")
	if err != nil {
		return nil, err
	}
	return d.reg.Register(ctx, batch)
}

func (d *demo) ingest(ctx context.Context) error {
	d.section("steward ingest capture/manifest.jsonl: hash, check, encrypt and log every recording")
	rep, err := d.ingestManifest(ctx, filepath.Join(d.dir, "capture", "manifest.jsonl"))
	if err != nil {
		return err
	}
	for _, s := range rep.Samples[:3] {
		d.say("%s -> %s (%s), log index %d", s.Where, s.Sample, short(s.Digest), s.EventIndex)
	}
	d.say("... %d samples of %d participants registered", len(rep.Samples), rep.ParticipantsCreated)
	return nil
}

func (d *demo) ingestAgain(ctx context.Context) error {
	d.section("ingest the same manifest again, as a client does after a time-out")
	rep, err := d.ingestManifest(ctx, filepath.Join(d.dir, "capture", "manifest.jsonl"))
	if err != nil {
		return err
	}
	dups := 0
	for _, s := range rep.Samples {
		if s.Duplicate {
			dups++
		}
	}
	d.say("%d of %d rows returned their original sample; nothing new was logged", dups, len(rep.Samples))
	return nil
}

func (d *demo) rejectBadManifest(ctx context.Context) error {
	d.section("ingest a manifest with a wrong sampling rate: the whole manifest is rejected")
	bad := filepath.Join(d.dir, "capture", "bad.jsonl")
	row := `{"path":"P001/voice.wav","participant":"P007","modality":"voice","format":"wav","samplingRate":44100,"collectorId":"site-a/physio-1","device":{"model":"Zoom H5","firmware":"1.0"},"capturedAt":"2026-03-09T10:00:00Z","protocol":"sustained-vowel","labelSchemaVersion":"1","consentVersion":"v1"}`
	if err := os.WriteFile(bad, []byte(row+"\n"), 0o644); err != nil {
		return err
	}
	_, err := d.ingestManifest(ctx, bad)
	var be *registry.BatchError
	if !errors.As(err, &be) {
		return fmt.Errorf("the bad manifest was not rejected: %v", err)
	}
	for _, p := range be.Problems {
		d.say("rejected: %s", p.Error())
	}
	return nil
}

func (d *demo) recordConsent(ctx context.Context) error {
	d.section("steward consent grant: record what each participant allowed")
	now := time.Now().UTC()
	expired := now.AddDate(0, 0, -1)
	grants := []struct {
		who   string
		tiers []string
		until *time.Time
		note  string
	}{
		{"P001", []string{"research", "clinical", "commercial"}, nil, "all tiers"},
		{"P002", []string{"research", "commercial"}, nil, "research and commercial"},
		{"P003", []string{"research", "commercial"}, nil, "research and commercial"},
		{"P004", []string{"research"}, nil, "research only"},
		{"P005", []string{"commercial"}, &expired, "commercial, expired yesterday"},
	}
	for _, g := range grants {
		in := registry.GrantInput{Document: "v1", Tiers: g.tiers, Modalities: []string{"voice", "sensor", "pressure"},
			Until: g.until, SignedAt: now.AddDate(0, 0, -30), From: now.AddDate(0, 0, -30)}
		rec, err := d.reg.Grant(ctx, g.who, in)
		if err != nil {
			return err
		}
		d.say("%s (%s): %s, log index %d", g.who, rec.Participant, g.note, rec.Seq)
	}
	d.say("P006 gave no consent")
	return nil
}

func (d *demo) buildRelease(ctx context.Context, name string) (*registry.ReleaseResult, error) {
	res, err := d.reg.BuildRelease(ctx, registry.ReleaseSpec{
		Purpose: "commercial", Modalities: []string{"pressure", "sensor"}, Licensee: "acme-gait", Out: filepath.Join(d.dir, name), WithData: true,
	})
	if err != nil {
		return nil, err
	}
	sel := res.Trailer.Selection
	d.say("release %s version %s for acme-gait: %d of %d samples, bundle in %s", res.Release.ID, res.Release.Version,
		res.Release.SampleCount, sel.Considered, name)
	if res.Release.Replaces != "" {
		d.say("replaces %s", res.Release.Replaces)
	}
	for _, reason := range sortedKeys(sel.Excluded) {
		d.say("left out %d: %s", sel.Excluded[reason], reason)
	}
	for _, p := range res.Trailer.ExcludedPurposes {
		d.say("licence.json prohibits %s: the participants signed v1, which does not cover it", p)
	}
	return res, nil
}

func (d *demo) majorRevision(ctx context.Context) error {
	d.section("steward consent document add v2.yaml: a major revision adds licensing to third parties")
	v2 := consent.DefaultDocument()
	v2.Version, v2.Revision, v2.Supersedes = "v2", consent.RevisionMajor, "v1"
	v2.ChangedPurposes, v2.ThirdPartyTransfer = []string{"commercial.third-party"}, true
	v2.Summary += "\nNew in v2: companies may license your recordings to other companies."
	idx, err := d.reg.AddDocument(ctx, v2)
	if err != nil {
		return err
	}
	d.say("v2 registered at log index %d; everyone signed v1 only", idx)
	res, err := d.reg.BuildRelease(ctx, registry.ReleaseSpec{Purpose: "commercial.third-party", Out: filepath.Join(d.dir, "release-third-party")})
	if err != nil {
		return err
	}
	d.say("a release for commercial.third-party takes %d of %d samples: %d left out because %q",
		res.Release.SampleCount, res.Trailer.Selection.Considered, res.Trailer.Selection.Excluded[consent.ReasonNewDocument], consent.ReasonNewDocument)
	return nil
}

func (d *demo) firstRelease(ctx context.Context) error {
	d.section("steward release build --purpose commercial --modality pressure,sensor --licensee acme-gait --with-data")
	res, err := d.buildRelease(ctx, "release-1")
	d.first = res
	return err
}

func (d *demo) status(ctx context.Context) error {
	d.section("steward release status release-1: the licensee learns what was revoked since")
	_, notices, err := d.reg.ReleaseStatus(ctx, d.first.Release.ID)
	if err != nil {
		return err
	}
	for _, n := range notices {
		d.say("notice %s: %s, %s samples %s", n.ID, n.Reason, n.Action, strings.Join(n.Samples, ", "))
		ack, err := d.reg.Acknowledge(ctx, n.ID, "acme-gait")
		if err != nil {
			return err
		}
		d.say("acme-gait acknowledged it at log index %d", ack.EventIndex)
	}
	return nil
}

func (d *demo) withdraw(ctx context.Context) error {
	d.section("steward consent withdraw P002 --tiers commercial: the participant changes their mind")
	rec, err := d.reg.Withdraw(ctx, "P002", registry.WithdrawInput{Tiers: []string{"commercial"}})
	if err != nil {
		return err
	}
	d.say("withdrawal %s logged at index %d", rec.ID, rec.Seq)
	return nil
}

func (d *demo) secondRelease(ctx context.Context) error {
	d.section("build the same release again: a new major version without P002's samples")
	_, err := d.buildRelease(ctx, "release-2")
	return err
}

func (d *demo) verifyBundles(ctx context.Context) error {
	d.section("steward verify: a licensee checks each bundle offline with log.pub only")
	for _, name := range []string{"release-1", "release-2"} {
		rep, err := release.Verify(filepath.Join(d.dir, name), d.reg.VerifierKey())
		if err != nil {
			return err
		}
		d.say("%s: %d samples, %d proofs and %d files verified against checkpoint %d", name, rep.Samples, rep.ProofsChecked, rep.FilesChecked, rep.CheckpointSize)
	}
	return nil
}

func (d *demo) tamper(ctx context.Context) error {
	d.section("tamper with a copy of release-2: drop a sample from the manifest, then verify")
	src := filepath.Join(d.dir, "release-2")
	dst := filepath.Join(d.dir, "release-2-tampered")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	path := filepath.Join(dst, release.ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m release.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	m.Samples = m.Samples[1:]
	edited, err := m.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		return err
	}
	_, err = release.Verify(dst, d.reg.VerifierKey())
	if err == nil {
		return errors.New("the tampered bundle verified")
	}
	for _, line := range strings.Split(err.Error(), "\n")[1:] {
		d.say("verify failed as it must: %s", strings.TrimSpace(line))
	}
	return nil
}

func (d *demo) erase(ctx context.Context) error {
	d.section("steward erase P003 --yes: a participant asks to be forgotten")
	rep, err := d.reg.Erase(ctx, "P003")
	if err != nil {
		return err
	}
	d.say("%d recordings destroyed, data key gone, %d packs rewritten, %d releases told to delete", rep.Samples, rep.PacksRewritten, len(rep.Notices))
	vrep, err := release.Verify(filepath.Join(d.dir, "release-1"), d.reg.VerifierKey())
	if err != nil {
		return err
	}
	d.say("release-1, built before the erasure, still verifies: %d samples, checkpoint %d", vrep.Samples, vrep.CheckpointSize)
	return nil
}

func (d *demo) verifyLog(ctx context.Context) error {
	d.section("steward log verify: re-derive the whole tree and check every checkpoint")
	rep, err := d.reg.VerifyLog(ctx)
	if err != nil {
		return err
	}
	d.say("%d entries, %d checkpoints and %d projected rows verified", rep.Size, rep.Checkpoints, rep.Projections)
	return nil
}
