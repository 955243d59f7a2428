-- Presence automation per mailbox: the engine's driver state (who holds each of the user's
-- resources, what the user had before) and its journal of writes, each write journaled
-- before it is sent. Every write checks the mailbox's lease in the same transaction.
CREATE TABLE presence_driver (
    mailbox_id    TEXT PRIMARY KEY REFERENCES mailboxes (id),
    journal_id    TEXT NOT NULL,
    next_seq      BIGINT NOT NULL,
    headline      TEXT,
    -- {resource: hold} as the engine serialises them.
    holds         JSONB NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    worker        TEXT NOT NULL,
    fencing_token BIGINT NOT NULL
);

CREATE TABLE presence_journal (
    mailbox_id    TEXT NOT NULL REFERENCES mailboxes (id),
    key           TEXT NOT NULL,
    resource      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    action        TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    last_error    TEXT,
    next_attempt  TIMESTAMPTZ,
    created       TIMESTAMPTZ NOT NULL,
    updated       TIMESTAMPTZ NOT NULL,
    worker        TEXT NOT NULL,
    fencing_token BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, key)
);

CREATE TABLE presence_history (
    id            BIGSERIAL PRIMARY KEY,
    mailbox_id    TEXT NOT NULL REFERENCES mailboxes (id),
    at            TIMESTAMPTZ NOT NULL,
    event         TEXT NOT NULL,
    profile       TEXT,
    detail        TEXT,
    worker        TEXT NOT NULL,
    fencing_token BIGINT NOT NULL
);
CREATE INDEX presence_history_mailbox ON presence_history (mailbox_id, id);
