-- +goose Up
-- The log: entries are the exact bytes that were hashed; tree_nodes holds the
-- hash of every perfect subtree (level 0 = leaf hashes); log_head is the
-- committed size, updated in the same transaction as the entries.
CREATE TABLE log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

CREATE TABLE log_entries (
    idx   INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);

CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size      INTEGER NOT NULL,
    root      BLOB NOT NULL,
    note      BLOB NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (size, root)
);

-- Projections of the log.
CREATE TABLE participants (
    pseudonym     TEXT PRIMARY KEY,
    namespace     TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    salt          BLOB NOT NULL,
    registered_at TEXT NOT NULL,
    event_idx     INTEGER NOT NULL,
    UNIQUE (namespace, source_id)
);
CREATE INDEX participants_source_id ON participants (source_id);

CREATE TABLE data_keys (
    participant TEXT PRIMARY KEY REFERENCES participants (pseudonym),
    wrapped     BLOB NOT NULL
);

CREATE TABLE samples (
    id            TEXT PRIMARY KEY,
    participant   TEXT NOT NULL REFERENCES participants (pseudonym),
    digest        TEXT NOT NULL UNIQUE,
    size          INTEGER NOT NULL,
    duration      REAL NOT NULL,
    modality      TEXT NOT NULL,
    provenance    TEXT NOT NULL,
    external_id   TEXT UNIQUE,
    source        TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    blob_offset   INTEGER NOT NULL,
    blob_length   INTEGER NOT NULL,
    registered_at TEXT NOT NULL,
    event_idx     INTEGER NOT NULL
);
CREATE INDEX samples_modality ON samples (modality, id);
CREATE INDEX samples_participant ON samples (participant, id);

CREATE TABLE consent_records (
    id          TEXT PRIMARY KEY,
    participant TEXT NOT NULL REFERENCES participants (pseudonym),
    record      TEXT NOT NULL,
    event_idx   INTEGER NOT NULL
);
CREATE INDEX consent_records_participant ON consent_records (participant, event_idx);

CREATE TABLE releases (
    id              TEXT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    modalities      TEXT NOT NULL,
    built_at        TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    sample_count    INTEGER NOT NULL,
    event_idx       INTEGER NOT NULL
);


CREATE TABLE release_samples (
    release_id TEXT NOT NULL REFERENCES releases (id),
    sample_id  TEXT NOT NULL REFERENCES samples (id),
    PRIMARY KEY (release_id, sample_id)
);

-- +goose Down
DROP TABLE release_samples;
DROP TABLE releases;
DROP TABLE consent_records;
DROP TABLE samples;
DROP TABLE data_keys;
DROP TABLE participants;
DROP TABLE checkpoints;
DROP TABLE tree_nodes;
DROP TABLE log_entries;
DROP TABLE log_head;
