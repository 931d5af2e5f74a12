package blobstore

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestOpenS3RejectsBadURLs(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, url, want string
	}{
		{"no bucket", "s3://?endpoint=http://127.0.0.1:1", "no bucket name"},
		{"single key", "s3://b?endpoint=http://127.0.0.1:1&key=one", "remove the key parameter"},
		{"unknown parameter", "s3://b?endpoint=http://127.0.0.1:1&secret_token=hunter2", "unknown query parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url)
			if err == nil {
				t.Fatalf("Open(%s) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the URL's query", err)
			}
		})
	}
}

func TestRedactedErrorHidesQueries(t *testing.T) {
	err := redactedError{io.ErrUnexpectedEOF}
	if err.Error() != io.ErrUnexpectedEOF.Error() {
		t.Errorf("an error without a URL changed to %q", err)
	}
	quoted := redactedError{&testError{`open bucket s3://b?endpoint=http://h:1&token=abc: Put "http://h:1/b/k?x-id=PutObject": refused`}}
	if got, want := quoted.Error(), `open bucket s3://b: Put "http://h:1/b/k": refused`; got != want {
		t.Errorf("redacted to %q, want %q", got, want)
	}
}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }
