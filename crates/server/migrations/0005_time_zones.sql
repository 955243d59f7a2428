-- Users' own time zones (issue 20): an all-day appointment begins and ends at the user's
-- local midnight, and a day's plan is the user's day. Read from the user's mailbox settings
-- (`timeZone`, a Windows or IANA name, as Graph gives it) and read again after a day; NULL
-- with a read time when it could not be read (then the policy's or UTC is used).
ALTER TABLE mailboxes ADD COLUMN time_zone TEXT;
ALTER TABLE mailboxes ADD COLUMN time_zone_read_at TIMESTAMPTZ;
