-- Change notifications (issue 21): the Graph subscription on each mailbox's events, written
-- by the lease holder only (under its fencing token), read by whichever worker a
-- notification reaches, which checks the item's clientState against it before it wakes the
-- holder (LISTEN/NOTIFY on channel presently_mailbox).
CREATE TABLE subscriptions (
    mailbox_id    TEXT PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    -- Graph's subscription id.
    id            TEXT NOT NULL UNIQUE,
    -- The random secret Graph echoes in every notification of this subscription.
    client_state  TEXT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    worker        TEXT NOT NULL,
    fencing_token BIGINT NOT NULL
);
