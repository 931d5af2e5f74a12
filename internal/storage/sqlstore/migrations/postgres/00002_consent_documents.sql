-- +goose Up
-- Consent documents: versioned forms, each registered by a
-- consent.document.added event that carries its digest and decision terms.
CREATE TABLE consent_documents (
    version   TEXT COLLATE "C" PRIMARY KEY,
    document  TEXT NOT NULL,
    digest    TEXT NOT NULL,
    event_idx BIGINT NOT NULL
);

-- +goose Down
DROP TABLE consent_documents;
