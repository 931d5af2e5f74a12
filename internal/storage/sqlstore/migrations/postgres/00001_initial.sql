-- +goose Up
-- The same tables and columns as the SQLite schema. Text columns use the "C"
-- collation so that ORDER BY sorts by bytes, as SQLite does, whatever the
-- database's default collation is; times are fixed-width text for the same
-- reason.

-- The log: entries are the exact bytes that were hashed; tree_nodes holds the
-- hash of every perfect subtree (level 0 = leaf hashes); log_head is the
-- committed size, updated in the same transaction as the entries. Writers
-- lock the log_head row (SELECT ... FOR UPDATE) before they append.
CREATE TABLE log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

CREATE TABLE log_entries (
    idx   BIGINT PRIMARY KEY,
    entry BYTEA NOT NULL
);

CREATE TABLE tree_nodes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size      BIGINT NOT NULL,
    root      BYTEA NOT NULL,
    note      BYTEA NOT NULL,
    signed_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (size, root)
);

-- Projections of the log.
CREATE TABLE participants (
    pseudonym     TEXT COLLATE "C" PRIMARY KEY,
    namespace     TEXT COLLATE "C" NOT NULL,
    source_id     TEXT COLLATE "C" NOT NULL,
    attributes    TEXT NOT NULL,
    salt          BYTEA NOT NULL,
    registered_at TEXT COLLATE "C" NOT NULL,
    event_idx     BIGINT NOT NULL,
    UNIQUE (namespace, source_id)
);
CREATE INDEX participants_source_id ON participants (source_id);

CREATE TABLE data_keys (
    participant TEXT COLLATE "C" PRIMARY KEY REFERENCES participants (pseudonym),
    wrapped     BYTEA NOT NULL
);

CREATE TABLE samples (
    id            TEXT COLLATE "C" PRIMARY KEY,
    participant   TEXT COLLATE "C" NOT NULL REFERENCES participants (pseudonym),
    digest        TEXT COLLATE "C" NOT NULL UNIQUE,
    size          BIGINT NOT NULL,
    duration      DOUBLE PRECISION NOT NULL,
    modality      TEXT COLLATE "C" NOT NULL,
    provenance    TEXT NOT NULL,
    external_id   TEXT COLLATE "C" UNIQUE,
    source        TEXT NOT NULL,
    blob_key      TEXT COLLATE "C" NOT NULL,
    blob_offset   BIGINT NOT NULL,
    blob_length   BIGINT NOT NULL,
    registered_at TEXT COLLATE "C" NOT NULL,
    event_idx     BIGINT NOT NULL
);
CREATE INDEX samples_modality ON samples (modality, id);
CREATE INDEX samples_participant ON samples (participant, id);

CREATE TABLE consent_records (
    id          TEXT COLLATE "C" PRIMARY KEY,
    participant TEXT COLLATE "C" NOT NULL REFERENCES participants (pseudonym),
    record      TEXT NOT NULL,
    event_idx   BIGINT NOT NULL
);
CREATE INDEX consent_records_participant ON consent_records (participant, event_idx);

CREATE TABLE releases (
    id              TEXT COLLATE "C" PRIMARY KEY,
    purpose         TEXT COLLATE "C" NOT NULL,
    modalities      TEXT NOT NULL,
    built_at        TEXT COLLATE "C" NOT NULL,
    manifest_digest TEXT COLLATE "C" NOT NULL,
    sample_count    BIGINT NOT NULL,
    event_idx       BIGINT NOT NULL
);

CREATE TABLE release_samples (
    release_id TEXT COLLATE "C" NOT NULL REFERENCES releases (id),
    sample_id  TEXT COLLATE "C" NOT NULL REFERENCES samples (id),
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
