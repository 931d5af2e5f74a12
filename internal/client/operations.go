package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/importer"
	"github.com/steward-rehab/steward/internal/ledger"
)

// ImportResult is the outcome of an ingest or an import.
type ImportResult struct {
	Notes   []importer.Note    `json:"notes"`
	Samples []RegisteredSample `json:"samples"`
	// Erased lists where the samples were declared that were left out
	// because their participant was erased.
	Erased              []string `json:"erased"`
	ParticipantsCreated int      `json:"participantsCreated"`
	ParticipantsUpdated int      `json:"participantsUpdated"`
}

// RegisteredSample is the outcome for one sample of an import.
type RegisteredSample struct {
	Where       string `json:"where"`
	Sample      string `json:"sample"`
	Participant string `json:"participant"`
	Digest      string `json:"digest"`
	EventIndex  uint64 `json:"eventIndex"`
	Duplicate   bool   `json:"duplicate"`
	// Differs names the declared fields of a duplicate whose values differ
	// from the first registration's, which are kept.
	Differs []string `json:"differs,omitempty"`
}

// Ingest uploads a manifest and the recordings it lists, which it reads
// and checks locally first, and registers them.
func (c *Client) Ingest(ctx context.Context, manifest, namespace string) (*ImportResult, error) {
	batch, _, err := importer.Manifest(manifest, namespace)
	if err != nil {
		return nil, err
	}
	names := []string{filepath.Base(manifest)}
	for _, s := range batch.Samples {
		names = append(names, filepath.ToSlash(s.Declaration.Path))
	}
	q := url.Values{"manifest": {filepath.Base(manifest)}}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	return c.upload(ctx, "/api/v1/samples?"+q.Encode(), filepath.Dir(manifest), names)
}

// Import uploads a dataset folder and imports it with the named importer.
func (c *Client) Import(ctx context.Context, format, dir string) (*ImportResult, error) {
	names, err := folderFiles(dir)
	if err != nil {
		return nil, err
	}
	return c.upload(ctx, "/api/v1/imports/"+url.PathEscape(format), dir, names)
}

// upload streams the files as a tar archive, without holding them in memory.
func (c *Client) upload(ctx context.Context, path, dir string, names []string) (*ImportResult, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir, names)) }()
	resp, err := c.request(ctx, "POST", path, pr, "application/x-tar", nil)
	pr.Close()
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res ImportResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("decode import result: %w", err)
	}
	return &res, nil
}

// Notice is a revocation notice.
type Notice struct {
	ID               string    `json:"id"`
	Release          string    `json:"release"`
	Participant      string    `json:"participant"`
	Reason           string    `json:"reason"`
	Action           string    `json:"action"`
	Samples          []string  `json:"samples"`
	IssuedAt         time.Time `json:"issuedAt"`
	EventIndex       uint64    `json:"eventIndex"`
	Acknowledgements []Ack     `json:"acknowledgements"`
}

// Ack is a licensee's acknowledgement of a notice.
type Ack struct {
	Licensee   string    `json:"licensee"`
	At         time.Time `json:"at"`
	EventIndex uint64    `json:"eventIndex"`
}

// Record is a consent record with the log index of the event that
// recorded it.
type Record struct {
	consent.Record
	EventIndex uint64 `json:"eventIndex"`
}

// Records returns the consent records with Seq set to their log index, as
// a local registry returns them.
func Records(in []Record) []consent.Record {
	out := make([]consent.Record, len(in))
	for i, r := range in {
		out[i] = r.Record
		out[i].Seq = r.EventIndex
	}
	return out
}

// ConsentResult is a recorded consent change and the notices it issued.
type ConsentResult struct {
	Record     Record   `json:"record"`
	EventIndex uint64   `json:"eventIndex"`
	Notices    []Notice `json:"notices"`
	// NotCovered lists the purposes a grant under a revised form does not
	// cover until the participant signs NewestForm.
	NotCovered []string `json:"notCovered,omitempty"`
	NewestForm string   `json:"newestForm,omitempty"`
}

