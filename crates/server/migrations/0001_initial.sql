-- Server mode's first schema: the mailboxes it syncs and who holds each one's lease, each
-- mailbox's sync state, its appointments (and a full round's staged pages), and a history
-- of rounds.

CREATE TABLE mailboxes (
    -- The Graph user id or user principal name, as configured.
    id               TEXT PRIMARY KEY,
    -- Off when the user left the configured list: no worker claims it.
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    -- The worker holding the lease, until when, and the fencing token of its claim: every
    -- claim increments it, and every write checks it in the same transaction.
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    fencing_token    BIGINT NOT NULL DEFAULT 0,
    added_at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX mailboxes_claimable ON mailboxes (lease_expires_at) WHERE enabled;

-- The client store's "sync state advances only with the data" rule: a page and the link to
-- the next one are committed together.
CREATE TABLE sync_state (
    mailbox_id     TEXT PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    delta_link     TEXT,
    next_link      TEXT,
    round          TEXT CHECK (round IN ('full', 'incremental', 'initial')),
    window_start   TIMESTAMPTZ,
    window_end     TIMESTAMPTZ,
    last_synced_at TIMESTAMPTZ
);

CREATE TABLE appointments (
    mailbox_id TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    -- The engine's Appointment, as JSON.
    data       JSONB NOT NULL,
    PRIMARY KEY (mailbox_id, id)
);

-- A full round's pages, until its last page replaces the mailbox's appointments with them.
CREATE TABLE staged_appointments (
    mailbox_id TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    data       JSONB NOT NULL,
    PRIMARY KEY (mailbox_id, id)
);

CREATE TABLE sync_history (
    id            BIGSERIAL PRIMARY KEY,
    mailbox_id    TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    finished_at   TIMESTAMPTZ NOT NULL,
    round         TEXT NOT NULL,
    pages         INTEGER NOT NULL,
    upserted      INTEGER NOT NULL,
    removed       INTEGER NOT NULL,
    worker        TEXT NOT NULL,
    fencing_token BIGINT NOT NULL
);
