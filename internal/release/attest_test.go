package release

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/steward-rehab/steward/internal/tlog"
	"golang.org/x/mod/sumdb/note"
)

// testKey is a log key pair made by tlog.GenerateKey, as steward init
// makes log.key and log.pub.
type testKey struct {
	signer, verifier string
	key              NoteKey
	private          ed25519.PrivateKey
}

func newTestKey(t *testing.T, origin string) testKey {
	t.Helper()
	skey, vkey, err := tlog.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	key, private, err := ParseNoteSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: skey, verifier: vkey, key: key, private: private}
}

func TestNoteKeysMatchSignedNoteFormat(t *testing.T) {
	k := newTestKey(t, "steward.example/lab")
	public, err := ParseNoteVerifierKey(k.verifier + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !public.Public.Equal(k.key.Public) || public.ID != k.key.ID || public.Name != "steward.example/lab" {
		t.Fatalf("public key %+v differs from the signer's %+v", public, k.key)
	}
	if !strings.HasPrefix(k.verifier, public.ID+"+") {
		t.Errorf("key id %s is not the name+hash prefix of %s", public.ID, k.verifier)
	}

	// A signature by the derived key verifies with the note library.
	msg := []byte("size\n")
	signed, err := note.Sign(&note.Note{Text: string(msg)}, mustSigner(t, k.signer))
	if err != nil {
		t.Fatal(err)
	}
	sig := signed[strings.LastIndex(string(signed), " ")+1:]
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sig)))
	if len(raw) != 4+ed25519.SignatureSize || !ed25519.Verify(k.key.Public, msg, raw[4:]) {
		t.Error("the note signature does not verify with the derived public key")
	}
}

