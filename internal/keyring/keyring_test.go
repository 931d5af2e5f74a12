package keyring

import (
	"bytes"
	"context"
	"io"
	"testing"
)

func newKeyring(t *testing.T) *Keyring {
	t.Helper()
	url, err := NewLocalKeeperURL()
	if err != nil {
		t.Fatal(err)
	}
	k, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func encrypt(t *testing.T, d *DataKey, plain []byte) []byte {
	t.Helper()
	var ct bytes.Buffer
	w, err := d.Encrypt(&ct)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return ct.Bytes()
}

func TestRoundTripThroughWrappedKey(t *testing.T) {
	ctx := context.Background()
	k := newKeyring(t)
	d, wrapped, err := k.NewDataKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("gait "), 50000)
	ct := encrypt(t, d, plain)
	if bytes.Contains(ct, []byte("gait gait")) {
		t.Fatal("ciphertext contains plaintext")
	}
	again, err := k.Unwrap(ctx, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	r, err := again.Decrypt(bytes.NewReader(ct))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes, %v", len(got), err)
	}
}

func TestOtherParticipantsKeyFails(t *testing.T) {
	ctx := context.Background()
	k := newKeyring(t)
	a, _, _ := k.NewDataKey(ctx)
	b, _, _ := k.NewDataKey(ctx)
	ct := encrypt(t, a, []byte("private"))
	if _, err := b.Decrypt(bytes.NewReader(ct)); err == nil {
		t.Fatal("another participant's key decrypted the recording")
	}
}

func TestTamperedCiphertextFails(t *testing.T) {
	ctx := context.Background()
	k := newKeyring(t)
	d, _, _ := k.NewDataKey(ctx)
	ct := encrypt(t, d, bytes.Repeat([]byte{7}, 100000))
	ct[len(ct)-100] ^= 1
	r, err := d.Decrypt(bytes.NewReader(ct))
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("tampered ciphertext decrypted")
	}
}

func TestUnwrapWithAnotherRegistryKeyFails(t *testing.T) {
	ctx := context.Background()
	_, wrapped, _ := newKeyring(t).NewDataKey(ctx)
	if _, err := newKeyring(t).Unwrap(ctx, wrapped); err == nil {
		t.Fatal("another registry key unwrapped the data key")
	}
}
