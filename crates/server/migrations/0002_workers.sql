-- Workers announce themselves at every lease pass: the live ones (seen within a lease time)
-- share the mailboxes evenly.
CREATE TABLE workers (
    id      TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
