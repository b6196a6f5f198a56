-- One Google grant per platform user, with its tokens encrypted (services/auth/crypto.py: every value
-- carries its key id; the AAD binds it to grant_id and column name, so values cannot be swapped).
CREATE TABLE grants (
    grant_id                 text        PRIMARY KEY,
    user_id                  text        NOT NULL UNIQUE,
    google_sub               text,
    google_email             text,
    state                    text        NOT NULL CHECK (state IN ('connected', 'disconnected', 'suspended')),
    reason                   text,
    state_since              timestamptz NOT NULL,
    hijacked                 boolean     NOT NULL DEFAULT false,
    scopes                   text[]      NOT NULL DEFAULT '{}',
    refresh_token_enc        bytea,
    access_token_enc         bytea,
    access_expires_at        timestamptz,
    refresh_token_expires_at timestamptz,  -- time-limited access only
    token_hash               text,         -- base64(SHA-512(SHA-512(refresh token))): RISC token subjects
    token_prefix_hash        text,         -- hex SHA-256 of the token's first 16 characters: RISC 'prefix'
    next_refresh_at          timestamptz,
    last_refreshed_at        timestamptz,
    refresh_failures         integer     NOT NULL DEFAULT 0,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);
CREATE INDEX grants_google_sub ON grants (google_sub);
CREATE INDEX grants_token_hash ON grants (token_hash);
CREATE INDEX grants_token_prefix_hash ON grants (token_prefix_hash);
CREATE INDEX grants_next_refresh ON grants (next_refresh_at) WHERE state = 'connected';

-- OAuth 'state' values between Connect and Google's callback: single use, short-lived, bound to the
-- user, to the browser (hash of a random HttpOnly cookie) and to the PKCE verifier (encrypted).
CREATE TABLE oauth_states (
    state_hash        text        PRIMARY KEY,  -- hex SHA-256 of the state value; the value is never stored
    user_id           text        NOT NULL,
    locale            text        NOT NULL,
    browser_hash      text        NOT NULL,
    code_verifier_enc bytea       NOT NULL,
    login_hint        text,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    used_at           timestamptz
);
CREATE INDEX oauth_states_user ON oauth_states (user_id);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- Refresh tokens still to be revoked at Google (after a delete, a user deletion, or a reconnect with
-- another Google account). The grant row may be gone: token_enc is the grant's refresh_token_enc
-- moved as it was, so it stays bound to '<grant_id>:refresh_token'.
CREATE TABLE pending_revocations (
    revocation_id   text        PRIMARY KEY,
    grant_id        text        NOT NULL,
    user_id         text,                  -- NULL after the user was deleted on the platform
    token_enc       bytea       NOT NULL,
    reason          text        NOT NULL,  -- 'deleted' | 'replaced' | 'user_deleted'
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX pending_revocations_due ON pending_revocations (next_attempt_at);
CREATE INDEX pending_revocations_user ON pending_revocations (user_id);
