-- The outbound path: each appointment row is also its own durable work item for the writer.
-- state: pending (to be written; why it waits is derived from the user's row and wait_reason),
-- synced (Google holds synced_version), failed (Google rejected it; a newer version retries),
-- skipped (ended too long ago to replay).
ALTER TABLE appointments
    ADD COLUMN state          text        NOT NULL DEFAULT 'pending',
    ADD COLUMN starts_at      timestamptz,
    ADD COLUMN ends_at        timestamptz,
    ADD COLUMN due_at         timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN attempts       integer     NOT NULL DEFAULT 0,
    ADD COLUMN wait_reason    text,
    ADD COLUMN lease_owner    text,
    ADD COLUMN lease_until    timestamptz,
    ADD COLUMN calendar_id    text,
    ADD COLUMN event_id       text,
    ADD COLUMN generation     integer     NOT NULL DEFAULT 0,
    ADD COLUMN etag           text,
    ADD COLUMN synced_at      timestamptz,
    ADD COLUMN last_error     text,
    ADD COLUMN note           text;
DROP INDEX appointments_pending;
CREATE INDEX appointments_due ON appointments (owner_user_id, due_at) WHERE state = 'pending';
CREATE INDEX appointments_leased ON appointments (owner_user_id) WHERE lease_until IS NOT NULL;

-- Per user: the destination calendar, a calendar problem blocking writes, the notifier's episode
-- (open from the first calendar.problem until a write succeeds again: then calendar.selected),
-- and what the health view shows.
ALTER TABLE grant_states
    ADD COLUMN calendar_id      text,
    ADD COLUMN calendar_problem text,
    ADD COLUMN problem_episode  boolean     NOT NULL DEFAULT false,
    ADD COLUMN problem_calendar text,
    ADD COLUMN problem_since    timestamptz,
    ADD COLUMN resolve_due_at   timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_success_at  timestamptz,
    ADD COLUMN last_failure_at  timestamptz,
    ADD COLUMN last_failure     text;
