// Package blobstore keeps encrypted recordings in an object store through
// gocloud.dev/blob: a local folder (file://) by default, or any
// S3-compatible service (s3://).
//
// Contract of a Store:
//   - A writer's content becomes visible at its key only when Close returns
//     nil; an aborted or failed write leaves nothing at the key.
//   - Content that Close or Move made visible is durable once Sync returns
//     nil (S3 is durable when the call returns; a folder needs syncfs).
//   - Delete of a missing key succeeds.
//   - Open of a missing key returns an error wrapping ErrNotFound.
//   - All methods are safe for concurrent use.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"
	"golang.org/x/sys/unix"
)

// ErrNotFound reports a missing object.
var ErrNotFound = errors.New("object not found")

// Store is an object store for recordings.
type Store struct {
	bucket *blob.Bucket
	url    string
	// dir is the root folder of a file:// store, empty otherwise.
	dir string
}

// Open opens the store at a gocloud.dev/blob URL: file:///abs/path, or
// s3://bucket?endpoint=http://127.0.0.1:7070&use_path_style=true&region=us-east-1
// with credentials from the standard AWS environment variables.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid blob store URL %s: %w", redact(rawURL), redactedError{err})
	}
	s := &Store{url: rawURL}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("invalid blob store URL %s: a folder URL needs an absolute path, such as file:///srv/steward/blobs", redact(rawURL))
		}
		s.dir = u.Path
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, fmt.Errorf("create blob folder %s: %w", s.dir, err)
		}
		// Temporary files go next to their final path so renames never cross
		// file systems; no sidecar metadata files are written.
		s.bucket, err = fileblob.OpenBucket(s.dir, &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			return nil, fmt.Errorf("open blob store %s: %w", redact(rawURL), err)
		}
	case "s3":
		if s.bucket, err = openS3(ctx, u, rawURL); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported blob store URL %s: use file:///path or s3://bucket?endpoint=...", redact(rawURL))
	}
	return s, nil
}

// redact drops query parameters, which may carry credentials, from a URL
// before it appears in a message.
func redact(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i]
	}
	return raw
}

// urlWithQuery matches a URL with its query string.
var urlWithQuery = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^\s"'?]*\?[^\s"']*`)

// redactedError hides the query strings of the URLs that a library quotes in
// its error messages, such as gocloud.dev quoting the whole bucket URL.
type redactedError struct{ err error }

func (e redactedError) Error() string {
	return urlWithQuery.ReplaceAllStringFunc(e.err.Error(), func(u string) string {
		// Keep punctuation that ends the sentence around the URL, as in
		// "open bucket s3://b?region=x: ...".
		end := strings.TrimRight(u, ":,;)")
		return redact(end) + u[len(end):]
	})
}

func (e redactedError) Unwrap() error { return e.err }

// String returns the store's URL without its query.
func (s *Store) String() string { return redact(s.url) }

// Folder returns the root folder of a file:// store, and "" for an object
// store. Objects are files under it, named by their keys.
func (s *Store) Folder() string { return s.dir }

// Writer writes one object.
type Writer struct {
	w      *blob.Writer
	cancel context.CancelFunc
	key    string
	s      *Store
	// direct writes a folder store's file with direct I/O; nil otherwise.
	direct *directFile
}

// NewWriter starts writing the object at key.
func (s *Store) NewWriter(ctx context.Context, key string) (*Writer, error) {
	wctx, cancel := context.WithCancel(ctx)
	opts := &blob.WriterOptions{ContentType: "application/octet-stream"}
	var file *os.File
	if s.dir != "" {
		opts.BeforeWrite = func(as func(any) bool) error {
			as(&file)
			return nil
		}
	}
	w, err := s.bucket.NewWriter(wctx, key, opts)
	if err != nil {
		cancel()
		return nil, s.wrap(err, "start writing", key)
	}
	return &Writer{w: w, cancel: cancel, key: key, s: s, direct: newDirectFile(file)}, nil
}

func (w *Writer) Write(p []byte) (int, error) {
	var n int
	var err error
	if w.direct != nil {
		n, err = w.direct.write(w.w, p)
	} else {
		n, err = w.w.Write(p)
	}
	if err != nil {
		return n, w.s.wrap(err, "write", w.key)
	}
	return n, nil
}

// Close finishes the write and makes the object visible.
func (w *Writer) Close() error {
	defer w.cancel()
	if w.direct != nil {
		if err := w.direct.finish(w.w); err != nil {
			w.cancel()
			_ = w.direct.wait()
			_ = w.w.Close()
			return w.s.wrap(err, "finish writing", w.key)
		}
	}
	if err := w.w.Close(); err != nil {
		return w.s.wrap(err, "finish writing", w.key)
	}
	return nil
}

// Abort drops the write; nothing becomes visible.
func (w *Writer) Abort() {
	w.cancel()
	if w.direct != nil {
		_ = w.direct.wait()
	}
	_ = w.w.Close()
}

// Open returns a reader of the object at key.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, s.wrap(err, "open", key)
	}
	return r, nil
}

// OpenRange returns a reader of length bytes of the object at key, starting
// at offset.
func (s *Store) OpenRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, s.wrap(err, "open", key)
	}
	return r, nil
}

// Exists reports whether an object is at key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return false, s.wrap(err, "check", key)
	}
	return ok, nil
}

// Delete removes the object at key. A missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return s.wrap(err, "delete", key)
	}
	return nil
}

// Move makes the content at src visible at dst and removes src. In a folder
// it is one rename; in S3 a server-side copy followed by a delete.
func (s *Store) Move(ctx context.Context, dst, src string) error {
	if s.dir != "" {
		dstPath := filepath.Join(s.dir, filepath.FromSlash(dst))
		if err := os.MkdirAll(filepath.Dir(dstPath), 0o700); err != nil {
			return fmt.Errorf("move blob %s to %s: %w", src, dst, err)
		}
		if err := os.Rename(filepath.Join(s.dir, filepath.FromSlash(src)), dstPath); err != nil {
			return fmt.Errorf("move blob %s to %s: %w", src, dst, err)
		}
		return nil
	}
	return s.moveObject(ctx, dst, src)
}

// Sync makes every completed write and move durable. On a folder it flushes
// the file system that holds it (syncfs); object stores are durable already.
func (s *Store) Sync(ctx context.Context) error {
	if s.dir == "" {
		return nil
	}
	f, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("sync blob folder %s: %w", s.dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync blob folder %s: %w", s.dir, err)
	}
	return nil
}

// Object is one listed object.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// List calls fn for every object whose key starts with prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.wrap(err, "list", prefix)
		}
		if obj.IsDir {
			continue
		}
		if err := fn(Object{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}); err != nil {
			return err
		}
	}
}

// Close releases the store.
func (s *Store) Close() error { return s.bucket.Close() }

func (s *Store) wrap(err error, op, key string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s blob %s in %s: %w", op, key, s, ErrNotFound)
	}
	return fmt.Errorf("%s blob %s in %s: %w", op, key, s, redactedError{err})
}