func mustSigner(t *testing.T, skey string) note.Signer {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNoteKeysRejectMalformed(t *testing.T) {
	k := newTestKey(t, "o.example")
	fields := strings.Split(k.verifier, "+")
	for name, vkey := range map[string]string{
		"wrong hash":    fields[0] + "+00000000+" + fields[2],
		"bad hash":      fields[0] + "+xyz+" + fields[2],
		"not base64":    fields[0] + "+" + fields[1] + "+!!!",
		"missing parts": fields[0],
		"other algorithm": fields[0] + "+" + fields[1] + "+" +
			base64.StdEncoding.EncodeToString(append([]byte{2}, k.key.Public...)),
	} {
		if _, err := ParseNoteVerifierKey(vkey); err == nil {
			t.Errorf("%s: key %q accepted", name, vkey)
		}
	}
	if _, _, err := ParseNoteSignerKey(k.verifier); err == nil || !strings.Contains(err.Error(), "PRIVATE+KEY+") {
		t.Errorf("public key accepted as signing key: %v", err)
	}
}

// attestFixture is a written bundle with its digests, for attestation tests.
type attestFixture struct {
	dir   string
	key   testKey
	files map[string]string
	check attestationCheck
}

func newAttestFixture(t *testing.T) attestFixture {
	t.Helper()
	b := writeTestBundle(t, 4, testHeader(), nil, Terms{})
	k := newTestKey(t, b.header.Origin)
	names, err := bundleFiles(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, name := range names {
		if files[name], _, err = digestFile(filepath.Join(b.dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	cp := PredicateCheckpoint{Size: 12, Root: base64.StdEncoding.EncodeToString(make([]byte, 32))}
	return attestFixture{dir: b.dir, key: k, files: files, check: attestationCheck{
		dir: b.dir, key: k.key, release: b.header.Release, version: b.trailer.Version, origin: b.header.Origin,
		cp: cp, digests: map[string]string{},
	}}
}

func (f attestFixture) predicate() ReleasePredicate {
	return ReleasePredicate{Release: f.check.release, Origin: f.check.origin, Version: f.check.version, Checkpoint: f.check.cp}
}

// statement returns the JSON of an in-toto statement about files.
func (f attestFixture) statement(t *testing.T, typ, predicateType string, files map[string]string, p ReleasePredicate) []byte {
	t.Helper()
	var subjects []map[string]any
	for name, digest := range files {
		subjects = append(subjects, map[string]any{"name": name, "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}})
	}
	raw, err := json.Marshal(map[string]any{"_type": typ, "subject": subjects, "predicateType": predicateType, "predicate": p})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// envelope signs payload with each key and returns the envelope's JSON.
func envelope(t *testing.T, payloadType string, payload []byte, signers ...testKey) []byte {
	t.Helper()
	env := dsse.Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload), Signatures: []dsse.Signature{}}
	for _, k := range signers {
		sig := ed25519.Sign(k.private, dsse.PAE(payloadType, payload))
		env.Signatures = append(env.Signatures, dsse.Signature{KeyID: k.key.ID, Sig: base64.StdEncoding.EncodeToString(sig)})
	}
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (f attestFixture) verify(t *testing.T, attestation []byte) *Report {
	t.Helper()
	if attestation != nil {
		if err := os.WriteFile(filepath.Join(f.dir, AttestationFile), attestation, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := &Report{}
	checkAttestation(f.check, rep)
	return rep
}

func TestAttestationVerifies(t *testing.T) {
	f := newAttestFixture(t)
	raw, err := NewAttestation(context.Background(), f.predicate(), f.files, f.key.private, f.key.key.ID)
	if err != nil {
		t.Fatal(err)
	}
	rep := f.verify(t, raw)
	if !rep.OK() {
		t.Fatalf("problems: %v", rep.Problems)
	}
	if rep.Attested != len(f.files) {
		t.Errorf("%d files attested, want %d", rep.Attested, len(f.files))
	}
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if env.PayloadType != InTotoPayloadType || len(env.Signatures) != 1 || env.Signatures[0].KeyID != f.key.key.ID {
		t.Errorf("envelope %+v", env)
	}
}

func TestAttestationRejects(t *testing.T) {
	f := newAttestFixture(t)
	other := newTestKey(t, "intruder.example")
	impostor := other
	impostor.key.ID = f.key.key.ID // another key claiming to be the log key
	valid := f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, f.files, f.predicate())
	without := func(name string) map[string]string {
		out := map[string]string{}
		for k, v := range f.files {
			if k != name {
				out[k] = v
			}
		}
		return out
	}
	with := func(name, digest string) map[string]string {
		out := without("")
		out[name] = digest
		return out
	}
	wrongCheckpoint := f.predicate()
	wrongCheckpoint.Checkpoint.Size++
	otherRelease := f.predicate()
	otherRelease.Release = "r-other"

	for _, c := range []struct {
		name        string
		attestation []byte
		want        string
	}{
		{"unknown payload type", envelope(t, "application/json", valid, f.key), `unknown payload type "application/json"`},
		{"no signature", envelope(t, InTotoPayloadType, valid), "carries no signature"},
		{"unknown key only", envelope(t, InTotoPayloadType, valid, other), "signature 1 is by the unknown key"},
		{"extra signature by unknown key", envelope(t, InTotoPayloadType, valid, f.key, other), "signature 2 is by the unknown key"},
		{"other key claiming the log key", envelope(t, InTotoPayloadType, valid, impostor), "signature 1 is not a valid signature by the log key"},
		{"legacy statement type", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v0.1", ReleasePredicateURI, f.files, f.predicate()), f.key), "statement type"},
		{"other predicate type", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", "https://slsa.dev/provenance/v1", f.files, f.predicate()), f.key), "predicate type"},
		{"other checkpoint", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, f.files, wrongCheckpoint), f.key), "predicate checkpoint size"},
		{"other release", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, f.files, otherRelease), f.key), "predicate release r-other"},
		{"missing subject", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, without(LicenceJSONLDFile), f.predicate()), f.key), "licence.jsonld is in the bundle but not a subject"},
		{"wrong digest", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, with(MetadataFile, Digest([]byte("other"))), f.predicate()), f.key), "metadata.json: digest"},
		{"subject not in bundle", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, with("data/s-9999.wav", Digest(nil)), f.predicate()), f.key), "subject data/s-9999.wav is missing from the bundle"},
		{"subject outside bundle", envelope(t, InTotoPayloadType, f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, with("../etc/passwd", Digest(nil)), f.predicate()), f.key), `invalid subject name "../etc/passwd"`},
		{"not an envelope", []byte(`{"payload": 3}`), "invalid DSSE envelope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := f.verify(t, c.attestation)
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
				t.Fatalf("problems %q, want one containing %q", rep.Problems, c.want)
			}
		})
	}

	t.Run("tampered payload", func(t *testing.T) {
		var env dsse.Envelope
		if err := json.Unmarshal(envelope(t, InTotoPayloadType, valid, f.key), &env); err != nil {
			t.Fatal(err)
		}
		env.Payload = base64.StdEncoding.EncodeToString(f.statement(t, "https://in-toto.io/Statement/v1", ReleasePredicateURI, without(DatasheetFile), f.predicate()))
		raw, _ := json.Marshal(env)
		rep := f.verify(t, raw)
		if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "not a valid signature by the log key") {
			t.Fatalf("problems %q", rep.Problems)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if err := os.Remove(filepath.Join(f.dir, AttestationFile)); err != nil {
			t.Fatal(err)
		}
		rep := f.verify(t, nil)
		if rep.OK() || !strings.Contains(rep.Problems[0], "attestation.dsse.json: missing") {
			t.Fatalf("problems %q", rep.Problems)
		}
	})
}

func TestAttestationRejectsChangedFiles(t *testing.T) {
	f := newAttestFixture(t)
	raw, err := NewAttestation(context.Background(), f.predicate(), f.files, f.key.private, f.key.key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, AttestationFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "notes.txt"), []byte("added"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, CheckpointFile), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := f.verify(t, nil)
	problems := strings.Join(rep.Problems, "\n")
	for _, want := range []string{"notes.txt is in the bundle but not a subject", "checkpoint: digest"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems %q lack %q", rep.Problems, want)
		}
	}
}
