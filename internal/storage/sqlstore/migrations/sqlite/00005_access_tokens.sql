-- +goose Up
-- Access tokens of the HTTP API and of participants' pages. Only the
-- SHA-256 of each secret is stored, hex encoded.
CREATE TABLE access_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    role        TEXT NOT NULL,
    participant TEXT NOT NULL DEFAULT '',
    licensee    TEXT NOT NULL DEFAULT '',
    org         TEXT NOT NULL DEFAULT '',
    issued_by   TEXT NOT NULL DEFAULT '',
    issued_at   TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT,
    used_at     TEXT,
    event_idx   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_issued ON access_tokens (issued_at, id);

-- +goose Down
DROP INDEX access_tokens_issued;
DROP TABLE access_tokens;