// Grant records a consent grant; in is the JSON body the server reads.
func (c *Client) Grant(ctx context.Context, ref string, in any) (*ConsentResult, error) {
	var res ConsentResult
	return &res, c.call(ctx, "POST", participantPath(ref, "/consent/grants"), in, &res)
}

// Withdraw records a withdrawal.
func (c *Client) Withdraw(ctx context.Context, ref string, in any) (*ConsentResult, error) {
	var res ConsentResult
	return &res, c.call(ctx, "POST", participantPath(ref, "/consent/withdrawals"), in, &res)
}

// Invalidate records that an authority voided a consent record.
func (c *Client) Invalidate(ctx context.Context, ref, record, authority, reason string) (*ConsentResult, error) {
	in := map[string]string{"record": record, "authority": authority, "reason": reason}
	var res ConsentResult
	return &res, c.call(ctx, "POST", participantPath(ref, "/consent/invalidations"), in, &res)
}

// ConsentHistory is a participant's consent history and the decisions in
// force at one time.
type ConsentHistory struct {
	Participant string    `json:"participant"`
	At          time.Time `json:"at"`
	Records     []Record  `json:"records"`
	Decisions   []struct {
		Purpose  string `json:"purpose"`
		Modality string `json:"modality"`
		Decision string `json:"decision"`
	} `json:"decisions"`
}

// Consent returns a participant's consent history with the decisions at
// time at, or now when at is zero.
func (c *Client) Consent(ctx context.Context, ref string, at time.Time) (*ConsentHistory, error) {
	path := participantPath(ref, "/consent")
	if !at.IsZero() {
		path += "?at=" + url.QueryEscape(at.Format(time.RFC3339))
	}
	var h ConsentHistory
	return &h, c.call(ctx, "GET", path, nil, &h)
}

func participantPath(ref, rest string) string {
	return "/api/v1/participants/" + url.PathEscape(ref) + rest
}

// Document is a registered consent document.
type Document struct {
	consent.Document
	Digest     string `json:"digest"`
	EventIndex uint64 `json:"eventIndex"`
}

// Documents lists the registered consent documents.
func (c *Client) Documents(ctx context.Context) ([]Document, error) {
	var out struct {
		Documents []Document `json:"documents"`
	}
	return out.Documents, c.call(ctx, "GET", "/api/v1/documents", nil, &out)
}

