// Package storage defines the contracts between the registry and the
// engines that keep its state: the database that holds the log and the
// tables projected from it (Store), the object store that holds encrypted
// recordings (see package blobstore), and the key store of participants'
// data keys (the DataKeys part of Tx).
//
// Every engine runs the conformance suite in storage/storagetest unchanged.
package storage

import (
	"context"
	"errors"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/participant"
	"github.com/steward-rehab/steward/internal/provenance"
	"github.com/steward-rehab/steward/internal/tlog"
)

// Errors that every engine returns, wrapped, so callers test them with
// errors.Is.
var (
	// ErrNotFound reports that a looked-up row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that an insert collided with a unique key, such as
	// a second sample with the same digest.
	ErrConflict = errors.New("conflict")
	// ErrSchemaVersion reports that the database schema is older or newer than
	// this binary. The message says which command to run.
	ErrSchemaVersion = errors.New("schema version mismatch")
	// ErrCorrupt reports a stored value that Steward could not have
	// written, such as a time in another format or invalid JSON: the table
	// was edited outside Steward.
	ErrCorrupt = errors.New("stored value cannot be read")
)

// Store is the registry database.
//
// Durability: when Update returns nil, everything its function wrote is
// committed durably. When it returns an error, nothing was written.
//
// Concurrency: a Store is safe for concurrent use by many goroutines, and
// several processes may open the same database. Log appends are sequenced:
// transactions that append get gapless, unique indexes in commit order.
//
// Iteration: methods that call fn for each row read the rows in pages, so fn
// may run other queries on the same transaction, and memory stays bounded
// however many rows there are.
type Store interface {
	// Update runs fn in a read-write transaction and commits when fn returns
	// nil. The engine retries fn on serialization failures and deadlocks, so
	// fn may run more than once and must not have effects outside tx.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot.
	View(ctx context.Context, fn func(tx ReadTx) error) error
	// Close releases the database.
	Close() error
}

// ReadTx reads one consistent snapshot.
type ReadTx interface {
	LogReader
	ParticipantReader
	SampleReader
	ConsentReader
	ReleaseReader
	TokenReader
	LedgerReader
	CompensationReader
	PayoutReader
}

// Tx reads and writes within one transaction.
type Tx interface {
	ReadTx
	LogWriter
	ParticipantWriter
	SampleWriter
	ConsentWriter
	ReleaseWriter
	TokenWriter
	LedgerWriter
	CompensationWriter
	PayoutWriter
}

// LogReader reads the Merkle log.
type LogReader interface {
	// LogSize returns the number of committed entries.
	LogSize(ctx context.Context) (uint64, error)
	// Entries calls fn for each entry with index in [from, to), in order,
	// with the exact stored bytes. fn must not keep entry after it returns.
	Entries(ctx context.Context, from, to uint64, fn func(index uint64, entry []byte) error) error
	// EntriesAt calls fn for the entries at the given indexes, in increasing
	// index order. A missing index is an error wrapping ErrNotFound.
	EntriesAt(ctx context.Context, indexes []uint64, fn func(index uint64, entry []byte) error) error
	// ReadNodes returns stored tree node hashes (see tlog.NodeReader).
	ReadNodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
	// ReadNodeRange returns the hashes of the nodes at one level with index
	// in [from, to), concatenated in index order (see tlog.RangeReader).
	ReadNodeRange(ctx context.Context, level uint, from, to uint64) ([]byte, error)
	// Checkpoints calls fn for every stored checkpoint, oldest first.
	Checkpoints(ctx context.Context, fn func(Checkpoint) error) error
	// LatestCheckpoint returns the checkpoint with the largest size, or
	// ErrNotFound when none has been signed.
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)
}

// LogWriter appends to the Merkle log.
type LogWriter interface {
	// LockLog takes the log's append lock for the rest of the transaction
	// and returns the current size. Transactions that append are serialised
	// by this lock; call it before reading state that decides what to append.
	LockLog(ctx context.Context) (uint64, error)
	// AppendEntries stores entries at indexes start, start+1, ... together
	// with the tree nodes they complete, and advances the log size. start
	// must equal the size LockLog returned plus the entries appended since.
	AppendEntries(ctx context.Context, start uint64, entries [][]byte, nodes []tlog.Node) error
	// PutCheckpoint stores a signed checkpoint. Storing one with the same
	// size and note again is a no-op.
	PutCheckpoint(ctx context.Context, cp Checkpoint) error
}

