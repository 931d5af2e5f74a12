-- +goose Up
-- Erasure removes a participant's direct identifiers and recordings; the
-- row stays, marked, so the log's events keep their projection.
ALTER TABLE participants ADD COLUMN erased_at TEXT COLLATE "C" NOT NULL DEFAULT '';
-- Pack rewrites after an erasure find the samples stored in one object.
CREATE INDEX samples_blob_key ON samples (blob_key);

-- +goose Down
DROP INDEX samples_blob_key;
ALTER TABLE participants DROP COLUMN erased_at;