// AddDocument registers a consent document from its YAML or JSON file.
func (c *Client) AddDocument(ctx context.Context, raw []byte, isJSON bool) (*Document, error) {
	contentType := "application/yaml"
	if isJSON {
		contentType = "application/json"
	}
	resp, err := c.request(ctx, "POST", "/api/v1/documents", bytes.NewReader(raw), contentType, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var d Document
	return &d, json.NewDecoder(resp.Body).Decode(&d)
}

// Release is a logged release.
type Release struct {
	ID             string    `json:"id"`
	Purpose        string    `json:"purpose"`
	Modalities     []string  `json:"modalities"`
	Licensee       string    `json:"licensee"`
	Version        string    `json:"version"`
	Replaces       string    `json:"replaces"`
	BuiltAt        time.Time `json:"builtAt"`
	ManifestDigest string    `json:"manifestDigest"`
	SampleCount    int       `json:"sampleCount"`
	EventIndex     uint64    `json:"eventIndex"`
}

// ReleaseResult summarises a release build.
type ReleaseResult struct {
	Release    Release        `json:"release"`
	Considered int            `json:"considered"`
	Excluded   map[string]int `json:"excluded"`
	// ExcludedPurposes are the narrower purposes the licence prohibits.
	ExcludedPurposes []string `json:"excludedPurposes,omitempty"`
	Checkpoint       uint64   `json:"checkpointSize"`
}

// ReleaseRequest is the body of a release build request.
type ReleaseRequest struct {
	Purpose    string     `json:"purpose"`
	Modalities []string   `json:"modalities,omitempty"`
	Licensee   string     `json:"licensee,omitempty"`
	Until      *time.Time `json:"until,omitempty"`
	WithData   bool       `json:"withData,omitempty"`
}

// BuildRelease builds a release and unpacks its bundle, sent as a tar,
// into out.
func (c *Client) BuildRelease(ctx context.Context, req ReleaseRequest, out string) (*ReleaseResult, error) {
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("output folder %s exists and is not empty: choose a new --out folder", out)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.request(ctx, "POST", "/api/v1/releases", bytes.NewReader(raw), "application/json", http.Header{"Accept": {"application/x-tar"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res ReleaseResult
	if err := json.Unmarshal([]byte(resp.Header.Get("Steward-Release")), &res); err != nil {
		return nil, fmt.Errorf("decode the release summary of the response: %w", err)
	}
	if _, err := unpackTar(resp.Body, out); err != nil {
		return &res, fmt.Errorf("release %s is logged, but unpacking its bundle failed (run steward release export %s --out DIR to fetch it again): %w",
			res.Release.ID, res.Release.ID, err)
	}
	return &res, nil
}

// ExportRelease downloads a release's bundle into out.
func (c *Client) ExportRelease(ctx context.Context, id, out string, withData bool) error {
	path := "/api/v1/releases/" + url.PathEscape(id) + "/bundle?format=tar"
	if withData {
		path += "&data=true"
	}
	resp, err := c.request(ctx, "GET", path, nil, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = unpackTar(resp.Body, out)
	return err
}

// Releases lists the releases the token may see.
func (c *Client) Releases(ctx context.Context) ([]Release, error) {
	var out struct {
		Releases []Release `json:"releases"`
	}
	return out.Releases, c.call(ctx, "GET", "/api/v1/releases", nil, &out)
}

// ReleaseNotices returns a release and its revocation notices.
func (c *Client) ReleaseNotices(ctx context.Context, id string) (*Release, []Notice, error) {
	var out struct {
		Release Release  `json:"release"`
		Notices []Notice `json:"notices"`
	}
	err := c.call(ctx, "GET", "/api/v1/releases/"+url.PathEscape(id)+"/notices", nil, &out)
	return &out.Release, out.Notices, err
}

// Acknowledge records that a licensee acted on a notice. With a licensee
// token, licensee may be empty.
func (c *Client) Acknowledge(ctx context.Context, notice, licensee string) (*Ack, error) {
	var a Ack
	in := map[string]string{}
	if licensee != "" {
		in["licensee"] = licensee
	}
	return &a, c.call(ctx, "POST", "/api/v1/notices/"+url.PathEscape(notice)+"/acknowledgements", in, &a)
}

// ScanNotices issues the notices that time made due.
func (c *Client) ScanNotices(ctx context.Context) ([]Notice, error) {
	var out struct {
		Notices []Notice `json:"notices"`
	}
	return out.Notices, c.call(ctx, "POST", "/api/v1/notices/scan", nil, &out)
}

// FeedItem is one item of the revocation notice feed.
type FeedItem struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Notice Notice `json:"_steward"`
}

// NoticeFeed reads the JSON Feed of the token's revocation notices.
func (c *Client) NoticeFeed(ctx context.Context) ([]FeedItem, error) {
	var out struct {
		Items []FeedItem `json:"items"`
	}
	return out.Items, c.call(ctx, "GET", "/api/v1/notices", nil, &out)
}

// LogReport is the outcome of a log verification.
type LogReport struct {
	Verified    bool     `json:"verified"`
	Size        uint64   `json:"size"`
	Checkpoints int      `json:"checkpoints"`
	Projections int      `json:"projections"`
	Problems    []string `json:"problems"`
	Content     bool     `json:"content"`
}

// VerifyLog has the server re-derive its tree and check every checkpoint.
func (c *Client) VerifyLog(ctx context.Context, withContent bool) (*LogReport, error) {
	path := "/api/v1/log/verification"
	if withContent {
		path += "?content=true"
	}
	var rep LogReport
	return &rep, c.call(ctx, "POST", path, nil, &rep)
}

// SignCheckpoint has the server sign a checkpoint and returns its note.
func (c *Client) SignCheckpoint(ctx context.Context) (string, error) {
	var out struct {
		Checkpoint string `json:"checkpoint"`
	}
	return out.Checkpoint, c.call(ctx, "POST", "/api/v1/log/checkpoints", nil, &out)
}

// GCReport counts the objects garbage collection examined, removed and kept.
type GCReport struct {
	Staging, Orphans, Kept, Examined int
}

// CollectGarbage removes uploads that killed imports left behind.
func (c *Client) CollectGarbage(ctx context.Context, grace time.Duration) (*GCReport, error) {
	var rep GCReport
	return &rep, c.call(ctx, "POST", "/api/v1/gc?grace="+url.QueryEscape(grace.String()), nil, &rep)
}

// ErasureResult is the outcome of an erasure.
type ErasureResult struct {
	Participant    string   `json:"participant"`
	Samples        int      `json:"samples"`
	EventIndex     uint64   `json:"eventIndex"`
	PacksRewritten int      `json:"packsRewritten"`
	Notices        []Notice `json:"notices"`
	TokensRevoked  int      `json:"tokensRevoked"`
	PaymentsVoided int      `json:"paymentsVoided"`
	// Unclaimed are the transfers that moved the participant's balance to
	// the unclaimed account.
	Unclaimed []ledger.Transfer `json:"-"`
}

// Erase erases a participant.
func (c *Client) Erase(ctx context.Context, ref string) (*ErasureResult, error) {
	var out struct {
		ErasureResult
		Unclaimed []transfer `json:"unclaimed"`
	}
	if err := c.call(ctx, "POST", participantPath(ref, "/erasure"), map[string]bool{"confirm": true}, &out); err != nil {
		return nil, err
	}
	res := out.ErasureResult
	res.Unclaimed = transfers(out.Unclaimed)
	return &res, nil
}

// Get sends a GET and returns the response body, for raw resources such as
// the checkpoint, tiles and the copy of a participant's data.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.request(ctx, "GET", path, nil, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// ExportConsentFHIR returns a participant's consent history as a FHIR
// Bundle; version is r5, r4 or empty for the server's default.
func (c *Client) ExportConsentFHIR(ctx context.Context, ref, version string) ([]byte, error) {
	path := participantPath(ref, "/consent/fhir")
	if version != "" {
		path += "?fhir=" + url.QueryEscape(version)
	}
	return c.Get(ctx, path)
}

// FHIRImport is the outcome of a FHIR consent import.
type FHIRImport struct {
	Participant string   `json:"participant"`
	Consents    int      `json:"consents"`
	Skipped     []string `json:"skipped"`
	Unchanged   []string `json:"unchanged"`
	Records     []Record `json:"records"`
	Notes       []string `json:"notes"`
}

// ImportConsentFHIR records a participant's consent from FHIR Consent
// resources. document and version may be empty.
func (c *Client) ImportConsentFHIR(ctx context.Context, ref string, raw []byte, document, version string) (*FHIRImport, error) {
	q := url.Values{}
	if document != "" {
		q.Set("document", document)
	}
	if version != "" {
		q.Set("fhir", version)
	}
	path := participantPath(ref, "/consent/fhir")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.request(ctx, "POST", path, bytes.NewReader(raw), "application/fhir+json", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res FHIRImport
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("decode FHIR import result: %w", err)
	}
	return &res, nil
}
