-- +goose Up
-- The same tables as the SQLite schema, with text in the "C" collation so
-- that ORDER BY sorts by bytes.

-- The ledger. An account row holds the four sums of the transfers that
-- touch it. The statement that applies a transfer to an account also
-- checks that an account which may not go negative keeps enough, and the
-- CHECK below is a second guard.
CREATE TABLE ledger_accounts (
    id              TEXT COLLATE "C" NOT NULL,
    currency        TEXT COLLATE "C" NOT NULL,
    may_go_negative BIGINT NOT NULL,
    debits_pending  BIGINT NOT NULL DEFAULT 0,
    debits_posted   BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    credits_posted  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id, currency),
    CHECK (may_go_negative = 1 OR credits_posted - debits_posted - debits_pending >= 0)
);

-- Transfers are never updated. A post or a void is a row of its own that
-- names the pending transfer, and pending_id is unique, so a pending
-- transfer is resolved at most once; returns_id is unique for the same
-- reason. Every transfer is one ledger.transfer event.
CREATE TABLE ledger_transfers (
    id              TEXT COLLATE "C" PRIMARY KEY,
    idempotency_key TEXT COLLATE "C" NOT NULL UNIQUE,
    phase           TEXT COLLATE "C" NOT NULL,
    pending_id      TEXT COLLATE "C" UNIQUE,
    debit_account   TEXT COLLATE "C" NOT NULL,
    credit_account  TEXT COLLATE "C" NOT NULL,
    currency        TEXT COLLATE "C" NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount >= 0),
    trigger_name    TEXT COLLATE "C" NOT NULL,
    sample_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
    release_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
    revenue_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
    batch_id        TEXT COLLATE "C" NOT NULL DEFAULT '',
    returns_id      TEXT COLLATE "C" UNIQUE,
    policy          TEXT COLLATE "C" NOT NULL DEFAULT '',
    detail          TEXT COLLATE "C" NOT NULL DEFAULT '',
    reason          TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at      TEXT COLLATE "C" NOT NULL,
    event_idx       BIGINT NOT NULL UNIQUE
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account, event_idx);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account, event_idx);
CREATE INDEX ledger_transfers_sample ON ledger_transfers (sample_id) WHERE sample_id <> '';
CREATE INDEX ledger_transfers_release ON ledger_transfers (release_id) WHERE release_id <> '';
CREATE INDEX ledger_transfers_revenue ON ledger_transfers (revenue_id) WHERE revenue_id <> '';
CREATE INDEX ledger_transfers_batch ON ledger_transfers (batch_id) WHERE batch_id <> '';

-- Compensation policies, each version registered by an event.
CREATE TABLE compensation_policies (
    id        TEXT COLLATE "C" NOT NULL,
    version   BIGINT NOT NULL,
    policy    TEXT COLLATE "C" NOT NULL,
    digest    TEXT COLLATE "C" NOT NULL,
    added_at  TEXT COLLATE "C" NOT NULL,
    event_idx BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (id, version)
);

-- Data checks of samples; the row with the largest event index is the
-- sample's current outcome.
CREATE TABLE sample_checks (
    sample_id  TEXT COLLATE "C" NOT NULL REFERENCES samples (id),
    outcome    TEXT COLLATE "C" NOT NULL,
    reason     TEXT COLLATE "C" NOT NULL,
    checked_at TEXT COLLATE "C" NOT NULL,
    event_idx  BIGINT NOT NULL,
    PRIMARY KEY (sample_id, event_idx)
);

-- The policy whose terms a release's licence states.
CREATE TABLE release_policies (
    release_id TEXT COLLATE "C" PRIMARY KEY REFERENCES releases (id),
    policy     TEXT COLLATE "C" NOT NULL
);

CREATE TABLE ledger_revenue (
    id           TEXT COLLATE "C" PRIMARY KEY,
    release_id   TEXT COLLATE "C" NOT NULL REFERENCES releases (id),
    reference    TEXT COLLATE "C" NOT NULL,
    payer        TEXT COLLATE "C" NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT COLLATE "C" NOT NULL,
    policy       TEXT COLLATE "C" NOT NULL,
    royalty_pool BIGINT NOT NULL,
    recorded_at  TEXT COLLATE "C" NOT NULL,
    event_idx    BIGINT NOT NULL UNIQUE,
    UNIQUE (release_id, reference)
);

-- Participants' bank details: direct identifiers, never logged. The log
-- holds a salted digest of them.
CREATE TABLE payees (
    participant TEXT COLLATE "C" PRIMARY KEY REFERENCES participants (pseudonym),
    name        TEXT COLLATE "C" NOT NULL,
    iban        TEXT COLLATE "C" NOT NULL,
    bic         TEXT COLLATE "C" NOT NULL,
    salt        BYTEA NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    event_idx   BIGINT NOT NULL
);

CREATE TABLE payout_batches (
    id             TEXT COLLATE "C" PRIMARY KEY,
    currency       TEXT COLLATE "C" NOT NULL,
    created_at     TEXT COLLATE "C" NOT NULL,
    execution_date TEXT COLLATE "C" NOT NULL,
    debtor_name    TEXT COLLATE "C" NOT NULL,
    debtor_iban    TEXT COLLATE "C" NOT NULL,
    debtor_bic     TEXT COLLATE "C" NOT NULL,
    payments       BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    event_idx      BIGINT NOT NULL UNIQUE
);

CREATE TABLE payout_payments (
    end_to_end_id TEXT COLLATE "C" PRIMARY KEY,
    batch_id      TEXT COLLATE "C" NOT NULL REFERENCES payout_batches (id),
    participant   TEXT COLLATE "C" NOT NULL,
    amount        BIGINT NOT NULL,
    creditor_name TEXT COLLATE "C" NOT NULL,
    creditor_iban TEXT COLLATE "C" NOT NULL,
    creditor_bic  TEXT COLLATE "C" NOT NULL
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
