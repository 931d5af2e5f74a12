package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files in a registry folder ($STEWARD_DIR).
const (
	ConfigFile    = "steward.json"
	LogKeyFile    = "log.key" // signed-note signer key: secret
	LogPubFile    = "log.pub" // signed-note verifier key: give it to verifiers
	KeeperKeyFile = "keeper.key"
	DatabaseFile  = "registry.db"
	BlobFolder    = "blobs"
)

// Config is the content of steward.json.
type Config struct {
	// Origin names the log in its checkpoints.
	Origin string `json:"origin"`
	// Database is a sqlite:// path or a postgres:// URL. A relative sqlite
	// path is relative to the registry folder.
	Database string `json:"database"`
	// Blobs is a gocloud.dev/blob URL. file:blobs means the blobs folder
	// inside the registry folder.
	Blobs string `json:"blobs"`
	// Keeper is the gocloud.dev/secrets URL that wraps data keys. Empty
	// means the local key in keeper.key.
	Keeper string `json:"keeper,omitempty"`
}

func readConfig(dir string) (Config, error) {
	var c Config
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("no registry in %s: run `steward init` first, or set STEWARD_DIR to the registry folder", dir)
	}
	if err != nil {
		return c, fmt.Errorf("read registry config: %w", err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("invalid %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return c, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// databaseURL resolves the configured database: an explicit override (the
// --db flag or STEWARD_DB) wins over steward.json.
func (c Config) databaseURL(dir, override string) string {
	u := c.Database
	if override != "" {
		u = override
	}
	if rest, ok := strings.CutPrefix(u, "sqlite:"); ok {
		rest = strings.TrimPrefix(rest, "//")
		if !filepath.IsAbs(rest) {
			rest = filepath.Join(dir, rest)
		}
		return "sqlite://" + rest
	}
	return u
}

// blobURL resolves the configured blob store, with an override (--blobs or
// STEWARD_BLOBS) winning.
func (c Config) blobURL(dir, override string) string {
	u := c.Blobs
	if override != "" {
		u = override
	}
	if rest, ok := strings.CutPrefix(u, "file:"); ok && !strings.HasPrefix(rest, "//") {
		if !filepath.IsAbs(rest) {
			rest = filepath.Join(dir, rest)
		}
		return "file://" + rest
	}
	return u
}