// Checkpoint is a signed checkpoint as stored.
type Checkpoint struct {
	Size     uint64
	Root     []byte
	Note     []byte
	SignedAt time.Time
}

// Participant is the projection of a participant.
type Participant struct {
	Pseudonym string
	// Namespace and SourceID are the participant's id in the source dataset,
	// such as gaitpdb and GaPt03. They are direct identifiers: never logged.
	Namespace  string
	SourceID   string
	Attributes participant.Attributes
	// Salt makes the logged attributes digest unguessable.
	Salt         []byte
	RegisteredAt time.Time
	EventIndex   uint64
	// ErasedAt is when the participant was erased; zero while they are not.
	ErasedAt time.Time
}

// ParticipantReader looks participants up.
type ParticipantReader interface {
	// Participant returns the participant with the given pseudonym.
	Participant(ctx context.Context, pseudonym string) (Participant, error)
	// ParticipantsBySource returns the participants whose source id is
	// sourceID, in any namespace, or in namespace ns when it is not empty.
	ParticipantsBySource(ctx context.Context, ns, sourceID string) ([]Participant, error)
	// Participants calls fn for every participant, ordered by pseudonym.
	Participants(ctx context.Context, fn func(Participant) error) error
	// Namespaces returns the distinct namespaces participants are in.
	Namespaces(ctx context.Context) ([]string, error)
	// ParticipantsOf returns several participants keyed by pseudonym; unknown
	// pseudonyms are absent.
	ParticipantsOf(ctx context.Context, pseudonyms []string) (map[string]Participant, error)
	// DataKey returns the wrapped data key of a participant.
	DataKey(ctx context.Context, pseudonym string) ([]byte, error)
}

// ParticipantWriter creates and updates participants.
type ParticipantWriter interface {
	// InsertParticipant creates a participant with its wrapped data key.
	// It returns ErrConflict if the pseudonym or the (namespace, source id)
	// pair exists.
	InsertParticipant(ctx context.Context, p Participant, wrappedKey []byte) error
	// UpdateAttributes replaces a participant's attributes and salt.
	UpdateAttributes(ctx context.Context, pseudonym string, attrs participant.Attributes, salt []byte) error
	// EraseParticipant destroys the participant's data key, attributes,
	// salt and bank details, and the keys of the FHIR resources imported
	// for them. It replaces their source id with the given tombstone,
	// clears their samples' sources and recording locations, and marks them
	// erased at the given time. The pseudonym, the sample rows and the consent
	// history stay: they hold no identity and project events of the log.
	EraseParticipant(ctx context.Context, pseudonym, tombstone string, at time.Time) error
}

// Sample is the projection of a registered sample.
type Sample struct {
	ID              string
	Participant     string
	Digest          string // sha256:<hex> of the plaintext content
	Size            int64
	DurationSeconds float64
	Provenance      provenance.Record
	// ExternalID is the collector's own id of the sample, if given.
	ExternalID string
	// Source describes where the file came from (dataset, file name,
	// publisher checksum). It may contain direct identifiers: never logged.
	Source map[string]string
	// BlobKey, BlobOffset and BlobLength locate the encrypted recording: a
	// whole object when BlobLength is 0, else a byte range of a pack.
	BlobKey      string
	BlobOffset   int64
	BlobLength   int64
	RegisteredAt time.Time
	EventIndex   uint64
}

// SampleFilter selects samples.
type SampleFilter struct {
	Modalities  []string // empty: all
	Participant string   // empty: all
	// ByParticipant orders by participant, then id, instead of by id, so a
	// caller can handle one participant's samples together.
	ByParticipant bool
}

