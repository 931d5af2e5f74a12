package release

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Types of the attestation: a DSSE envelope whose payload is an in-toto
// Statement v1 with Steward's release predicate.
const (
	InTotoPayloadType   = "application/vnd.in-toto+json"
	ReleasePredicateURI = "https://github.com/steward-rehab/steward/blob/main/docs/release-metadata.md#release-predicate-v1"
)

// ReleasePredicate is the registry's statement about the bundle whose files
// are the statement's subjects: the release, and the checkpoint that its
// proofs are against.
type ReleasePredicate struct {
	Release    string              `json:"release"`
	Origin     string              `json:"origin"`
	Version    string              `json:"version"`
	Checkpoint PredicateCheckpoint `json:"checkpoint"`
}

// PredicateCheckpoint identifies the bundled checkpoint.
type PredicateCheckpoint struct {
	Size uint64 `json:"size"`
	// Root is the tree root, base64 as in the checkpoint itself.
	Root string `json:"root"`
}

// ed25519Signer signs DSSE pre-authentication encodings with an Ed25519
// key.
type ed25519Signer struct {
	key   ed25519.PrivateKey
	keyID string
}

func (s ed25519Signer) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(s.key, data), nil
}

func (s ed25519Signer) KeyID() (string, error) { return s.keyID, nil }

