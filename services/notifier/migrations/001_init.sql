-- The notifier's schema: whom to tell (contacts), what is wrong (episodes), what to send (jobs)
-- and what happened when we tried (delivery_log). See services/notifier/domain.py for episodes.

-- Contact details from the platform's user events; deleted users leave only a tombstone.
CREATE TABLE contacts (
    user_id    text        PRIMARY KEY,
    email      text        NOT NULL,
    name       text,
    locale     text        NOT NULL,
    changed_at timestamptz NOT NULL
);

CREATE TABLE forgotten_users (
    user_id    text        PRIMARY KEY,
    deleted_at timestamptz NOT NULL
);

-- A subject is one grant ('grant:<grant_id>') or one user's calendar choice ('calendar:<user_id>').
-- settled_at: the latest time it was known to be fine (older problem reports are stale);
-- hijack_reported: Google reported the account as hijacked, so its mailbox is never used.
CREATE TABLE subjects (
    subject         text        PRIMARY KEY,
    user_id         text        NOT NULL,
    settled_at      timestamptz,
    hijack_reported boolean     NOT NULL DEFAULT false
);
CREATE INDEX subjects_user ON subjects (user_id);

CREATE TABLE episodes (
    id                   uuid        PRIMARY KEY,
    user_id              text        NOT NULL,
    subject              text        NOT NULL,
    reason               text        NOT NULL,
    began_at             timestamptz NOT NULL,
    opened_at            timestamptz NOT NULL,
    google_email         text,
    alert_sent_at        timestamptz,
    reminders_sent       integer     NOT NULL DEFAULT 0,
    reminders_stopped_at timestamptz,
    ended_at             timestamptz,
    end_cause            text
);
-- Exactly one open episode per subject, whatever the redeliveries and however many instances run.
CREATE UNIQUE INDEX episodes_one_open ON episodes (subject) WHERE ended_at IS NULL;
CREATE INDEX episodes_user ON episodes (user_id);

-- Emails we intend to send. Consumers only insert rows; the delivery worker claims due rows with
-- FOR UPDATE SKIP LOCKED, sends, and records the outcome. dedupe_key makes each intent unique
-- ('episode:<id>:alert', 'episode:<id>:reminder:<n>', 'operator:<incident>', ...).
CREATE TABLE jobs (
    id          uuid        PRIMARY KEY,
    dedupe_key  text        NOT NULL UNIQUE,
    kind        text        NOT NULL,
    user_id     text,
    episode_id  uuid        REFERENCES episodes (id) ON DELETE CASCADE,
    reason      text,
    sequence    integer     NOT NULL DEFAULT 0,
    data        jsonb       NOT NULL DEFAULT '{}',
    state       text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    due_at      timestamptz NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz,
    last_error  text
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE state = 'pending';
CREATE INDEX jobs_user ON jobs (user_id);
CREATE INDEX jobs_episode ON jobs (episode_id);

-- Every delivery attempt, successful or not.
CREATE TABLE delivery_log (
    id           bigserial   PRIMARY KEY,
    job_id       uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt      integer     NOT NULL,
    at           timestamptz NOT NULL,
    outcome      text        NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    stage        text        NOT NULL,
    smtp_code    integer,
    detail       text,
    recipient    text,
    message_id   text
);
CREATE INDEX delivery_log_job ON delivery_log (job_id);