// SampleReader looks samples up.
type SampleReader interface {
	Sample(ctx context.Context, id string) (Sample, error)
	SampleByDigest(ctx context.Context, digest string) (Sample, error)
	SampleByExternalID(ctx context.Context, externalID string) (Sample, error)
	// SamplesInBlob returns the samples whose recordings are stored in the
	// object at key, such as the members of a pack.
	SamplesInBlob(ctx context.Context, key string) ([]Sample, error)
	// SamplesByDigest returns the samples with the given digests, keyed by
	// digest; unknown digests are absent.
	SamplesByDigest(ctx context.Context, digests []string) (map[string]Sample, error)
	// Samples calls fn for the matching samples, ordered by id or, with
	// f.ByParticipant, by participant and id.
	Samples(ctx context.Context, f SampleFilter, fn func(Sample) error) error
}

// SampleWriter registers samples.
type SampleWriter interface {
	// RelocateSample records that a sample's encrypted recording moved, as
	// when a pack is rewritten without an erased participant's recordings.
	RelocateSample(ctx context.Context, id, blobKey string, offset, length int64) error
	// InsertSample returns ErrConflict if the id, the digest or the external
	// id exists.
	InsertSample(ctx context.Context, s Sample) error
	// InsertSamples inserts many samples in few statements. It returns
	// ErrConflict if any id, digest or external id exists or repeats, and
	// may then have inserted some of the samples: roll the transaction back.
	InsertSamples(ctx context.Context, samples []Sample) error
}

// ConsentReader reads consent histories.
type ConsentReader interface {
	// ConsentRecords returns a participant's history in signing order, each
	// record's Seq set to the index of its event.
	ConsentRecords(ctx context.Context, pseudonym string) ([]consent.Record, error)
	// ConsentRecordsOf returns the histories of several participants, keyed
	// by pseudonym; participants without records are absent.
	ConsentRecordsOf(ctx context.Context, pseudonyms []string) (map[string][]consent.Record, error)
	// ConsentDocument returns a registered document version.
	ConsentDocument(ctx context.Context, version string) (ConsentDocument, error)
	// ConsentDocuments returns every registered document in registration order.
	ConsentDocuments(ctx context.Context) ([]ConsentDocument, error)
	// AllConsentRecords calls fn once per participant that has any record,
	// with that participant's history as ConsentRecords returns it.
	AllConsentRecords(ctx context.Context, fn func(pseudonym string, records []consent.Record) error) error
	// ConsentImports returns the FHIR resources imported for a participant:
	// the digest of each by its key (see fhirconsent.Consent.Key). It is
	// empty, not an error, for a participant without imports.
	ConsentImports(ctx context.Context, pseudonym string) (map[string]string, error)
}

// ConsentWriter appends to consent histories and registers documents.
type ConsentWriter interface {
	InsertConsentRecord(ctx context.Context, r consent.Record, eventIndex uint64) error
	// InsertConsentImports records the FHIR resources, digests by key, that
	// one import converted for a participant; eventIndex is the import's
	// first event. ErrConflict if a key was recorded for the participant
	// before.
	InsertConsentImports(ctx context.Context, pseudonym string, resources map[string]string, eventIndex uint64) error
	// InsertConsentDocument registers a document version; ErrConflict if the
	// version exists.
	InsertConsentDocument(ctx context.Context, d consent.Document, eventIndex uint64) error
}

// ConsentDocument is a registered consent document.
type ConsentDocument struct {
	Document   consent.Document
	EventIndex uint64
}

// Release is the projection of a published release.
type Release struct {
	ID             string
	Purpose        string
	Modalities     []string
	BuiltAt        time.Time
	ManifestDigest string
	SampleCount    int
	EventIndex     uint64
	// Licensee is who the release was built for, empty for an open offer.
	Licensee string
	// Series groups releases of the same selection: purpose, modalities
	// and licensee. Version is semantic (major.minor.patch) within it.
	Series   string
	Version  string
	Replaces string
}

// Notice is a revocation notice: samples of a published release whose
// consent was withdrawn, narrowed, expired or invalidated.
type Notice struct {
	ID          string
	Release     string
	Participant string
	Reason      string
	// Action is what the licensee must do: delete, or delete-and-retrain.
	Action     string
	Samples    []string
	IssuedAt   time.Time
	EventIndex uint64
	Acks       []Acknowledgement
}

