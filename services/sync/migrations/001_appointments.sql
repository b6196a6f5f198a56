-- Appointments as the platform last described them: the durable queue of what must reach Google.
-- A row is kept while the user is disconnected and replayed after reconnection.
CREATE TABLE appointments (
    appointment_id text        PRIMARY KEY,
    owner_user_id  text        NOT NULL,
    account_id     text        NOT NULL,
    version        integer     NOT NULL,
    cancelled      boolean     NOT NULL DEFAULT false,
    payload        jsonb       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    synced_version integer
);
CREATE INDEX appointments_owner ON appointments (owner_user_id);
CREATE INDEX appointments_pending ON appointments (owner_user_id) WHERE synced_version IS DISTINCT FROM version;

-- What sync knows of each user's grant, from auth's events.
CREATE TABLE grant_states (
    user_id    text        PRIMARY KEY,
    state      text        NOT NULL,
    reason     text,
    changed_at timestamptz NOT NULL
);
