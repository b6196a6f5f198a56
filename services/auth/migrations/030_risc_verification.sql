-- The `state` of each verification event received (`calsync risc check` asks Google for one and
-- waits for it here, docs/operations.md).
ALTER TABLE security_events ADD COLUMN IF NOT EXISTS verification_state text;
CREATE INDEX IF NOT EXISTS security_events_verification_state
    ON security_events (verification_state) WHERE verification_state IS NOT NULL;
