-- +goose Up
-- The ledger. An account row holds the four sums of the transfers that
-- touch it. The statement that applies a transfer to an account also
-- checks that an account which may not go negative keeps enough, and the
-- CHECK below is a second guard.
CREATE TABLE ledger_accounts (
    id              TEXT NOT NULL,
    currency        TEXT NOT NULL,
    may_go_negative INTEGER NOT NULL,
    debits_pending  INTEGER NOT NULL DEFAULT 0,
    debits_posted   INTEGER NOT NULL DEFAULT 0,
    credits_pending INTEGER NOT NULL DEFAULT 0,
    credits_posted  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (id, currency),
    CHECK (may_go_negative = 1 OR credits_posted - debits_posted - debits_pending >= 0)
);

-- Transfers are never updated. A post or a void is a row of its own that
-- names the pending transfer, and pending_id is unique, so a pending
-- transfer is resolved at most once; returns_id is unique for the same
-- reason. Every transfer is one ledger.transfer event.
CREATE TABLE ledger_transfers (
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    phase           TEXT NOT NULL,
    pending_id      TEXT UNIQUE,
    debit_account   TEXT NOT NULL,
    credit_account  TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount >= 0),
    trigger_name    TEXT NOT NULL,
    sample_id       TEXT NOT NULL DEFAULT '',
    release_id      TEXT NOT NULL DEFAULT '',
    revenue_id      TEXT NOT NULL DEFAULT '',
    batch_id        TEXT NOT NULL DEFAULT '',
    returns_id      TEXT UNIQUE,
    policy          TEXT NOT NULL DEFAULT '',
    detail          TEXT NOT NULL DEFAULT '',
    reason          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    event_idx       INTEGER NOT NULL UNIQUE
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account, event_idx);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account, event_idx);
CREATE INDEX ledger_transfers_sample ON ledger_transfers (sample_id) WHERE sample_id <> '';
CREATE INDEX ledger_transfers_release ON ledger_transfers (release_id) WHERE release_id <> '';
CREATE INDEX ledger_transfers_revenue ON ledger_transfers (revenue_id) WHERE revenue_id <> '';
CREATE INDEX ledger_transfers_batch ON ledger_transfers (batch_id) WHERE batch_id <> '';

-- Compensation policies, each version registered by an event.
CREATE TABLE compensation_policies (
    id        TEXT NOT NULL,
    version   INTEGER NOT NULL,
    policy    TEXT NOT NULL,
    digest    TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    event_idx INTEGER NOT NULL UNIQUE,
    PRIMARY KEY (id, version)
);

-- Data checks of samples; the row with the largest event index is the
-- sample's current outcome.
CREATE TABLE sample_checks (
    sample_id  TEXT NOT NULL REFERENCES samples (id),
    outcome    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    event_idx  INTEGER NOT NULL,
    PRIMARY KEY (sample_id, event_idx)
);

-- The policy whose terms a release's licence states.
CREATE TABLE release_policies (
    release_id TEXT PRIMARY KEY REFERENCES releases (id),
    policy     TEXT NOT NULL
);

CREATE TABLE ledger_revenue (
    id           TEXT PRIMARY KEY,
    release_id   TEXT NOT NULL REFERENCES releases (id),
    reference    TEXT NOT NULL,
    payer        TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    policy       TEXT NOT NULL,
    royalty_pool INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL,
    event_idx    INTEGER NOT NULL UNIQUE,
    UNIQUE (release_id, reference)
);

-- Participants' bank details: direct identifiers, never logged. The log
-- holds a salted digest of them.
CREATE TABLE payees (
    participant TEXT PRIMARY KEY REFERENCES participants (pseudonym),
    name        TEXT NOT NULL,
    iban        TEXT NOT NULL,
    bic         TEXT NOT NULL,
    salt        BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    event_idx   INTEGER NOT NULL
);

CREATE TABLE payout_batches (
    id             TEXT PRIMARY KEY,
    currency       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    execution_date TEXT NOT NULL,
    debtor_name    TEXT NOT NULL,
    debtor_iban    TEXT NOT NULL,
    debtor_bic     TEXT NOT NULL,
    payments       INTEGER NOT NULL,
    total          INTEGER NOT NULL,
    event_idx      INTEGER NOT NULL UNIQUE
);

CREATE TABLE payout_payments (
    end_to_end_id TEXT PRIMARY KEY,
    batch_id      TEXT NOT NULL REFERENCES payout_batches (id),
    participant   TEXT NOT NULL,
    amount        INTEGER NOT NULL,
    creditor_name TEXT NOT NULL,
    creditor_iban TEXT NOT NULL,
    creditor_bic  TEXT NOT NULL
);
CREATE INDEX payout_payments_batch ON payout_payments (batch_id, end_to_end_id);
CREATE INDEX payout_payments_participant ON payout_payments (participant);

-- +goose Down
DROP TABLE payout_payments;
DROP TABLE payout_batches;
DROP TABLE payees;
DROP TABLE ledger_revenue;
DROP TABLE release_policies;
DROP TABLE sample_checks;
DROP TABLE compensation_policies;
DROP TABLE ledger_transfers;
DROP TABLE ledger_accounts;
