// Package registry is Steward's core: it registers participants, samples
// and consent as events in the Merkle log, writing each event in the same
// transaction as the tables that project it, and builds releases from them.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/steward-rehab/steward/internal/blobstore"
	"github.com/steward-rehab/steward/internal/consent"
	"github.com/steward-rehab/steward/internal/event"
	"github.com/steward-rehab/steward/internal/ident"
	"github.com/steward-rehab/steward/internal/keyring"
	"github.com/steward-rehab/steward/internal/storage"
	"github.com/steward-rehab/steward/internal/storage/sqlstore"
	"github.com/steward-rehab/steward/internal/tlog"
)

// Registry is an open registry.
type Registry struct {
	dir         string
	cfg         Config
	store       storage.Store
	blobs       *blobstore.Store
	keys        *keyring.Keyring
	signer      *tlog.Signer
	verifier    *tlog.Verifier
	verifierKey string
	now         func() time.Time
	log         *slog.Logger

	keyCache sync.Map // pseudonym -> *keyring.DataKey
}

// Options adjust how a registry is opened.
type Options struct {
	// Database and Blobs override the URLs in steward.json, as the --db and
	// --blobs flags do.
	Database string
	Blobs    string
	// Now is the clock; tests inject one. Nil means time.Now.
	Now func() time.Time
	// Logger receives operational logs. Nil discards them.
	Logger *slog.Logger
	// Migrate upgrades an older database schema instead of refusing it.
	Migrate bool
}

func (o Options) clock() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// InitOptions configure a new registry.
type InitOptions struct {
	Options
	// Origin names the log; empty picks steward.local/<random>.
	Origin string
	// Keeper is a gocloud.dev/secrets URL; empty makes a local key file.
	Keeper string
}

// Init creates a registry in dir and opens it.
func Init(ctx context.Context, dir string, opts InitOptions) (_ *Registry, err error) {
	if dir, err = absolute(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return nil, fmt.Errorf("a registry already exists in %s: use it, or choose another folder with STEWARD_DIR", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create registry folder: %w", err)
	}
	var created []string
	defer func() {
		if err != nil {
			for _, f := range created {
				_ = os.RemoveAll(f)
			}
		}
	}()

	// Keys first: the log key signs the first checkpoint.
	origin := opts.Origin
	if origin == "" {
		origin = "steward.local/" + ident.New("")
	}
	skey, vkey, err := tlog.GenerateKey(origin)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data string
		mode os.FileMode
	}{{LogKeyFile, skey + "\n", 0o600}, {LogPubFile, vkey + "\n", 0o644}} {
		path := filepath.Join(dir, f.name)
		if err := writeFileAtomic(path, []byte(f.data), f.mode); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
		created = append(created, path)
	}
	cfg := Config{Origin: origin, Database: "sqlite:" + DatabaseFile, Blobs: "file:" + BlobFolder, Keeper: opts.Keeper}
	if opts.Keeper == "" {
		keeperURL, err := keyring.NewLocalKeeperURL()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, KeeperKeyFile)
		if err := writeFileAtomic(path, []byte(keeperURL+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", KeeperKeyFile, err)
		}
		created = append(created, path)
	}
	if opts.Database != "" {
		cfg.Database = opts.Database
	}
	if opts.Blobs != "" {
		cfg.Blobs = opts.Blobs
	}
	if strings.HasPrefix(cfg.Database, "sqlite:") {
		created = append(created, filepath.Join(dir, DatabaseFile), filepath.Join(dir, DatabaseFile+"-wal"), filepath.Join(dir, DatabaseFile+"-shm"))
	}
	if cfg.Blobs == "file:"+BlobFolder {
		created = append(created, filepath.Join(dir, BlobFolder))
	}

	r, err := open(ctx, dir, cfg, Options{Now: opts.Now, Logger: opts.Logger, Migrate: true}, true)
	if err != nil {
		return nil, err
	}
	if err := r.createLog(ctx); err != nil {
		r.Close()
		return nil, err
	}
	if _, err := r.AddDocument(ctx, consent.DefaultDocument()); err != nil {
		r.Close()
		return nil, err
	}
	raw := fmt.Appendf(nil, "{\n  \"origin\": %q,\n  \"database\": %q,\n  \"blobs\": %q", cfg.Origin, cfg.Database, cfg.Blobs)
	if cfg.Keeper != "" {
		raw = fmt.Appendf(raw, ",\n  \"keeper\": %q", cfg.Keeper)
	}
	raw = append(raw, "\n}\n"...)
	if err := writeFileAtomic(filepath.Join(dir, ConfigFile), raw, 0o600); err != nil {
		r.Close()
		return nil, fmt.Errorf("write %s: %w", ConfigFile, err)
	}
	return r, nil
}

