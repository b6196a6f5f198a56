-- Inbound sync: every event of a user's destination calendar as the last sync saw it, so that a
-- change is announced once, a full list can be diffed (a missing event was deleted) and an event
-- of ours can be told apart from the user's change. ends_at bounds that diff to the listed window;
-- a deleted event stays as a tombstone (status cancelled) so that it is announced once.
CREATE TABLE calendar_events_known (
    user_id        text        NOT NULL,
    calendar_id    text        NOT NULL,
    event_id       text        NOT NULL,
    appointment_id text,
    tag_version    integer,
    start_at       jsonb,
    end_at         jsonb,
    ends_at        timestamptz,
    status         text        NOT NULL,
    busy           boolean     NOT NULL DEFAULT true,
    etag           text,
    PRIMARY KEY (user_id, calendar_id, event_id)
);
CREATE INDEX appointments_event ON appointments (event_id) WHERE event_id IS NOT NULL;
