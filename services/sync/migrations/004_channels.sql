-- Watch channels (events.watch) on users' destination calendars: Google pushes a notification to
-- our webhook when the calendar changes. Only the SHA-256 of each channel's random token is kept.
-- state: creating (row written before events.watch; the first push may come before its answer),
-- live (a verified push arrived), stopping (to be stopped at Google: stop_reason says why),
-- stopped (pushes for it are ignored; at_google says whether Google confirmed the stop).
CREATE TABLE watch_channels (
    channel_id  text        PRIMARY KEY,
    user_id     text        NOT NULL,
    calendar_id text        NOT NULL,
    grant_id    text,
    token_hash  bytea       NOT NULL,
    resource_id text,
    expires_at  timestamptz,
    state       text        NOT NULL DEFAULT 'creating',
    stop_reason text,
    at_google   boolean,  -- once stopped: true when Google confirmed the stop (false: it lapses)
    created_at  timestamptz NOT NULL,
    live_at     timestamptz,
    stopped_at  timestamptz
);
CREATE INDEX watch_channels_open ON watch_channels (user_id, calendar_id) WHERE state <> 'stopped';

-- The grant sync last heard of for the user (channels remember the grant they were made with).
ALTER TABLE grant_states ADD COLUMN grant_id text;
