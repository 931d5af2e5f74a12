-- +goose Up
-- The FHIR Consent resources imported for each participant, so that
-- importing the same resource again changes nothing and a changed copy is
-- rejected. resource is Consent/<id>, or the digest of a resource without
-- an id; digest is the SHA-256 of its RFC 8785 form. A resource id may be
-- another system's identifier, so these rows stay out of the log and
-- erasure deletes them.
CREATE TABLE consent_imports (
    participant TEXT NOT NULL,
    resource    TEXT NOT NULL,
    digest      TEXT NOT NULL,
    event_idx   INTEGER NOT NULL,
    PRIMARY KEY (participant, resource)
);

-- +goose Down
DROP TABLE consent_imports;