// Acknowledgement records that a licensee acted on a notice.
type Acknowledgement struct {
	Notice     string
	Licensee   string
	At         time.Time
	EventIndex uint64
}

// ReleaseReader reads releases.
type ReleaseReader interface {
	Release(ctx context.Context, id string) (Release, error)
	Releases(ctx context.Context, fn func(Release) error) error
	// ReleaseSamples calls fn with the id of every sample in a release.
	ReleaseSamples(ctx context.Context, releaseID string, fn func(sampleID string) error) error
	// LatestInSeries returns the newest release of a series, or ErrNotFound.
	LatestInSeries(ctx context.Context, series string) (Release, error)
	// ReleasedSamplesOf returns, by release id, the ids of a participant's
	// samples in each release that contains any.
	ReleasedSamplesOf(ctx context.Context, pseudonym string) (map[string][]string, error)
	// Notices returns a release's revocation notices, oldest first, with
	// their samples and acknowledgements.
	Notices(ctx context.Context, releaseID string) ([]Notice, error)
	// Notice returns one notice, or ErrNotFound.
	Notice(ctx context.Context, id string) (Notice, error)
}

// ReleaseWriter records releases.
type ReleaseWriter interface {
	InsertRelease(ctx context.Context, r Release) error
	// AddReleaseSamples records samples of a release; call it as often as
	// needed, with each sample once.
	AddReleaseSamples(ctx context.Context, releaseID string, sampleIDs []string) error
	// InsertNotice stores a notice with its samples.
	InsertNotice(ctx context.Context, n Notice) error
	// InsertAcknowledgement stores an acknowledgement; ErrConflict if the
	// licensee acknowledged the notice before.
	InsertAcknowledgement(ctx context.Context, a Acknowledgement) error
}

// Kinds of access token.
const (
	// TokenAPI is a bearer token for the HTTP API, issued by an admin.
	TokenAPI = "api"
	// TokenSignIn is a single-use sign-in link for a participant's pages.
	TokenSignIn = "signin"
	// TokenSession is the session a sign-in link was exchanged for.
	TokenSession = "session"
)

// Token is an access token as stored. The secret itself is never stored:
// Hash is its SHA-256, so a copy of the database grants no access.
type Token struct {
	ID   string
	Hash []byte
	Kind string
	// Role is admin, steward, participant, licensee or auditor. Participant,
	// Licensee and Org narrow it to one pseudonym, licensee or namespace.
	Role        string
	Participant string
	Licensee    string
	Org         string
	IssuedBy    string
	IssuedAt    time.Time
	// ExpiresAt, RevokedAt and UsedAt are nil when the token never expires,
	// is not revoked, or (for a single-use token) is not used yet.
	ExpiresAt *time.Time
	RevokedAt *time.Time
	UsedAt    *time.Time
	// EventIndex is the index of the event that logged the issue, or 0 for
	// tokens that are not logged (sign-in links and sessions).
	EventIndex uint64
}

// TokenReader looks access tokens up.
type TokenReader interface {
	// TokenByHash returns the token whose secret hashes to hash, or
	// ErrNotFound. It returns expired, revoked and used tokens too: the
	// caller decides.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// Token returns the token with the given id, or ErrNotFound.
	Token(ctx context.Context, id string) (Token, error)
	// Tokens calls fn for every token, ordered by issue time and id.
	Tokens(ctx context.Context, fn func(Token) error) error
}

// TokenWriter stores access tokens.
type TokenWriter interface {
	// InsertToken stores a token; ErrConflict if its id or hash exists.
	InsertToken(ctx context.Context, t Token) error
	// RevokeToken marks a token revoked at the given time. Revoking a
	// revoked token keeps the first time. ErrNotFound if there is no token
	// with that id.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// UseToken marks a single-use token used. It returns ErrConflict if the
	// token was used before, so of two concurrent uses only one succeeds,
	// and ErrNotFound if there is no token with that id.
	UseToken(ctx context.Context, id string, at time.Time) error
}
