-- +goose Up
-- Erasure removes a participant's direct identifiers and recordings; the
-- row stays, marked, so the log's events keep their projection.
ALTER TABLE participants ADD COLUMN erased_at TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE participants DROP COLUMN erased_at;
