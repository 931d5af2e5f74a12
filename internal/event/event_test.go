package event

import (
	"testing"
	"time"
)

func TestEncodeIsCanonical(t *testing.T) {
	at := time.Date(2025, 5, 1, 10, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	entry, err := Encode(TypeParticipantRegistered, at, ParticipantRegistered{Participant: "p-1", AttributesDigest: "sha256:00"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"attributesDigest":"sha256:00","participant":"p-1"},"time":"2025-05-01T08:00:00Z","type":"participant.registered","v":1}`
	if string(entry) != want {
		t.Fatalf("got  %s\nwant %s", entry, want)
	}
	if err := CheckCanonical(entry); err != nil {
		t.Fatal(err)
	}
	if err := CheckCanonical([]byte(`{"v":1, "type":"x"}`)); err == nil {
		t.Fatal("non-canonical entry accepted")
	}
}

func TestEncodeNumbers(t *testing.T) {
	entry, err := Encode("x", time.Unix(0, 0), map[string]any{"rate": 480.118992639312, "n": 100.0, "small": 1e-7})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"n":100,"rate":480.118992639312,"small":1e-7},"time":"1970-01-01T00:00:00Z","type":"x","v":1}`
	if string(entry) != want {
		t.Fatalf("got  %s\nwant %s", entry, want)
	}
}