// createLog writes the first event, which names the log and its key, and
// signs the first checkpoint.
func (r *Registry) createLog(ctx context.Context) error {
	return r.update(ctx, func(ctx context.Context, w *writer) error {
		if w.start != 0 {
			return fmt.Errorf("the database already holds a log of %d entries: point --db at an empty database", w.start)
		}
		_, err := w.append(event.TypeLogCreated, event.LogCreated{Origin: r.signer.Origin(), VerifierKey: r.verifierKey})
		return err
	})
}

// Open opens the registry in dir.
func Open(ctx context.Context, dir string, opts Options) (*Registry, error) {
	dir, err := absolute(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	return open(ctx, dir, cfg, opts, false)
}

func open(ctx context.Context, dir string, cfg Config, opts Options, create bool) (_ *Registry, err error) {
	r := &Registry{dir: dir, cfg: cfg, now: opts.clock(), log: opts.logger()}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	skey, err := os.ReadFile(filepath.Join(dir, LogKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read log signing key: %w", err)
	}
	if r.signer, err = tlog.NewSigner(string(skey)); err != nil {
		return nil, err
	}
	vkey, err := os.ReadFile(filepath.Join(dir, LogPubFile))
	if err != nil {
		return nil, fmt.Errorf("read log public key: %w", err)
	}
	r.verifierKey = strings.TrimSpace(string(vkey))
	if r.verifier, err = tlog.NewVerifier(r.verifierKey); err != nil {
		return nil, err
	}
	if r.verifier.Origin() != r.signer.Origin() {
		return nil, fmt.Errorf("%s and %s belong to different logs (%s, %s)", LogKeyFile, LogPubFile, r.signer.Origin(), r.verifier.Origin())
	}

	if r.store, err = OpenStore(ctx, cfg.databaseURL(dir, opts.Database), create, opts.Migrate); err != nil {
		return nil, err
	}
	if r.blobs, err = blobstore.Open(ctx, cfg.blobURL(dir, opts.Blobs)); err != nil {
		return nil, err
	}
	keeper := cfg.Keeper
	if keeper == "" {
		raw, err := os.ReadFile(filepath.Join(dir, KeeperKeyFile))
		if err != nil {
			return nil, fmt.Errorf("read registry key: %w", err)
		}
		keeper = string(raw)
	}
	if r.keys, err = keyring.Open(ctx, keeper); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenStore opens the database at a sqlite:// path or a postgres:// (or
// postgresql://) URL. create lets SQLite make a new file; a PostgreSQL
// database must exist. migrate upgrades an older schema instead of
// rejecting it.
func OpenStore(ctx context.Context, dbURL string, create, migrate bool) (storage.Store, error) {
	var s *sqlstore.Store
	var err error
	switch {
	case strings.HasPrefix(dbURL, "sqlite://"):
		s, err = sqlstore.OpenSQLite(ctx, strings.TrimPrefix(dbURL, "sqlite://"), sqlstore.SQLiteOptions{Create: create, Migrate: migrate})
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		s, err = sqlstore.OpenPostgres(ctx, dbURL, sqlstore.PostgresOptions{Migrate: migrate})
	default:
		return nil, fmt.Errorf("unsupported database URL %q: use sqlite:///path/registry.db or postgres://user@host/database", sqlstore.RedactURL(dbURL))
	}
	if err != nil {
		// Return a nil interface, not one holding a nil *sqlstore.Store,
		// which Registry.Close would call.
		return nil, err
	}
	return s, nil
}

// Close releases the database, blob store and keeper.
func (r *Registry) Close() error {
	var errs []error
	if r.store != nil {
		errs = append(errs, r.store.Close())
	}
	if r.blobs != nil {
		errs = append(errs, r.blobs.Close())
	}
	if r.keys != nil {
		errs = append(errs, r.keys.Close())
	}
	return errors.Join(errs...)
}

// Dir returns the registry folder.
func (r *Registry) Dir() string { return r.dir }

// Store returns the database, for tools and tests.
func (r *Registry) Store() storage.Store { return r.store }

// Blobs returns the blob store, for tools and tests.
func (r *Registry) Blobs() *blobstore.Store { return r.blobs }

// VerifierKey returns the log's public key, the content of log.pub.
func (r *Registry) VerifierKey() string { return r.verifierKey }

// Origin returns the log origin.
func (r *Registry) Origin() string { return r.signer.Origin() }

// absolute returns the registry folder as an absolute path. Every path and
// file:// URL derived from it must be absolute: a relative one such as
// file://steward-data/blobs would name a host, not a folder.
func absolute(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("registry folder %s: %w", dir, err)
	}
	return abs, nil
}
