package blobstore

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // registers s3:// URLs with blob.OpenBucket
	"gocloud.dev/gcerrors"
)

// openS3 opens an S3 bucket through gocloud.dev/blob/s3blob. The URL takes
// the query parameters of s3blob.URLOpener and gocloud.dev/aws (endpoint,
// region, use_path_style, ...) and prefix. Credentials come from the
// standard AWS sources: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws,
// or an instance role.
//
// It lists one object to check the endpoint, the bucket and the credentials,
// so that a wrong URL fails when the registry opens instead of halfway
// through an import.
func openS3(ctx context.Context, u *url.URL, rawURL string) (*blob.Bucket, error) {
	name := redact(rawURL)
	if u.Host == "" {
		return nil, fmt.Errorf("invalid blob store URL %s: no bucket name; use s3://BUCKET?endpoint=...", name)
	}
	if u.Query().Has("key") {
		// gocloud.dev maps every key to this one object, which would make all
		// recordings overwrite each other.
		return nil, fmt.Errorf("invalid blob store URL %s: remove the key parameter; use prefix to keep the registry under a key prefix", name)
	}

	// Ranged reads of packs carry no checksum of the range, and by default
	// the AWS SDK prints a line to stderr for each such response. Recordings
	// are checked by their SHA-256 digests and age's authenticated
	// encryption, so the SDK validates response checksums only where an
	// operation requires it, unless the URL sets response_checksum_validation.
	q := u.Query()
	if !q.Has("response_checksum_validation") {
		q.Set("response_checksum_validation", "when_required")
		u.RawQuery = q.Encode()
	}

	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", name, redactedError{err})
	}
	ok, err := b.IsAccessible(ctx)
	switch {
	case err != nil && gcerrors.Code(err) == gcerrors.PermissionDenied:
		b.Close()
		return nil, fmt.Errorf("open blob store %s: access denied: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: %w", name, redactedError{err})
	case err != nil:
		b.Close()
		return nil, fmt.Errorf("open blob store %s: list bucket %s (check the endpoint, and the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): %w", name, u.Host, redactedError{err})
	case !ok:
		b.Close()
		return nil, fmt.Errorf("open blob store %s: bucket %s not found at the endpoint: create it, or name an existing bucket in --blobs or STEWARD_BLOBS", name, u.Host)
	}
	return b, nil
}

// maxServerCopySize is the largest object that S3's CopyObject copies in
// one request (5 GiB on AWS). Tests lower it to reach the streaming path.
var maxServerCopySize int64 = 5 << 30

// moveObject moves an object in an object store: a server-side copy, then a
// delete of the source. A crash between the two leaves the content at both
// keys, and garbage collection removes the staging copy.
func (s *Store) moveObject(ctx context.Context, dst, src string) error {
	attrs, err := s.bucket.Attributes(ctx, src)
	if err != nil {
		return s.wrapMove(err, dst, src)
	}
	if attrs.Size > maxServerCopySize {
		// NOTE: objects over the CopyObject limit pass through this process,
		// costing their size in traffic twice, because gocloud.dev/blob has
		// no multipart server-side copy (UploadPartCopy).
		err = s.copyByStreaming(ctx, dst, src)
	} else if err = s.bucket.Copy(ctx, dst, src, nil); err != nil {
		err = s.wrapMove(err, dst, src)
	}
	if err != nil {
		return err
	}
	return s.Delete(ctx, src)
}

func (s *Store) wrapMove(err error, dst, src string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		err = ErrNotFound
	}
	return fmt.Errorf("move blob %s to %s in %s: %w", src, dst, s, redactedError{err})
}

// copyByStreaming copies src to dst by reading it and writing it again.
func (s *Store) copyByStreaming(ctx context.Context, dst, src string) error {
	r, err := s.Open(ctx, src)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := s.NewWriter(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return fmt.Errorf("copy blob %s to %s in %s: %w", src, dst, s, err)
	}
	return w.Close()
}
