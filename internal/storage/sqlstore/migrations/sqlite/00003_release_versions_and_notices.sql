-- +goose Up
-- Releases of the same selection (purpose, modalities, licensee) form a
-- series; each has a semantic version and names the release it replaces.
ALTER TABLE releases ADD COLUMN licensee TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN series TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN version TEXT NOT NULL DEFAULT '1.0.0';
ALTER TABLE releases ADD COLUMN replaces TEXT NOT NULL DEFAULT '';
CREATE INDEX releases_series ON releases (series, built_at);
CREATE INDEX release_samples_sample ON release_samples (sample_id);

-- Revocation notices tell licensees which samples of a release lost their
-- consent; acknowledgements record that a licensee acted on one.
CREATE TABLE revocation_notices (
    id          TEXT PRIMARY KEY,
    release_id  TEXT NOT NULL REFERENCES releases (id),
    participant TEXT NOT NULL,
    reason      TEXT NOT NULL,
    action      TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    event_idx   INTEGER NOT NULL
);
CREATE INDEX revocation_notices_release ON revocation_notices (release_id, issued_at);

CREATE TABLE revoked_samples (
    notice_id  TEXT NOT NULL REFERENCES revocation_notices (id),
    release_id TEXT NOT NULL,
    sample_id  TEXT NOT NULL,
    PRIMARY KEY (notice_id, sample_id)
);
CREATE INDEX revoked_samples_release ON revoked_samples (release_id, sample_id);

CREATE TABLE notice_acknowledgements (
    notice_id       TEXT NOT NULL REFERENCES revocation_notices (id),
    licensee        TEXT NOT NULL,
    acknowledged_at TEXT NOT NULL,
    event_idx       INTEGER NOT NULL,
    PRIMARY KEY (notice_id, licensee)
);

-- +goose Down
DROP TABLE notice_acknowledgements;
DROP INDEX revoked_samples_release;
DROP TABLE revoked_samples;
DROP TABLE revocation_notices;
DROP INDEX release_samples_sample;
DROP INDEX releases_series;
ALTER TABLE releases DROP COLUMN replaces;
ALTER TABLE releases DROP COLUMN version;
ALTER TABLE releases DROP COLUMN series;
ALTER TABLE releases DROP COLUMN licensee;
