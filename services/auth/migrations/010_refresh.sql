-- Refresh, circuit breaker and security events (services/auth/refresh*.py, risc.py).
ALTER TABLE grants
    ADD COLUMN last_used_at            timestamptz,  -- last token handed to sync (keeps a grant warm)
    ADD COLUMN last_attempt_at         timestamptz,  -- last call to Google's token endpoint
    ADD COLUMN verdict_pending_since   timestamptz,  -- dead per Google, held while the breaker is open
    ADD COLUMN verdict_pending_reason  text,
    ADD COLUMN expiring_announced_for  timestamptz,  -- refresh_token_expires_at already announced
    ADD COLUMN detected_by             text;         -- refresh | security_event, with a disconnect
CREATE INDEX grants_last_attempt ON grants (last_attempt_at);

-- Incidents shared by every user: our OAuth client broken (app_config) or the breaker open
-- (circuit_open). At most one open incident per kind; operators close circuit_open by hand.
CREATE TABLE incidents (
    incident_id text        PRIMARY KEY,
    kind        text        NOT NULL,
    error       text,
    detail      text,
    opened_at   timestamptz NOT NULL,
    closed_at   timestamptz
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (kind) WHERE closed_at IS NULL;

-- One row: serialises disconnect decisions while the breaker counts; reset_at starts a fresh window.
CREATE TABLE breaker (
    id       integer     PRIMARY KEY CHECK (id = 1),
    reset_at timestamptz
);
INSERT INTO breaker (id) VALUES (1);

-- Security Event Tokens already acted on (Google may deliver one twice).
CREATE TABLE security_events (
    jti         text        PRIMARY KEY,
    event_types text[]      NOT NULL,
    received_at timestamptz NOT NULL
);