// NewAttestation returns attestation.dsse.json: a DSSE envelope, signed
// over its pre-authentication encoding with key, of an in-toto Statement v1
// whose subjects are files (bundle path to sha256:<hex> digest).
func NewAttestation(ctx context.Context, p ReleasePredicate, files map[string]string, key ed25519.PrivateKey, keyID string) ([]byte, error) {
	var predicate map[string]any
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &predicate); err != nil {
		return nil, err
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: ReleasePredicateURI}
	if st.Predicate, err = structpb.NewStruct(predicate); err != nil {
		return nil, fmt.Errorf("attestation predicate: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		digest, ok := strings.CutPrefix(files[name], "sha256:")
		if !ok {
			return nil, fmt.Errorf("attestation subject %s: digest %q is not sha256", name, files[name])
		}
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": digest}})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("attestation statement: %w", err)
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode attestation statement: %w", err)
	}

	signer, err := dsse.NewEnvelopeSigner(ed25519Signer{key: key, keyID: keyID})
	if err != nil {
		return nil, err
	}
	env, err := signer.SignPayload(ctx, InTotoPayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign attestation: %w", err)
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// attestationCheck holds what checkAttestation compares the statement with.
type attestationCheck struct {
	dir     string
	key     NoteKey
	release string
	version string
	cp      PredicateCheckpoint
	origin  string
	// digests holds the sha256 of files already hashed by other checks.
	digests map[string]string
}

// checkAttestation verifies attestation.dsse.json and reports every
// failure. The envelope must carry only signatures by the log key, all
// valid over the DSSE pre-authentication encoding. Its statement must be an
// in-toto Statement v1 with Steward's release predicate for this release
// and checkpoint, and its subjects must be exactly the files of the bundle,
// each with its sha256.
func checkAttestation(c attestationCheck, rep *Report) {
	payload, ok := verifyEnvelope(c, rep)
	if !ok {
		return
	}
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(payload, &st); err != nil {
		rep.fail("%s: the payload is not an in-toto statement: %v", AttestationFile, err)
		return
	}
	if st.GetType() != intoto.StatementTypeUri {
		rep.fail("%s: statement type %q is not %s", AttestationFile, st.GetType(), intoto.StatementTypeUri)
		return
	}
	if err := st.Validate(); err != nil {
		rep.fail("%s: invalid statement: %v", AttestationFile, err)
		return
	}
	if st.GetPredicateType() != ReleasePredicateURI {
		rep.fail("%s: predicate type %q is not %s", AttestationFile, st.GetPredicateType(), ReleasePredicateURI)
		return
	}
	checkPredicate(c, st.GetPredicate(), rep)
	checkSubjects(c, st.GetSubject(), rep)
}

// verifyEnvelope returns the payload of the envelope when its type is an
// in-toto statement and every signature on it is a valid one by the log key.
func verifyEnvelope(c attestationCheck, rep *Report) ([]byte, bool) {
	raw, err := readFile(c.dir, AttestationFile)
	if err != nil {
		rep.fail("%s: %v", AttestationFile, err)
		return nil, false
	}

	var env dsse.Envelope
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		rep.fail("%s: invalid DSSE envelope: %v", AttestationFile, err)
		return nil, false
	}
	if env.PayloadType != InTotoPayloadType {
		rep.fail("%s: unknown payload type %q: expected %s", AttestationFile, env.PayloadType, InTotoPayloadType)
		return nil, false
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		rep.fail("%s: payload is not base64: %v", AttestationFile, err)
		return nil, false
	}
	if len(env.Signatures) == 0 {
		rep.fail("%s: the envelope carries no signature", AttestationFile)
		return nil, false
	}

	// A signature by another key, such as a witness's, is rejected too:
	// every signature must be one that the log key made.
	pae := dsse.PAE(env.PayloadType, payload)
	ok := true
	for i, s := range env.Signatures {
		if s.KeyID != "" && s.KeyID != c.key.ID {
			rep.fail("%s: signature %d is by the unknown key %q, not the log key %q", AttestationFile, i+1, s.KeyID, c.key.ID)
			ok = false
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || !ed25519.Verify(c.key.Public, pae, sig) {
			rep.fail("%s: signature %d is not a valid signature by the log key %q", AttestationFile, i+1, c.key.ID)
			ok = false
		}
	}
	return payload, ok
}

func checkPredicate(c attestationCheck, raw *structpb.Struct, rep *Report) {
	var p ReleasePredicate
	encoded, err := raw.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(encoded, &p)
	}
	if err != nil {
		rep.fail("%s: invalid release predicate: %v", AttestationFile, err)
		return
	}
	for _, d := range []struct {
		field      string
		got, other any
	}{
		{"release", p.Release, c.release}, {"origin", p.Origin, c.origin}, {"version", p.Version, c.version},
		{"checkpoint size", p.Checkpoint.Size, c.cp.Size}, {"checkpoint root", p.Checkpoint.Root, c.cp.Root},
	} {
		if d.got != d.other {
			rep.fail("%s: predicate %s %v differs from the bundle's %v", AttestationFile, d.field, d.got, d.other)
		}
	}
}

// checkSubjects compares the subjects with the files of the bundle, both
// ways.
func checkSubjects(c attestationCheck, subjects []*intoto.ResourceDescriptor, rep *Report) {
	named := map[string]string{}
	for _, s := range subjects {
		name := s.GetName()
		if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
			rep.fail("%s: invalid subject name %q", AttestationFile, name)
			continue
		}
		if _, dup := named[name]; dup {
			rep.fail("%s: subject %s appears twice", AttestationFile, name)
			continue
		}
		digest, ok := s.GetDigest()["sha256"]
		if !ok {
			rep.fail("%s: subject %s has no sha256 digest", AttestationFile, name)
			continue
		}
		named[name] = "sha256:" + strings.ToLower(digest)
	}

	files, err := bundleFiles(c.dir)
	if err != nil {
		rep.fail("%s: list bundle files: %v", AttestationFile, err)
		return
	}
	for _, f := range files {
		want, ok := named[f]
		if !ok {
			rep.fail("%s is in the bundle but not a subject of %s", f, AttestationFile)
			continue
		}
		delete(named, f)
		got, ok := c.digests[f]
		if !ok {
			if got, _, err = digestFile(filepath.Join(c.dir, filepath.FromSlash(f))); err != nil {
				rep.fail("%s: %v", f, err)
				continue
			}
		}
		if got != want {
			rep.fail("%s: digest %s differs from the attested %s", f, got, want)
			continue
		}
		rep.Attested++
	}
	for _, name := range sortedNames(named) {
		rep.fail("%s: subject %s is missing from the bundle", AttestationFile, name)
	}
}

func readFile(dir, name string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("missing: every bundle exported by the registry carries one")
	}
	return raw, err
}
