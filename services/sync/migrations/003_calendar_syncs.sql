-- Inbound sync: one row per (user, calendar) sync reads from Google. A push notification, the
-- initial connection, the safety net or an operator asks for a sync by making the row due; while a
-- sync runs, further requests set follow_up so that at most one more run follows it.
-- state: idle (nothing to do until due_at), pending (due now), running (leased by lease_owner).
CREATE TABLE calendar_syncs (
    user_id        text        NOT NULL,
    calendar_id    text        NOT NULL,
    state          text        NOT NULL DEFAULT 'pending',
    follow_up      boolean     NOT NULL DEFAULT false,
    due_at         timestamptz NOT NULL,
    requested_by   text        NOT NULL,
    sync_token     text,
    lease_owner    text,
    lease_until    timestamptz,
    last_push_at   timestamptz,
    last_synced_at timestamptz,
    PRIMARY KEY (user_id, calendar_id)
);
CREATE INDEX calendar_syncs_due ON calendar_syncs (due_at) WHERE state <> 'running';
